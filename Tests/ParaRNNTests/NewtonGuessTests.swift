import ParallelScan
import Testing

@testable import ParaRNN

/// Newton's chunk-rollout guess (``NewtonGuess/chunkRollouts``) against the sequential rollout:
/// certified at its seams when the cell forgets fast, corrected by Newton steps when it does not,
/// and the same answer as ParaRNN's f(0, u) guess either way.
@Suite("Newton chunk-rollout guess")
struct NewtonGuessTests {
    static let (steps, batch) = (4000, 2)

    /// Solves by Newton on three workers with the given guess; returns the solution and the
    /// largest |Δs| against the one-thread rollout.
    static func solve<C: RecurrentCell>(_ cell: C, guess: NewtonGuess, seed: UInt64) throws -> (
        Solution<C.Scalar>, Double
    )
    where C.Scalar: CellMath {
        var rng = SeededGenerator(seed: seed)
        let x: [C.Scalar] = uniform(steps * batch * cell.inputSize, 1, &rng)
        var options = SolverOptions(method: .newton, fallback: false)
        options.pool = WorkerPool(threadCount: 3, grainSize: 1, choice: .allThreads)
        options.newtonGuess = guess
        let solution = try SequenceSolver(cell: cell, options: options).solve(inputs: x, steps: steps, batch: batch)
        let reference = try SequenceSolver(cell: cell, options: SolverOptions(method: .sequential, pool: .serial))
            .solve(inputs: x, steps: steps, batch: batch).states
        let error = zip(solution.states, reference).map { Double(abs($0 - $1)) }.max() ?? .nan
        return (solution, error)
    }

    @Test("a fast-forgetting ParaGRU and ParaLSTM are certified at the seams, with no Newton step")
    func fastForgetting() throws {
        let gru = try RandomCells.paraGRU(Float.self, m: 2, d: 4, scale: 1, seed: 41)
        let lstm = try RandomCells.paraLSTM(Double.self, m: 2, d: 4, scale: 1, seed: 42)
        let (a, errorA) = try Self.solve(gru, guess: .chunkRollouts, seed: 43)
        let (b, errorB) = try Self.solve(lstm, guess: .chunkRollouts, seed: 44)
        for (solution, error, bound) in [(a.attempts, errorA, 1e-5), (b.attempts, errorB, 1e-10)] {
            #expect(solution.count == 1 && solution[0].converged, "\(solution)")
            #expect(solution[0].iterations == 0, "\(solution[0].outcome)")
            #expect(solution[0].outcome.contains("exact rollouts of 3 chunks after 256-step burn-ins"))
            #expect(error <= bound, "error \(error)")
        }
    }

    @Test(
        "a ParaGRU that forgets slowly misses at the seams; Newton steps from the guess converge",
        arguments: [false, true])
    func slowForgetting(double: Bool) throws {
        // z = σ(u^z) ≈ 0.001 (bias −7, no gain or input weight on z): h' ≈ 0.999·h + 0.001·ĥ, the
        // burn-in's zero start fades only as 0.999^256 ≈ 0.77 (3 chunks of 1,333 steps).
        let d = 4
        var rng = SeededGenerator(seed: 45)
        var gains: [Double] = uniform(3 * d, 1, &rng)
        var weights: [Double] = uniform(3 * d * 2, 1, &rng)
        var bias: [Double] = uniform(3 * d, 0.5, &rng)
        for j in 0..<d {
            (gains[j], bias[j]) = (0, -7)
            (weights[2 * j], weights[2 * j + 1]) = (0, 0)
        }
        func check<S: CellMath>(_: S.Type, bound: Double) throws {
            let cell = try ParaGRU<S>(
                inputSize: 2, hiddenSize: d, recurrentGains: gains.map { S($0) }, inputWeights: weights.map { S($0) },
                inputBias: bias.map { S($0) })
            let (fromChunks, error) = try Self.solve(cell, guess: .chunkRollouts, seed: 46)
            let attempt = fromChunks.attempts[0]
            #expect(attempt.converged && attempt.residualHistory[0] > 1e-3, "\(attempt)")
            #expect(attempt.iterations >= 1 && attempt.iterations <= 4, "\(attempt.residualHistory)")
            #expect(error <= bound, "error \(error)")
            let (fromZero, zeroError) = try Self.solve(cell, guess: .zeroState, seed: 46)
            #expect(fromZero.attempts[0].converged && !fromZero.attempts[0].outcome.contains("chunks"))
            #expect(zeroError <= bound, "error \(zeroError)")
        }
        // A per-step residual r moves the states by up to r / (1 − 0.999) = 1000 r here.
        if double { try check(Double.self, bound: 1e-7) } else { try check(Float.self, bound: 1e-2) }
    }

    @Test("the burn-in is a quarter of the chunk, at most 256 steps")
    func burnInLength() {
        #expect(NewtonGuess.burnIn(chunkLength: 333) == 83)
        #expect(NewtonGuess.burnIn(chunkLength: 15_625) == 256)
        #expect(NewtonGuess.burnIn(chunkLength: NewtonGuess.shortestChunk) == 16)
    }
}

extension NewtonGuessTests {
    @Test(
        "the shipped model's first layer (contracting on average, expanding in places): certified at the seams, the rollout's states"
    )
    func shippedLayer() throws {
        let elk = ELKTests()
        let cell = try elk.expandingCell(Float.self)
        let steps = 4000
        let x: [Float] = elk.expandingInput(steps)
        var options = SolverOptions(method: .newton, fallback: false)
        options.pool = WorkerPool(threadCount: 3, grainSize: 1, choice: .allThreads)
        let solution = try SequenceSolver(cell: cell, options: options).solve(inputs: x, steps: steps, batch: 1)
        let reference = try SequenceSolver(cell: cell).rollout(inputs: x, steps: steps, batch: 1)
        let error = zip(solution.states, reference).map { abs($0 - $1) }.max() ?? .nan
        #expect(solution.converged && solution.attempts.count == 1, "\(solution.attempts.map(\.outcome))")
        #expect(solution.iterations <= 1, "\(solution.residualHistory)")
        #expect(error <= 1e-4, "error \(error)")
    }
}

extension NewtonGuessTests {
    @Test(
        "DEER and quasi-Newton start from chunk rollouts too: a contracting dense GRU and LSTM are certified at the guess"
    )
    func denseCells() throws {
        let gru = try RandomCells.gru(Double.self, m: 2, d: 5, scale: 0.8, seed: 47)
        let lstm = try RandomCells.lstm(Float.self, m: 2, d: 3, scale: 0.8, seed: 48)
        for method in [SolverMethod.newton, .quasiNewton] {
            var rng = SeededGenerator(seed: 49)
            let x: [Double] = uniform(Self.steps * Self.batch * 2, 1, &rng)
            var options = SolverOptions(method: method, fallback: false)
            options.pool = WorkerPool(threadCount: 3, grainSize: 1, choice: .allThreads)
            let a = try SequenceSolver(cell: gru, options: options).solve(
                inputs: x, steps: Self.steps, batch: Self.batch)
            let b = try SequenceSolver(cell: lstm, options: options).solve(
                inputs: x.map { Float($0) }, steps: Self.steps, batch: Self.batch)
            let referenceA = try SequenceSolver(cell: gru).rollout(inputs: x, steps: Self.steps, batch: Self.batch)
            let referenceB = try SequenceSolver(cell: lstm).rollout(
                inputs: x.map { Float($0) }, steps: Self.steps, batch: Self.batch)
            let errorA = zip(a.states, referenceA).map { abs($0 - $1) }.max() ?? .nan
            let errorB = zip(b.states, referenceB).map { abs($0 - $1) }.max() ?? .nan
            for attempts in [a.attempts, b.attempts] {
                #expect(attempts.count == 1 && attempts[0].converged && attempts[0].iterations == 0, "\(attempts)")
                #expect(attempts[0].outcome.contains("3 chunks after 256-step burn-ins, seams certified"))
            }
            #expect(errorA <= 1e-10 && errorB <= 1e-5, "\(method): errors \(errorA), \(errorB)")
        }
    }
}
