import Foundation
import ParaRNN
import ParallelScan

/// Runs a ``GridConfig`` case by case.
///
/// Per case: build the cell from ``WeightFactory`` (in the case's precision), draw the inputs,
/// solve once with `method: .sequential` (the reference, timed), once with the case's method and
/// `fallback = false` (timed; a non-converging attempt stays visible with its outcome), compare
/// the states, and ask `.automatic` what it would have chosen (`chooseMethod`).
public struct HarnessRunner: Sendable {
    public var config: GridConfig
    public var pool: WorkerPool

    public init(config: GridConfig, pool: WorkerPool = .shared) {
        self.config = config
        self.pool = pool
    }

    /// Runs every case; `progress(done, total, key)` is called after each one.
    public func run(progress: ((Int, Int, CaseKey) -> Void)? = nil) throws(HarnessError)
        -> HarnessReport
    {
        try config.validate()
        let cases = config.cases
        let start = ContinuousClock.now
        var results: [CaseResult] = []
        results.reserveCapacity(cases.count)
        for (index, key) in cases.enumerated() {
            results.append(run(key))
            progress?(index + 1, cases.count, key)
        }
        return HarnessReport(
            config: config, machine: .current(threads: pool.threadCount), cases: results,
            totalSeconds: seconds(ContinuousClock.now - start))
    }

    /// Runs one case.
    public func run(_ key: CaseKey) -> CaseResult {
        switch key.precision {
        case .float: return run(key, Float.self)
        case .double: return run(key, Double.self)
        }
    }

    func run<S: CellMath>(_ key: CaseKey, _: S.Type) -> CaseResult {
        let factory = WeightFactory(
            cell: key.cell, hiddenSize: key.hiddenSize, inputSize: config.inputSize,
            scale: key.scale, seed: key.seed)
        let p = factory.parameters()
        let m = config.inputSize, d = key.hiddenSize
        func cast(_ x: [Double]) -> [S] { x.map { S($0) } }
        let inputs = cast(
            WeightFactory.inputs(steps: key.steps, batch: key.batch, inputSize: m, seed: key.seed))
        do {
            switch key.cell {
            case .paragru:
                let cell = try ParaGRU<S>(
                    inputSize: m, hiddenSize: d, recurrentGains: cast(p.recurrent),
                    inputWeights: cast(p.inputWeights), inputBias: cast(p.inputBias))
                return measure(key, cell: cell, inputs: inputs)
            case .paralstm:
                let cell = try ParaLSTM<S>(
                    inputSize: m, hiddenSize: d, recurrentGains: cast(p.recurrent),
                    peepholes: cast(p.peepholes), inputWeights: cast(p.inputWeights),
                    inputBias: cast(p.inputBias))
                return measure(key, cell: cell, inputs: inputs)
            case .gru:
                let cell = try GRU<S>(
                    inputSize: m, hiddenSize: d, weightIH: cast(p.inputWeights),
                    weightHH: cast(p.recurrent), biasIH: cast(p.inputBias),
                    biasHH: cast(p.recurrentBias))
                return measure(key, cell: cell, inputs: inputs)
            case .lstm:
                let cell = try LSTM<S>(
                    inputSize: m, hiddenSize: d, weightIH: cast(p.inputWeights),
                    weightHH: cast(p.recurrent), biasIH: cast(p.inputBias),
                    biasHH: cast(p.recurrentBias))
                return measure(key, cell: cell, inputs: inputs)
            case .elman:
                let cell = try ElmanRNN<S>(
                    inputSize: m, hiddenSize: d, weightIH: cast(p.inputWeights),
                    weightHH: cast(p.recurrent), biasIH: cast(p.inputBias),
                    biasHH: cast(p.recurrentBias))
                return measure(key, cell: cell, inputs: inputs)
            }
        } catch {
            return failed(key, "cell: \(error)")
        }
    }

    func measure<Cell: RecurrentCell>(_ key: CaseKey, cell: Cell, inputs: [Cell.Scalar])
        -> CaseResult
    {
        let tolerance = config.tolerance(for: key.precision)
        let (t, b) = (key.steps, key.batch)
        let automatic = SequenceSolver(cell: cell, options: SolverOptions(method: .automatic, pool: pool))
            .chooseMethod(steps: t, batch: b)
        let sequential = SequenceSolver(
            cell: cell, options: SolverOptions(method: .sequential, pool: pool))
        let parallel = SequenceSolver(
            cell: cell,
            options: SolverOptions(
                method: key.method, tolerance: tolerance, maxIterations: config.maxIterations,
                fallback: false, pool: pool))
        let guess: [Cell.Scalar]? =
            key.guess == .zeros
            ? [Cell.Scalar](repeating: 0, count: t * cell.stateRowSize(batch: b)) : nil
        do {
            var clock = ContinuousClock.now
            let reference = try sequential.solve(inputs: inputs, steps: t, batch: b)
            let sequentialSeconds = seconds(ContinuousClock.now - clock)
            clock = ContinuousClock.now
            var solution = try parallel.solve(inputs: inputs, steps: t, batch: b, guess: guess)
            var attempts = solution.attempts
            var restarts = 0
            if config.continueAfterStagnation {
                let budget = config.maxIterations ?? min(t + 1, 100)
                while !solution.converged, let last = attempts.last,
                    prematureStagnation(last) != nil
                {
                    let remaining = budget - attempts.reduce(0) { $0 + $1.iterations }
                    if remaining < 1 { break }
                    var restart = parallel
                    restart.options.maxIterations = remaining
                    solution = try restart.solve(
                        inputs: inputs, steps: t, batch: b, guess: solution.states)
                    attempts += solution.attempts
                    restarts += 1
                }
            }
            let parallelSeconds = seconds(ContinuousClock.now - clock)
            var error = 0.0
            for (x, y) in zip(solution.states, reference.states) {
                let e = Double(abs(x - y))
                if e.isNaN { error = .nan; break }
                error = max(error, e)
            }
            return CaseResult(
                key: key, converged: solution.converged,
                iterations: attempts.reduce(0) { $0 + $1.iterations },
                residualHistory: attempts.flatMap(\.residualHistory),
                // The last residual of the last attempt (Solution.finalResidual turns a NaN
                // residual into 0 through max(_:_:), so it is not used here).
                finalResidual: attempts.last?.residualHistory.last ?? .nan,
                tolerance: tolerance, maxAbsError: error, parallelSeconds: parallelSeconds,
                sequentialSeconds: sequentialSeconds,
                speedup: sequentialSeconds / max(parallelSeconds, 1e-12),
                automaticMethod: automatic.0, automaticReason: automatic.1,
                attempts: attempts.map {
                    AttemptRecord(
                        method: $0.method, iterations: $0.iterations, converged: $0.converged,
                        outcome: $0.outcome)
                }, failure: nil,
                diagnosis: solution.converged ? nil : attempts.last.flatMap(prematureStagnation),
                restarts: config.continueAfterStagnation ? restarts : nil)
        } catch {
            return failed(key, "solver: \(error)")
        }
    }

    func failed(_ key: CaseKey, _ reason: String) -> CaseResult {
        CaseResult(
            key: key, converged: false, iterations: 0, residualHistory: [], finalResidual: .nan,
            tolerance: config.tolerance(for: key.precision), maxAbsError: .nan, parallelSeconds: 0,
            sequentialSeconds: 0, speedup: .nan, automaticMethod: .automatic,
            automaticReason: "", attempts: [], failure: reason)
    }
}

/// If `attempt` ended "stagnated" although its residual fell at least 2× over its last 25
/// iterations, a sentence saying so (with the observed linear rate); otherwise `nil`.
func prematureStagnation(_ attempt: SolveAttempt) -> String? {
    let h = attempt.residualHistory
    guard attempt.outcome.contains("stagnated"), h.count > 25, let last = h.last,
        last.isFinite, last > 0
    else { return nil }
    let earlier = h[h.count - 26]
    guard earlier.isFinite, last <= 0.5 * earlier else { return nil }
    let rate = Foundation.pow(last / earlier, 1.0 / 25)
    return "stagnation declared while still converging: residual fell \(fmt(earlier / last, 1))× over the last 25 iterations (linear rate \(fmt(rate, 3)) per iteration)"
}

func seconds(_ d: Duration) -> Double {
    let (s, atto) = d.components
    return Double(s) + Double(atto) * 1e-18
}
