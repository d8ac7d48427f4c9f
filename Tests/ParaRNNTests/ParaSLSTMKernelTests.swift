import Foundation
import ParaRNN
import ParallelScan
import Testing

/// ParaSLSTM's hand-written kernel (values, 4×4 Jacobian blocks, their diagonal, the in-place
/// rollout) against the dual-number linearisation of its generic `step`.
@Suite struct ParaSLSTMKernelTests {
    /// Random states with a positive normaliser n (as every state the recurrence reaches from
    /// n = 0 has after its first step) and stabilisers m on both sides of the input gate, so
    /// both branches of m′ = max(ĩ, log σ(f̃) + m) are taken.
    func states<S: CellMath>(_ count: Int, d: Int, batch: Int, _ rng: inout SeededGenerator) -> [S] {
        var s: [S] = uniform(count, 0.9, &rng)
        let lanes = batch * d
        for row in stride(from: 0, to: count, by: 4 * lanes) {
            for l in 0..<lanes {
                s[row + lanes + l] = 1 + s[row + lanes + l] / 2  // n in (0.55, 1.45)
                s[row + 2 * lanes + l] *= 3  // m in (−2.7, 2.7)
            }
        }
        return s
    }

    func compare<S: CellMath>(
        _: S.Type, request: JacobianRequest, batch: Int, tolerance: Double
    ) throws -> (inputBranch: Int, forgetBranch: Int) {
        let (d, steps) = (5, 6)
        let cell = try RandomCells.paraSLSTM(S.self, m: 2, d: d, scale: 1.2, seed: 31)
        var rng = SeededGenerator(seed: 32)
        let row = cell.stateRowSize(batch: batch)
        let s: [S] = states(steps * row, d: d, batch: batch, &rng)
        let previous: [S] = states(row, d: d, batch: batch, &rng)
        let u: [S] = uniform(steps * cell.projectionRowSize(batch: batch), 2, &rng)
        let jrow = cell.jacobianRowSize(batch: batch, request: request)
        var (fast, dual) = ([S](repeating: 0, count: steps * row), [S](repeating: 0, count: steps * row))
        var (fastJ, dualJ) = ([S](repeating: 0, count: steps * jrow), [S](repeating: 0, count: steps * jrow))
        s.withUnsafeBufferPointer { s in
            previous.withUnsafeBufferPointer { p in
                u.withUnsafeBufferPointer { u in
                    cell.linearize(
                        steps: 0..<steps, batch: batch, previous: p.baseAddress!, states: s.baseAddress!,
                        projections: u.baseAddress!, values: &fast, jacobians: &fastJ, request: request)
                    cell.genericLinearize(
                        steps: 0..<steps, batch: batch, previous: p.baseAddress!, states: s.baseAddress!,
                        projections: u.baseAddress!, values: &dual, jacobians: &dualJ, request: request)
                }
            }
        }
        for i in fast.indices {
            #expect(fast[i] == dual[i], "value \(i): \(fast[i]) vs \(dual[i])")
        }
        for i in fastJ.indices {
            let scale = max(1, abs(Double(dualJ[i])))
            #expect(
                abs(Double(fastJ[i] - dualJ[i])) <= tolerance * scale,
                "\(request) Jacobian entry \(i): \(fastJ[i]) vs \(dualJ[i])")
        }
        // Which branch of the stabiliser each lane took: m′ = ĩ (input) or log σ(f̃) + m.
        let lanes = batch * d
        var counts = (inputBranch: 0, forgetBranch: 0)
        for t in 0..<steps {
            let sp = t == 0 ? previous : Array(s[(t - 1) * row..<t * row])
            for l in 0..<lanes {
                let j = l % d
                let pi = cell.recurrentGains[j] * sp[3 * lanes + l] + u[t * 4 * lanes + l]
                if fast[t * row + 2 * lanes + l] == pi { counts.inputBranch += 1 } else { counts.forgetBranch += 1 }
            }
        }
        return counts
    }

    @Test(arguments: [JacobianRequest.structured, .diagonalOnly])
    func kernelMatchesDualNumbers(request: JacobianRequest) throws {
        for batch in [1, 3] {
            let branches = try compare(Double.self, request: request, batch: batch, tolerance: 1e-12)
            #expect(branches.inputBranch > 0 && branches.forgetBranch > 0, "both stabiliser branches: \(branches)")
            _ = try compare(Float.self, request: request, batch: batch, tolerance: 2e-5)
        }
    }

    @Test func rolloutMatchesTheGenericStep() throws {
        let (d, batch, steps) = (4, 2, 50)
        let cell = try RandomCells.paraSLSTM(Double.self, m: 2, d: d, scale: 0.8, seed: 33)
        var rng = SeededGenerator(seed: 34)
        let row = cell.stateRowSize(batch: batch)
        let u: [Double] = uniform(steps * cell.projectionRowSize(batch: batch), 2, &rng)
        let zero = [Double](repeating: 0, count: row)
        var rolled = [Double](repeating: 0, count: steps * row)
        u.withUnsafeBufferPointer { u in
            cell.rollout(
                steps: 0..<steps, batch: batch, previous: zero, projections: u.baseAddress!, states: &rolled)
        }
        // The generic step, one entry and one step at a time (plane-major rows [4][B][d]).
        let lanes = batch * d
        for b in 0..<batch {
            var state = [Double](repeating: 0, count: 4 * d)
            for t in 0..<steps {
                let projection = (0..<(4 * d)).map { i in u[t * 4 * lanes + (i / d) * lanes + b * d + i % d] }
                state = cell.step(state: state, projection: projection)
                for i in 0..<(4 * d) {
                    #expect(
                        rolled[t * row + (i / d) * lanes + b * d + i % d] == state[i], "t \(t) entry \(b) value \(i)")
                }
            }
        }
    }
}
