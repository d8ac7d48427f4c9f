import Foundation
import ParaRNN
import ParallelScan
import Testing

/// ELK (Levenberg–Marquardt damped Newton as a Kalman filter) and finite iterates (issue 16).
@Suite("ELK and finite iterates")
struct ELKTests {
    static let pool = WorkerPool(threadCount: 2, grainSize: 1)

    /// Solves with `method` (no fallback) and returns the solution and its max abs error
    /// against the plain step-by-step rollout.
    func solve<C: GenericStepCell>(
        _ cell: C, steps: Int, batch: Int, method: SolverMethod, seed: UInt64, maxIterations: Int? = nil
    ) throws -> (Solution<C.Scalar>, Double) {
        var rng = SeededGenerator(seed: seed)
        let x: [C.Scalar] = uniform(steps * batch * cell.inputSize, 1, &rng)
        var options = SolverOptions(method: method, maxIterations: maxIterations, fallback: false, pool: Self.pool)
        options.fallback = false
        let solution = try SequenceSolver(cell: cell, options: options).solve(inputs: x, steps: steps, batch: batch)
        let reference = referenceRollout(cell, inputs: x, steps: steps, batch: batch)
        var worst = 0.0
        for b in 0..<batch {
            for t in 0..<steps {
                for i in 0..<cell.stateSize {
                    let got = Double(stateValue(cell, solution.states, t: t, b: b, i: i, batch: batch))
                    let want = Double(reference[b][t * cell.stateSize + i])
                    let diff = abs(got - want)
                    worst = diff <= worst ? worst : diff
                }
            }
        }
        return (solution, worst)
    }

    func expectELKMatches<C: GenericStepCell>(_ cell: C, bound: Double, seed: UInt64) throws {
        let (s, error) = try solve(cell, steps: 250, batch: 2, method: .elk, seed: seed)
        let ok = s.converged && s.method == .elk
        #expect(ok, "\(C.cellName) \(C.Scalar.self): \(s.attempts.map(\.outcome))")
        #expect(error <= bound, "\(C.cellName) \(C.Scalar.self): error \(error) > \(bound)")
        #expect(s.residualHistory.allSatisfy { $0.isFinite })
    }

    @Test("ELK == sequential rollout for every cell, Float and Double")
    func everyCell() throws {
        try expectELKMatches(
            try RandomCells.paraGRU(Double.self, m: 3, d: 4, scale: 1.5, seed: 1), bound: 1e-9, seed: 2)
        try expectELKMatches(try RandomCells.paraGRU(Float.self, m: 3, d: 4, scale: 1.5, seed: 1), bound: 1e-4, seed: 2)
        try expectELKMatches(
            try RandomCells.paraLSTM(Double.self, m: 3, d: 4, scale: 1.5, seed: 3), bound: 1e-9, seed: 4)
        try expectELKMatches(
            try RandomCells.paraLSTM(Float.self, m: 3, d: 4, scale: 1.5, seed: 3), bound: 1e-4, seed: 4)
        try expectELKMatches(try RandomCells.gru(Double.self, m: 3, d: 4, scale: 0.8, seed: 5), bound: 1e-8, seed: 6)
        try expectELKMatches(try RandomCells.gru(Float.self, m: 3, d: 4, scale: 0.8, seed: 5), bound: 1e-4, seed: 6)
        try expectELKMatches(try RandomCells.lstm(Double.self, m: 3, d: 3, scale: 0.8, seed: 7), bound: 1e-8, seed: 8)
        try expectELKMatches(try RandomCells.lstm(Float.self, m: 3, d: 3, scale: 0.8, seed: 7), bound: 1e-4, seed: 8)
        try expectELKMatches(try RandomCells.elman(Double.self, m: 2, d: 4, scale: 0.8, seed: 9), bound: 1e-8, seed: 10)
        try expectELKMatches(try RandomCells.elman(Float.self, m: 2, d: 4, scale: 0.8, seed: 9), bound: 1e-4, seed: 10)
    }

    /// The first layer of the shipped trained ParaGRU (`data/default/paragru.safetensors`,
    /// rounded to 3 decimals; m = 1, d = 8), driven by a synthetic signal x_t = sin(0.05t) +
    /// 0.5 sin(0.31t + 1) + noise: contracting on average (λ ≈ −0.13) but with |∂f/∂h| up to
    /// ≈ 1.5, so Newton's scans multiply growing factors over long spans and overflow.
    func expandingCell<S: CellMath>(_: S.Type) throws -> ParaGRU<S> {
        let a: [S] = [
            -1.004, 0.772, -1.361, 2.39, -2.476, 1.131, -2.282, 3.455, -0.015, 0.075, -0.199, -0.459, 1.091, -1.041,
            1.198, 1.557, 0.08, 0.55, 0.604, 1.064, 1.608, -0.06, 1.969, -1.591,
        ]
        let b: [S] = [
            -0.095, 1.159, -1.131, -0.644, 0.043, 2.795, -0.017, 0.192, -0.264, -1.838, 1.254, -0.471, 0.099, -1.819,
            -0.754, 0.195, 0.225, -1.153, -1.919, -1.651, 0.367, 0.644, -0.512, -0.445,
        ]
        let bias: [S] = [
            0.589, 0.611, 1.012, 0.845, -1.155, 0.628, -0.209, 1.039, -0.657, 0.007, -0.135, 0.367, 0.841, -0.59, 0.987,
            0.961, 0.208, -0.312, -0.692, 0.506, -0.093, -0.968, -0.106, -0.373,
        ]
        return try ParaGRU<S>(inputSize: 1, hiddenSize: 8, heads: 1, A: a, B: b, b: bias)
    }

    func expandingInput<S: BinaryFloatingPoint>(_ steps: Int) -> [S] {
        var rng = SeededGenerator(seed: 11)
        let noise: [Double] = uniform(steps, 0.5, &rng)
        return (0..<steps).map { t in
            let t = Double(t)
            return S(sin(0.05 * t) + 0.5 * sin(0.31 * t + 1) + noise[Int(t)])
        }
    }

    func solveExpanding<S: CellMath>(_: S.Type, method: SolverMethod, fallback: Bool = false, maxIterations: Int? = nil)
        throws -> (Solution<S>, Double)
    {
        let cell = try expandingCell(S.self)
        let steps = 4000
        let x: [S] = expandingInput(steps)
        var options = SolverOptions(method: method, maxIterations: maxIterations, fallback: fallback, pool: Self.pool)
        // Newton from ParaRNN's guess f(0, u), whose steps overflow here (from chunk rollouts
        // this cell is certified at its seams: NewtonGuessTests).
        options.newtonGuess = .zeroState
        let s = try SequenceSolver(cell: cell, options: options).solve(inputs: x, steps: steps, batch: 1)
        let reference = try SequenceSolver(cell: cell).rollout(inputs: x, steps: steps, batch: 1)
        var worst = 0.0
        for (p, q) in zip(s.states, reference) {
            let e = abs(Double(p) - Double(q))
            worst = e <= worst ? worst : e
        }
        return (s, worst)
    }

    @Test(
        "expanding cell: Newton's steps overflow (bounded, never NaN) and do not converge; ELK converges to the rollout"
    )
    func expandingCellNewtonOverflowsELKConverges() throws {
        let (newton, _) = try solveExpanding(Float.self, method: .newton)
        let newtonConverged = newton.converged
        #expect(!newtonConverged)
        #expect(newton.attempts[0].outcome.contains("overflow"), "\(newton.attempts[0].outcome)")
        #expect(newton.residualHistory.allSatisfy { $0.isFinite }, "\(newton.residualHistory)")
        #expect(newton.states.allSatisfy { $0.isFinite })
        let (elk, error) = try solveExpanding(Float.self, method: .elk)
        let elkConverged = elk.converged
        #expect(elkConverged, "\(elk.attempts.map(\.outcome)) \(elk.residualHistory)")
        #expect(error <= 1e-4)
        let (elkDouble, errorDouble) = try solveExpanding(Double.self, method: .elk)
        let elkDoubleConverged = elkDouble.converged
        #expect(elkDoubleConverged, "\(elkDouble.attempts.map(\.outcome)) \(elkDouble.residualHistory)")
        #expect(errorDouble <= 1e-8)
    }

    @Test("no NaN or Inf iterate under |J| up to 10, for every method (ParaGRU, ParaLSTM, Elman; Float)")
    func finiteUnderExpansion() throws {
        for seed in UInt64(1)...2 {
            let cells: [(String, Solution<Float>)] = try [SolverMethod.newton, .quasiNewton, .damped, .elk].flatMap {
                method in
                [
                    (
                        "paragru \(method)",
                        try solve(
                            try RandomCells.paraGRU(Float.self, m: 2, d: 4, scale: 10, seed: seed), steps: 500,
                            batch: 1, method: method, seed: seed, maxIterations: 15
                        ).0
                    ),
                    (
                        "paralstm \(method)",
                        try solve(
                            try RandomCells.paraLSTM(Float.self, m: 2, d: 4, scale: 10, seed: seed), steps: 500,
                            batch: 1, method: method, seed: seed, maxIterations: 15
                        ).0
                    ),
                    (
                        "elman \(method)",
                        try solve(
                            try RandomCells.elman(Float.self, m: 2, d: 4, scale: 10, seed: seed), steps: 200, batch: 1,
                            method: method, seed: seed, maxIterations: 15
                        ).0
                    ),
                ]
            }
            for (name, s) in cells {
                #expect(s.residualHistory.allSatisfy { $0.isFinite }, "\(name) seed \(seed): \(s.residualHistory)")
                #expect(s.states.allSatisfy { $0.isFinite }, "\(name) seed \(seed)")
            }
        }
    }

    @Test("fallback chain: a failed Newton attempt falls back to ELK, then to sequential")
    func fallbackChain() throws {
        let (s, error) = try solveExpanding(Float.self, method: .newton, fallback: true)
        let converged = s.converged
        let methods = s.attempts.map(\.method)
        #expect(converged)
        #expect(methods == [.newton, .elk], "\(s.attempts.map(\.outcome))")
        #expect(error <= 1e-4)
    }

    @Test("contractivity: λ and max‖J‖ of a diagonal linear-like cell match their formulas")
    func contractivityEstimate() throws {
        // ParaGRU with z ≈ 0 (bias −30): h' = h, J = 1 exactly: λ = 0, max‖J‖ = 1.
        let identity = try ParaGRU<Double>(
            inputSize: 1, hiddenSize: 1, recurrentGains: [0, 0, 0], inputWeights: [0, 0, 0], inputBias: [-40, 0, 0])
        // Projections include the bias: u_z = −40 at every step.
        let u = (0..<(3 * 100)).map { $0 % 3 == 0 ? -40.0 : 0 }
        let solver = SequenceSolver(cell: identity)
        let c = u.withUnsafeBufferPointer { solver.contractivity(projections: $0.baseAddress!, steps: 100, batch: 1) }
        #expect(abs(c.lyapunov) < 1e-12 && abs(c.maxNorm - 1) < 1e-12, "\(c)")
        // The trained layer along its exact trajectory: contracting on average, expanding in places.
        let expanding = try expandingCell(Double.self)
        let x: [Double] = expandingInput(300)
        var projections = [Double](repeating: 0, count: 300 * 24)
        x.withUnsafeBufferPointer { xs in
            projections.withUnsafeMutableBufferPointer { p in
                expanding.project(
                    inputs: xs.baseAddress!, steps: 300, batch: 1, projections: p.baseAddress!, pool: Self.pool)
            }
        }
        let e = projections.withUnsafeBufferPointer {
            SequenceSolver(cell: expanding).contractivity(projections: $0.baseAddress!, steps: 300, batch: 1)
        }
        #expect(e.lyapunov < 0 && e.maxNorm > 1 && e.window == 300, "\(e)")
    }

    @Test("automatic: contracting → Newton; expanding on average → sequential; its reason names the estimate")
    func automaticUsesContractivity() throws {
        // A 16-core machine (the README's device figures), so the cost model allows a parallel
        // solve whatever machine runs the test; the contractivity estimate then decides.
        let sixteenCores = MachineProfile(
            cores: 16, bandwidth: [1: 12.1e9, 2: 22.8e9, 4: 26.5e9, 8: 47.3e9, 16: 80.7e9])
        let pool = WorkerPool(threadCount: 16, grainSize: 1, profile: sixteenCores)
        var rng = SeededGenerator(seed: 5)
        let steps = 30_000
        let x: [Double] = uniform(steps * 2, 1, &rng)
        let contracting = try RandomCells.paraGRU(Double.self, m: 2, d: 4, scale: 0.5, seed: 6)
        let a = try SequenceSolver(cell: contracting, options: SolverOptions(method: .automatic, pool: pool))
            .solve(inputs: x, steps: steps, batch: 1)
        let aConverged = a.converged
        #expect(aConverged)
        #expect(a.contractivity != nil && a.decision.contains("λ"), "\(a.decision)")
        #expect(a.attempts.first?.method != .sequential || a.decision.contains("not contracting"), "\(a.decision)")
        // An identity-like recurrence (h' = h + small input term) has λ = 0: not contracting.
        let identity = try ParaGRU<Double>(
            inputSize: 2, hiddenSize: 2, recurrentGains: [Double](repeating: 0, count: 6),
            inputWeights: [Double](repeating: 0, count: 12), inputBias: [-40, -40, 0, 0, 0, 0])
        let b = try SequenceSolver(cell: identity, options: SolverOptions(method: .automatic, pool: pool))
            .solve(inputs: x, steps: steps, batch: 1)
        #expect(b.method == .sequential && b.decision.contains("not contracting"), "\(b.decision)")
    }
}
