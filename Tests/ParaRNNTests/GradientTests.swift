import ParaRNN
import ParallelScan
import Testing

/// Gradient checks in Double: the adjoint-scan gradients of L = Σ_t ⟨w_t, s_t⟩ against central
/// finite differences of L computed by sequential rollouts. Step h = 1e-6: truncation O(h²) and
/// rounding O(ε/h) ≈ 1e-10 relative, so a relative error ≤ 1e-5 leaves a wide margin while any
/// wrong derivative term (O(1) relative) fails.
@Suite("Gradients through the solver vs finite differences")
struct GradientTests {
    struct Problem {
        var steps = 12, batch = 2
    }

    /// Checks every parameter group of `cell` (rebuilt by `make` from a flat parameter vector).
    func check<C: DifferentiableCell>(
        _ cell: C, parameters: [Double], make: ([Double]) throws -> C, seed: UInt64
    ) throws where C.Scalar == Double {
        // B = 5: the serial BPTT runs a group of four sequences (shared weight loads) and one
        // alone; three workers split 2 + 2 + 1.
        let steps = 12
        let batch = 5
        let row = cell.stateRowSize(batch: batch)
        var rng = SeededGenerator(seed: seed)
        let x: [Double] = uniform(steps * batch * cell.inputSize, 1, &rng)
        let weights: [Double] = uniform(steps * row, 1, &rng)
        let h0: [Double] = uniform(row, 0.5, &rng)
        func loss(_ c: C, _ x: [Double], _ h0: [Double]) throws -> Double {
            let s = try SequenceSolver(cell: c, options: SolverOptions(method: .sequential)).solve(
                inputs: x, steps: steps, batch: batch, initialState: h0
            ).states
            return zip(s, weights).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let solver = SequenceSolver(
            cell: cell,
            options: SolverOptions(
                method: .newton, tolerance: 1e-13, pool: WorkerPool(threadCount: 3, grainSize: 1, choice: .allThreads)))
        let solution = try solver.solve(inputs: x, steps: steps, batch: batch, initialState: h0)
        #expect(solution.converged)
        let grads = try solver.gradients(
            states: solution.states, inputs: x, steps: steps, batch: batch, initialState: h0, stateGradients: weights)
        // BPTT through the sequential rollout gives the same numbers.
        let sequentialStates = try solver.rollout(inputs: x, steps: steps, batch: batch, initialState: h0)
        let bptt = try solver.gradients(
            states: sequentialStates, inputs: x, steps: steps, batch: batch, initialState: h0, stateGradients: weights,
            adjoint: .sequential)
        let h = 1e-6
        func compare(_ analytic: Double, _ numeric: Double, _ what: String) {
            let scale = max(1e-3, abs(numeric))
            #expect(
                abs(analytic - numeric) / scale <= 1e-5,
                "\(C.cellName) \(what): analytic \(analytic) numeric \(numeric)")
        }
        // Flat parameter vector = recurrent parameters (layout order), then W, then bias.
        var analytic: [Double] = []
        for (name, _) in cell.recurrentParameterLayout { analytic += grads.recurrent[name]! }
        analytic += grads.inputWeights + grads.inputBias
        var analyticBPTT: [Double] = []
        for (name, _) in cell.recurrentParameterLayout { analyticBPTT += bptt.recurrent[name]! }
        analyticBPTT += bptt.inputWeights + bptt.inputBias
        #expect(analytic.count == parameters.count)
        for i in analytic.indices {
            #expect(
                abs(analytic[i] - analyticBPTT[i]) <= 1e-9 * max(1, abs(analytic[i])), "parallel vs BPTT parameter \(i)"
            )
        }
        // Every parameter (small models keep this cheap).
        for i in parameters.indices {
            var plus = parameters
            var minus = parameters
            plus[i] += h
            minus[i] -= h
            let numeric = (try loss(make(plus), x, h0) - loss(make(minus), x, h0)) / (2 * h)
            compare(analytic[i], numeric, "parameter \(i)")
        }
        for i in stride(from: 0, to: x.count, by: 3) {
            var plus = x
            var minus = x
            plus[i] += h
            minus[i] -= h
            compare(grads.inputs[i], (try loss(cell, plus, h0) - loss(cell, minus, h0)) / (2 * h), "input \(i)")
        }
        for i in h0.indices {
            var plus = h0
            var minus = h0
            plus[i] += h
            minus[i] -= h
            compare(
                grads.initialState[i], (try loss(cell, x, plus) - loss(cell, x, minus)) / (2 * h), "initial state \(i)")
        }
    }

    /// d = 11: one octet and a partial quad of the vectorised VJP.
    @Test(arguments: [3, 11]) func paraGRU(d: Int) throws {
        let m = 2
        var rng = SeededGenerator(seed: 1)
        let p: [Double] = uniform(3 * d + 3 * d * m + 3 * d, 1.2, &rng)
        let make = { (p: [Double]) throws -> ParaGRU<Double> in
            try ParaGRU(
                inputSize: m, hiddenSize: d, recurrentGains: Array(p[0..<(3 * d)]),
                inputWeights: Array(p[(3 * d)..<(3 * d + 3 * d * m)]), inputBias: Array(p[(3 * d + 3 * d * m)...]))
        }
        try check(try make(p), parameters: p, make: make, seed: 2)
    }

    @Test func paraLSTM() throws {
        let (m, d) = (2, 3)
        var rng = SeededGenerator(seed: 3)
        let p: [Double] = uniform(3 * d + 2 * d + 3 * d * m + 3 * d, 1.2, &rng)
        let make = { (p: [Double]) throws -> ParaLSTM<Double> in
            try ParaLSTM(
                inputSize: m, hiddenSize: d, recurrentGains: Array(p[0..<(3 * d)]),
                peepholes: Array(p[(3 * d)..<(5 * d)]), inputWeights: Array(p[(5 * d)..<(5 * d + 3 * d * m)]),
                inputBias: Array(p[(5 * d + 3 * d * m)...]))
        }
        try check(try make(p), parameters: p, make: make, seed: 4)
    }

    @Test func gru() throws {
        let (m, d) = (2, 3)
        var rng = SeededGenerator(seed: 5)
        let p: [Double] = uniform(9 * d + 3 * d + 3 * d * m + 3 * d, 0.8, &rng)
        let make = { (p: [Double]) throws -> GRU<Double> in
            try GRU(
                inputSize: m, hiddenSize: d, weightIH: Array(p[(12 * d)..<(12 * d + 3 * d * m)]),
                weightHH: Array(p[0..<(9 * d)]), biasIH: Array(p[(12 * d + 3 * d * m)...]),
                biasHH: Array(p[(9 * d)..<(12 * d)]))
        }
        try check(try make(p), parameters: p, make: make, seed: 6)
    }

    @Test func lstm() throws {
        let (m, d) = (2, 2)
        let (whh, bhh, wih) = (4 * d * d, 4 * d, 4 * d * m)
        var rng = SeededGenerator(seed: 7)
        let p: [Double] = uniform(whh + bhh + wih + 4 * d, 0.8, &rng)
        let make = { (p: [Double]) throws -> LSTM<Double> in
            try LSTM(
                inputSize: m, hiddenSize: d, weightIH: Array(p[(whh + bhh)..<(whh + bhh + wih)]),
                weightHH: Array(p[0..<whh]), biasIH: Array(p[(whh + bhh + wih)...]), biasHH: Array(p[whh..<(whh + bhh)])
            )
        }
        try check(try make(p), parameters: p, make: make, seed: 8)
    }

    @Test func elman() throws {
        let (m, d) = (2, 3)
        var rng = SeededGenerator(seed: 9)
        let p: [Double] = uniform(d * d + d + d * m + d, 0.8, &rng)
        let make = { (p: [Double]) throws -> ElmanRNN<Double> in
            try ElmanRNN(
                inputSize: m, hiddenSize: d, weightIH: Array(p[(d * d + d)..<(d * d + d + d * m)]),
                weightHH: Array(p[0..<(d * d)]), biasIH: Array(p[(d * d + d + d * m)...]),
                biasHH: Array(p[(d * d)..<(d * d + d)]))
        }
        try check(try make(p), parameters: p, make: make, seed: 10)
    }

    @Test func reluElman() throws {
        let (m, d) = (2, 3)
        var rng = SeededGenerator(seed: 11)
        let p: [Double] = uniform(d * d + d + d * m + d, 0.8, &rng)
        let make = { (p: [Double]) throws -> ElmanRNN<Double> in
            try ElmanRNN(
                inputSize: m, hiddenSize: d, weightIH: Array(p[(d * d + d)..<(d * d + d + d * m)]),
                weightHH: Array(p[0..<(d * d)]), biasIH: Array(p[(d * d + d + d * m)...]),
                biasHH: Array(p[(d * d)..<(d * d + d)]), activation: .relu)
        }
        try check(try make(p), parameters: p, make: make, seed: 12)
    }
}
