import ParaRNN
import ParallelScan
import Testing

/// The finite-state guard (issue 20): finite weights and inputs can overflow to Inf/NaN
/// states; such a solution must never be reported as converged, whatever the method.
@Suite("Finite-state guard")
struct FiniteStateTests {
    static let pool = WorkerPool(threadCount: 2, grainSize: 1, choice: .allThreads)

    /// Checks the guard's invariant on any solution: `nonFiniteState` is set exactly when a
    /// state is not finite, points at the first one, and then `converged` is false.
    func checkInvariant<S: CellMath>(_ solution: Solution<S>, sourceLocation: SourceLocation = #_sourceLocation) {
        let first = solution.states.firstIndex { !$0.isFinite }
        let row = solution.states.count / solution.steps
        if let first {
            #expect(!solution.converged, sourceLocation: sourceLocation)
            #expect(solution.finalResidual.isNaN, sourceLocation: sourceLocation)
            #expect(solution.nonFiniteState?.step == first / row, sourceLocation: sourceLocation)
            #expect(solution.nonFiniteState?.offset == first % row, sourceLocation: sourceLocation)
            #expect(solution.attempts.contains { $0.outcome.contains("non-finite") }, sourceLocation: sourceLocation)
        } else {
            #expect(solution.nonFiniteState == nil, sourceLocation: sourceLocation)
        }
    }

    @Test("ParaGRU with B = ±3e38 and inputs 1e30 (Float): every method reports the overflow")
    func paraGRUOverflow() throws {
        let d = 2
        let m = 2
        var w = [Float](repeating: 0, count: 3 * d * m)
        for r in 0..<(3 * d) {
            w[r * m] = 3e38
            w[r * m + 1] = -3e38
        }
        let cell = try ParaGRU<Float>(
            inputSize: m, hiddenSize: d, recurrentGains: [Float](repeating: 0.5, count: 3 * d),
            inputWeights: w, inputBias: [Float](repeating: 0, count: 3 * d))
        let steps = 50
        let x = [Float](repeating: 1e30, count: steps * m)
        for method in [SolverMethod.sequential, .newton, .quasiNewton, .damped, .elk, .automatic] {
            for fallback in [true, false] {
                var options = SolverOptions(method: method, fallback: fallback, pool: Self.pool)
                options.maxIterations = 10
                let solution = try SequenceSolver(cell: cell, options: options).solve(inputs: x, steps: steps, batch: 1)
                #expect(!solution.converged, "\(method) fallback \(fallback)")
                // A parallel attempt without fallback leaves its bounded iterate (finite, issue
                // 16) with a NaN residual: the projections themselves overflow.
                if method == .sequential || method == .automatic || fallback {
                    #expect(solution.states.contains { !$0.isFinite }, "the case must overflow")
                } else {
                    #expect(solution.residualHistory.last.map { !$0.isFinite } ?? false)
                }
                checkInvariant(solution)
            }
        }
        // The sequential attempt says why it is not exact any more.
        let sequential = try SequenceSolver(cell: cell, options: SolverOptions(method: .sequential, pool: Self.pool))
            .solve(inputs: x, steps: steps, batch: 1)
        #expect(sequential.attempts.count == 1 && !sequential.attempts[0].converged)
        #expect(sequential.nonFiniteState?.step == 0)
        #expect(sequential.attempts[0].outcome.contains("non-finite state"))
    }

    @Test("GRU, LSTM and Elman with weights 3e38: never converged with non-finite states")
    func denseCellsOverflow() throws {
        let d = 2
        let m = 2
        let steps = 40
        func big(_ n: Int) -> [Float] { [Float](repeating: 3e38, count: n) }
        let x: [Float] = (0..<(steps * m)).map { Float($0 % 7) - 3 }
        let gru = try GRU<Float>(
            inputSize: m, hiddenSize: d, weightIH: big(3 * d * m), weightHH: big(3 * d * d), biasIH: big(3 * d),
            biasHH: big(3 * d))
        let lstm = try LSTM<Float>(
            inputSize: m, hiddenSize: d, weightIH: big(4 * d * m), weightHH: big(4 * d * d), biasIH: big(4 * d),
            biasHH: big(4 * d))
        let elman = try ElmanRNN<Float>(
            inputSize: m, hiddenSize: d, weightIH: big(d * m), weightHH: big(d * d), biasIH: big(d), biasHH: big(d))
        for method in [SolverMethod.sequential, .newton] {
            let options = SolverOptions(method: method, pool: Self.pool)
            let solutions = [
                try SequenceSolver(cell: gru, options: options).solve(inputs: x, steps: steps, batch: 1).states,
                try SequenceSolver(cell: lstm, options: options).solve(inputs: x, steps: steps, batch: 1).states,
                try SequenceSolver(cell: elman, options: options).solve(inputs: x, steps: steps, batch: 1).states,
            ]
            checkInvariant(try SequenceSolver(cell: gru, options: options).solve(inputs: x, steps: steps, batch: 1))
            checkInvariant(try SequenceSolver(cell: lstm, options: options).solve(inputs: x, steps: steps, batch: 1))
            checkInvariant(try SequenceSolver(cell: elman, options: options).solve(inputs: x, steps: steps, batch: 1))
            #expect(solutions.allSatisfy { $0.contains { !$0.isFinite } }, "each case must overflow")
        }
    }

    @Test("segmented solve: the overflow in a later segment is located and marked on its attempt")
    func segmentedOverflow() throws {
        let d = 1
        let m = 2
        let steps = 100
        let cell = try ParaGRU<Float>(
            inputSize: m, hiddenSize: d, recurrentGains: [0.5, 0.5, 0.5],
            inputWeights: [3e38, -3e38, 3e38, -3e38, 3e38, -3e38], inputBias: [0, 0, 0])
        // Tiny inputs keep u finite for t < 70; 1e30 gives u = Inf − Inf = NaN from t = 70 on.
        let x: [Float] = (0..<(steps * m)).map { $0 / m < 70 ? 1e-38 : 1e30 }
        let options = SolverOptions(method: .newton, segmentLength: 25, pool: Self.pool)
        let solution = try SequenceSolver(cell: cell, options: options).solve(inputs: x, steps: steps, batch: 1)
        checkInvariant(solution)
        #expect(!solution.converged)
        #expect(solution.nonFiniteState?.step == 70)
        #expect(solution.segments == 4)
        #expect(solution.attempts[0].converged && solution.attempts[0].method == .newton)
        #expect(
            solution.attempts.contains { !$0.converged && $0.outcome.contains("non-finite state (NaN) at step 70") })
    }

    /// A ParaGRU (d = 1, m = 2) whose projections are 0 while both inputs are equal and tiny,
    /// and NaN (Inf − Inf) from step `from` on, where the inputs are 1e30.
    func nanFrom(_ from: Int, steps: Int) throws -> (ParaGRU<Float>, [Float]) {
        let cell = try ParaGRU<Float>(
            inputSize: 2, hiddenSize: 1, recurrentGains: [0.5, 0.5, 0.5],
            inputWeights: [3e38, -3e38, 3e38, -3e38, 3e38, -3e38], inputBias: [0, 0, 0])
        return (cell, (0..<(steps * 2)).map { $0 / 2 < from ? 1e-38 : 1e30 })
    }

    @Test("Newton certified at its chunk rollouts with a NaN inside the last chunk: the passes' scan reports it")
    func nanInsideCertifiedChunkRollouts() throws {
        // 2 workers, 2 chunks of 1024 steps: the one seam (step 1024) is before the NaN, so the
        // chunk rollouts certify, and only the finite-state check can tell.
        let (cell, x) = try nanFrom(1500, steps: 2048)
        for fallback in [true, false] {
            let options = SolverOptions(method: .newton, fallback: fallback, pool: Self.pool)
            let solution = try SequenceSolver(cell: cell, options: options).solve(inputs: x, steps: 2048, batch: 1)
            checkInvariant(solution)
            #expect(solution.nonFiniteState?.step == 1500)
            #expect(solution.attempts.count == 1 && solution.attempts[0].outcome.contains("chunks"))
        }
        // Finite up to the end: certified, nothing marked.
        let (clean, y) = try nanFrom(4096, steps: 2048)
        let certified = try SequenceSolver(cell: clean, options: SolverOptions(method: .newton, pool: Self.pool))
            .solve(inputs: y, steps: 2048, batch: 1)
        #expect(certified.converged && certified.iterations == 0 && certified.nonFiniteState == nil)
        checkInvariant(certified)
    }

    @Test("the streamed rollout's block-by-block scan finds the first NaN in any block")
    func nanInLaterRolloutBlock() throws {
        // d = 1: 3 projections per step, blocks of 21 845 steps (256 KiB).
        for from in [0, 21_844, 21_845, 25_000, 29_999] {
            let (cell, x) = try nanFrom(from, steps: 30_000)
            let solution = try SequenceSolver(cell: cell, options: SolverOptions(method: .sequential, pool: Self.pool))
                .solve(inputs: x, steps: 30_000, batch: 1)
            checkInvariant(solution)
            #expect(solution.nonFiniteState?.step == from, "NaN from \(from)")
        }
    }

    @Test("finite solutions are unaffected")
    func finiteSolutions() throws {
        let cell = try RandomCells.paraGRU(Float.self, m: 2, d: 4, scale: 0.8, seed: 5)
        var rng = SeededGenerator(seed: 6)
        let x: [Float] = uniform(300 * 2, 1, &rng)
        for method in [SolverMethod.sequential, .newton] {
            let solution = try SequenceSolver(cell: cell, options: SolverOptions(method: method, pool: Self.pool))
                .solve(inputs: x, steps: 300, batch: 1)
            #expect(solution.converged)
            #expect(solution.nonFiniteState == nil)
        }
    }

    @Test("the vectorised scan finds the first NaN or Inf at any position")
    func firstNonFiniteScan() {
        for count in [0, 1, 7, 8, 9, 4095, 4096, 4097, 10_000] {
            let clean = (0..<count).map { Float($0) * 1e30 }
            #expect(clean.withUnsafeBufferPointer { firstNonFinite($0) } == nil)
            for position in Set([0, count / 2, count - 1, min(4096, count - 1)]) where position >= 0 && count > 0 {
                for bad in [Float.nan, .infinity, -.infinity] {
                    var values = clean
                    values[position] = bad
                    if position + 1 < count { values[count - 1] = .nan }
                    #expect(values.withUnsafeBufferPointer { firstNonFinite($0) } == position)
                    let doubles = values.map(Double.init)
                    #expect(doubles.withUnsafeBufferPointer { firstNonFinite($0) } == position)
                }
            }
        }
    }

    @Test("the scan split over workers finds the same first index as one thread")
    func pooledFirstNonFinite() {
        let pool = WorkerPool(threadCount: 3, grainSize: 1, choice: .allThreads)
        let count = 262_144 * 3 + 17  // three chunks
        var values = [Float](repeating: 1, count: count)
        #expect(values.withUnsafeBufferPointer { firstNonFinite($0, pool: pool) } == nil)
        // Bad values in the second and third chunks: the second's wins; then one in the first.
        for (position, later) in [(262_144 + 5, count - 1), (3, 262_144 * 2 + 9), (count - 1, count - 1)] {
            values = [Float](repeating: 1, count: count)
            values[position] = .nan
            values[later] = .infinity
            #expect(values.withUnsafeBufferPointer { firstNonFinite($0, pool: pool) } == min(position, later))
        }
    }
}
