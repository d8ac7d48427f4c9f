import Foundation
import ParaRNN
import ParallelScan
import Testing

extension RandomCells {
    static func paraSLSTM<S: CellMath>(_: S.Type, m: Int, d: Int, scale: Double, seed: UInt64) throws -> ParaSLSTM<S> {
        var rng = SeededGenerator(seed: seed)
        var bias: [S] = uniform(4 * d, 0.5, &rng)
        for j in 0..<d { bias[d + j] += 2 }  // forget gates mostly open
        return try ParaSLSTM<S>(
            inputSize: m, hiddenSize: d, recurrentGains: uniform(4 * d, scale, &rng),
            inputWeights: uniform(4 * d * m, 1.5, &rng), inputBias: bias)
    }
}

/// The diagonal sLSTM step in Double, written from the equations (plane-major state c, n, m, h).
func referenceSLSTM(_ cell: ParaSLSTM<Double>, x: [Double], steps: Int, batch: Int) -> [[Double]] {
    let d = cell.hiddenSize
    let m = cell.inputSize
    let R = cell.recurrentGains
    return (0..<batch).map { b in
        var c = [Double](repeating: 0, count: d)
        var n = c
        var mm = c
        var h = c
        var out: [Double] = []
        for t in 0..<steps {
            var u = cell.inputBias
            for g in 0..<(4 * d) {
                for i in 0..<m { u[g] += cell.inputWeights[g * m + i] * x[(t * batch + b) * m + i] }
            }
            for j in 0..<d {
                let pi = R[j] * h[j] + u[j]
                let pf = R[d + j] * h[j] + u[d + j]
                let pz = R[2 * d + j] * h[j] + u[2 * d + j]
                let po = R[3 * d + j] * h[j] + u[3 * d + j]
                let logF = -log(1 + exp(-pf))
                let mNext = max(pi, logF + mm[j])
                let ig = exp(pi - mNext)
                let fg = exp(logF + mm[j] - mNext)
                c[j] = fg * c[j] + ig * tanh(pz)
                n[j] = fg * n[j] + ig
                mm[j] = mNext
                h[j] = 1 / (1 + exp(-po)) * c[j] / n[j]
            }
            out += c + n + mm + h
        }
        return out
    }
}

@Suite("ParaSLSTM (diagonal sLSTM)")
struct SLSTMTests {
    @Test func rolloutMatchesTheEquations() throws {
        let cell = try RandomCells.paraSLSTM(Double.self, m: 2, d: 5, scale: 1, seed: 3)
        var rng = SeededGenerator(seed: 4)
        let (steps, batch) = (50, 3)
        let x: [Double] = uniform(steps * batch * 2, 1, &rng)
        let s = try SequenceSolver(cell: cell, options: SolverOptions(method: .sequential)).solve(
            inputs: x, steps: steps, batch: batch
        ).states
        let ref = referenceSLSTM(cell, x: x, steps: steps, batch: batch)
        var worst = 0.0
        for b in 0..<batch {
            for t in 0..<steps {
                for i in 0..<cell.stateSize {
                    let plane = i / 5
                    let j = i % 5
                    let got = s[t * batch * 20 + (plane * batch + b) * 5 + j]
                    worst = max(worst, abs(got - ref[b][t * 20 + i]))
                }
            }
        }
        #expect(worst < 1e-12)
    }

    /// Plain Newton (no fallback) converges and is certified on moderate shapes; the generic
    /// dual-number Jacobians keep this test small in debug builds.
    @Test("Newton == rollout, certified, Float and Double", arguments: [0.1, 0.5])
    func newtonMatchesRollout(scale: Double) throws {
        let tests = NewtonSolverTests()
        let d = try RandomCells.paraSLSTM(Double.self, m: 3, d: 4, scale: scale, seed: 5)
        let sd = try tests.compare(d, steps: 300, batch: 2, method: .newton, threads: 3, seed: 6, bound: 1e-9)
        #expect(sd.finalResidual <= sd.tolerance && sd.iterations <= 30)
        let f = try RandomCells.paraSLSTM(Float.self, m: 3, d: 4, scale: scale, seed: 5)
        let sf = try tests.compare(f, steps: 300, batch: 2, method: .newton, threads: 2, seed: 6, bound: 1e-3)
        #expect(sf.iterations <= 30)
    }

    @Test func trainingHooks() throws {
        var rng = SystemRandomNumberGenerator()
        let cell = try ParaSLSTM<Double>.initialized(inputSize: 3, hiddenSize: 4, using: &rng)
        let rebuilt = try cell.with(parameterVector: cell.parameterVector)
        #expect(rebuilt.parameterVector == cell.parameterVector)
        #expect(throws: CellError.self) { try cell.with(parameterVector: [1, 2]) }
        #expect(throws: CellError.self) {
            try ParaSLSTM<Double>(inputSize: 1, hiddenSize: 2, recurrentGains: [1], inputWeights: [], inputBias: [])
        }
    }
}

extension GradientTests {
    @Test func paraSLSTM() throws {
        let (m, d) = (2, 3)
        var rng = SeededGenerator(seed: 17)
        var p: [Double] = uniform(4 * d + 4 * d * m + 4 * d, 1, &rng)
        for j in 0..<d { p[4 * d + 4 * d * m + d + j] += 1.5 }
        let make = { (p: [Double]) throws -> ParaSLSTM<Double> in
            try ParaSLSTM(
                inputSize: m, hiddenSize: d, recurrentGains: Array(p[0..<(4 * d)]),
                inputWeights: Array(p[(4 * d)..<(4 * d + 4 * d * m)]), inputBias: Array(p[(4 * d + 4 * d * m)...]))
        }
        try check(make(p), parameters: p, make: make, seed: 18)
    }
}
