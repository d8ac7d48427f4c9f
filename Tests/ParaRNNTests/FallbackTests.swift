import ParaRNN
import ParallelScan
import Testing

@Suite("Certification and fallback")
struct FallbackTests {
    @Test("an attempt that misses the tolerance falls back (ELK, then sequential) and says so")
    func iterationLimitFallsBack() throws {
        let cell = try RandomCells.paraGRU(Double.self, m: 2, d: 4, scale: 2.0, seed: 21)
        var rng = SeededGenerator(seed: 22)
        let steps = 3000
        let batch = 2
        let x: [Double] = uniform(steps * batch * 2, 1, &rng)
        var options = SolverOptions(
            method: .newton, maxIterations: 1, pool: WorkerPool(threadCount: 2, grainSize: 1, choice: .allThreads))
        // From ParaRNN's guess f(0, u): from chunk rollouts this cell is certified at its seams at once.
        options.newtonGuess = .zeroState
        let solution = try SequenceSolver(cell: cell, options: options).solve(inputs: x, steps: steps, batch: batch)
        #expect(solution.converged)
        #expect(solution.method == .sequential)
        #expect(solution.attempts.map(\.method) == [.newton, .elk, .sequential])
        #expect(solution.attempts[0].outcome.contains("iteration limit"))
        let reference = try SequenceSolver(cell: cell).rollout(inputs: x, steps: steps, batch: batch)
        #expect(solution.states == reference)

        // Without fallback the failure is reported, never hidden.
        options.fallback = false
        let unconverged = try SequenceSolver(cell: cell, options: options).solve(inputs: x, steps: steps, batch: batch)
        #expect(!unconverged.converged)
        #expect(unconverged.finalResidual > unconverged.tolerance)
    }

    @Test("overflowing Newton (expanding Jacobians, Float) is detected and the fallback chain recovers")
    func divergenceDetectedAndRecovered() throws {
        // Large candidate gains make |∂f/∂h| > 1 along the sequence: products of Jacobians in
        // the scan overflow Float; the overflowed step is bounded (never NaN), plain Newton stops
        // and ELK (or, failing that, the sequential rollout) takes over.
        let d = 4
        let m = 1
        let cell = try ParaGRU<Float>(
            inputSize: m, hiddenSize: d, recurrentGains: [-3, -3, -3, -3, 0, 0, 0, 0, 8, -8, 9, -9],
            inputWeights: [Float](repeating: 0.5, count: 3 * d * m), inputBias: [Float](repeating: 0, count: 3 * d))
        var rng = SeededGenerator(seed: 23)
        let steps = 20_000
        let x: [Float] = uniform(steps * m, 1, &rng)
        let solver = SequenceSolver(
            cell: cell,
            options: SolverOptions(method: .newton, pool: WorkerPool(threadCount: 2, grainSize: 1, choice: .allThreads))
        )
        let solution = try solver.solve(inputs: x, steps: steps, batch: 1)
        print("attempts:", solution.attempts.map { "\($0.method): \($0.outcome) after \($0.iterations)" })
        #expect(solution.converged)
        #expect(solution.attempts.count >= 2, "plain Newton was expected to fail on this cell")
        #expect(solution.attempts[0].method == .newton && !solution.attempts[0].converged)
        let reference = try solver.rollout(inputs: x, steps: steps, batch: 1)
        var worst: Float = 0
        for i in reference.indices { worst = max(worst, abs(reference[i] - solution.states[i])) }
        #expect(worst <= 1e-4)
    }

    @Test("ELK in the chain restarts from the chunk rollouts (the solver's guess), not from f(0, u)")
    func elkFallbackRestartsFromChunkRollouts() throws {
        // The expanding Float ParaGRU above, whose chunk rollouts miss at their seams: plain
        // Newton and ELK each stop at their one allowed iteration.
        let d = 4
        let cell = try ParaGRU<Float>(
            inputSize: 1, hiddenSize: d, recurrentGains: [-3, -3, -3, -3, 0, 0, 0, 0, 8, -8, 9, -9],
            inputWeights: [Float](repeating: 0.5, count: 3 * d), inputBias: [Float](repeating: 0, count: 3 * d))
        var rng = SeededGenerator(seed: 23)
        let steps = 4096
        let x: [Float] = uniform(steps, 1, &rng)
        var options = SolverOptions(
            method: .newton, maxIterations: 1, pool: WorkerPool(threadCount: 2, grainSize: 1, choice: .allThreads))
        let chain = try SequenceSolver(cell: cell, options: options).solve(inputs: x, steps: steps, batch: 1)
        try #require(chain.attempts.map(\.method) == [.newton, .elk, .sequential], "\(chain.attempts.map(\.outcome))")
        #expect(chain.attempts[1].outcome.contains("started from exact rollouts of 4 chunks after 256-step burn-ins"))
        #expect(chain.converged)
        // ELK's attempt is the one ELK makes from the chunk rollouts on its own …
        options.method = .elk
        options.fallback = false
        let alone = try SequenceSolver(cell: cell, options: options).solve(inputs: x, steps: steps, batch: 1)
        #expect(alone.attempts.count == 1 && alone.attempts[0].residualHistory == chain.attempts[1].residualHistory)
        // … and not the one from f(0, u).
        options.newtonGuess = .zeroState
        let fromZero = try SequenceSolver(cell: cell, options: options).solve(inputs: x, steps: steps, batch: 1)
        #expect(fromZero.attempts[0].residualHistory != chain.attempts[1].residualHistory)
    }
}
