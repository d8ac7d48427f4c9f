import Dispatch
import Foundation
import ParaRNN
import ParallelScan

/// Runs a ``GridConfig``, several cases at once.
///
/// Per case: build the cell from ``WeightFactory`` (in the case's precision), draw the inputs,
/// solve once with `method: .sequential` (the reference, timed), once with the case's method and
/// `fallback = false` (timed; a non-converging attempt stays visible with its outcome), compare
/// the states, and ask `.automatic` what it would have chosen (`chooseMethod`, on ``pool``).
///
/// **Concurrency.** With ``jobs`` > 1, the cases for which the solver's own cost model
/// (`chooseMethod` on ``pool``) predicts no parallel win run `jobs` at a time, each solving on a
/// 1-thread pool (``CaseResult/threads`` = 1, ``CaseResult/concurrent`` = true: their wall times
/// were measured beside other cases). The cases for which it predicts a parallel win — the ones
/// whose timings measure multi-thread speed — and the cases too large in memory to run `jobs` at
/// once run afterwards, one at a time on all of ``pool``.
/// The solver's plans depend only on sizes and thread counts, so a case's iterations and states
/// do not depend on which cases ran beside it.
///
///     let runner = HarnessRunner(config: HarnessPreset.quick, pool: WorkerPool(threadCount: 2))
///     let report = try runner.run { done, total, key in print(done, total, key) }
public struct HarnessRunner: Sendable {
    public var config: GridConfig
    public var pool: WorkerPool
    /// Cases run at once (default ``pool``'s thread count; 1: one after another, each on all of
    /// ``pool``).
    public var jobs: Int

    public init(config: GridConfig, pool: WorkerPool = .shared, jobs: Int? = nil) {
        self.config = config
        self.pool = pool
        self.jobs = max(1, jobs ?? pool.threadCount)
    }

    /// Runs every case; `progress(done, total, key)` is called after each one.
    public func run(progress: ((Int, Int, CaseKey) -> Void)? = nil) throws(HarnessError)
        -> HarnessReport
    {
        try run(shard: nil, resuming: [], onResult: nil, progress: progress)
    }

    /// Runs the cases of `shard` (all if `nil`) that `previous` does not already hold.
    ///
    /// `onResult` receives each finished case (then `progress(done, total, key)`, counting the
    /// previous cases as done); both are called one at a time, from worker threads. An error
    /// thrown by `onResult` (e.g. a full disk) stops the run after the cases in flight. The
    /// report holds the previous and the new cases of the shard, in grid order.
    public func run(
        shard: HarnessShard?, resuming previous: [CaseResult],
        onResult: ((CaseResult) throws(HarnessError) -> Void)?,
        progress: ((Int, Int, CaseKey) -> Void)? = nil
    ) throws(HarnessError) -> HarnessReport {
        try config.validate()
        let all = shard.map { $0.select(config.cases) } ?? config.cases
        let selected = Set(all)
        var done: [CaseKey: CaseResult] = [:]
        for c in previous where selected.contains(c.key) { done[c.key] = c }
        let todo = all.filter { done[$0] == nil }
        let start = ContinuousClock.now

        // Split: cases that measure multi-thread speed run alone on the whole pool.
        var concurrent: [CaseKey] = []
        var alone: [CaseKey] = []
        if jobs > 1 {
            for key in todo {
                let large = memoryEstimate(key) > Int(ProcessInfo.processInfo.physicalMemory / 2) / jobs
                if large || (pool.threadCount > 1 && automaticChoice(key) == .newton) {
                    alone.append(key)
                } else {
                    concurrent.append(key)
                }
            }
            // Longest first, so that the last cases in flight are short ones.
            concurrent.sort { cost($0) > cost($1) }
        } else {
            alone = todo
        }

        let sink = ResultSink(
            total: all.count, done: done.count, onResult: onResult, progress: progress)
        if !concurrent.isEmpty {
            let single = WorkerPool(threadCount: 1, grainSize: pool.grainSize)
            let next = Counter()
            let ordered = concurrent
            DispatchQueue.concurrentPerform(iterations: min(jobs, ordered.count)) { _ in
                while !sink.stopped, let i = next.take(below: ordered.count) {
                    var result = run(ordered[i], solvePool: single)
                    result.concurrent = true
                    sink.add(result)
                }
            }
        }
        for key in alone where !sink.stopped {
            var result = run(key, solvePool: pool)
            result.concurrent = false
            sink.add(result)
        }
        if let error = sink.error { throw error }
        for c in sink.results { done[c.key] = c }
        return HarnessReport(
            config: config, machine: .current(threads: pool.threadCount),
            cases: all.compactMap { done[$0] },
            totalSeconds: seconds(ContinuousClock.now - start))
    }

    /// A rough memory estimate in bytes: T·B·(S² + m + 4S) values, S = d (2d for LSTM-style
    /// cells; the cell's state size) — Jacobians, inputs, states and iterates. Cases above half the memory divided by
    /// ``jobs`` run alone.
    func memoryEstimate(_ key: CaseKey) -> Int {
        let s = (try? makeCell(key))?.stateSize ?? key.hiddenSize
        let bytes = key.precision == .double ? 8 : 4
        let perStep = s.multipliedReportingOverflow(by: s + 4).partialValue + config.inputSize
        let (total, overflow) = key.steps.multipliedReportingOverflow(by: key.batch * perStep * bytes)
        return overflow ? .max : total
    }

    /// A rough work estimate for ordering (T·B·d).
    func cost(_ key: CaseKey) -> Int { key.steps * key.batch * key.hiddenSize }

    /// What `.automatic` picks for this case on ``pool`` (`nil` if the cell cannot be built).
    func automaticChoice(_ key: CaseKey) -> SolverMethod? {
        guard let cell = try? makeCell(key) else { return nil }
        return choose(cell, key)
    }

    func choose<Cell: RecurrentCell>(_ cell: Cell, _ key: CaseKey) -> SolverMethod {
        SequenceSolver(cell: cell, options: options(.automatic, guess: key.guess, pool: pool))
            .chooseMethod(steps: key.steps, batch: key.batch).0
    }

    /// The solver's options for a case of guess `guess`, solved on `pool`. The guesses `default`
    /// and `zeros` study the methods from ParaRNN's guess f(0, u) (`newtonGuess = .zeroState`;
    /// `zeros` passes its own), so a case's iterations do not depend on the workers it runs on;
    /// `chunks` is the library's default start (chunk rollouts, README "The initial guess"),
    /// its chunks planned for this runner's ``pool`` (the run's `--threads`) whichever pool
    /// solves the case.
    func options(
        _ method: SolverMethod, guess: HarnessGuess, tolerance: Double? = nil, maxIterations: Int? = nil,
        fallback: Bool = true, pool solvePool: WorkerPool
    ) -> SolverOptions {
        var options = SolverOptions(
            method: method, tolerance: tolerance, maxIterations: maxIterations, fallback: fallback, pool: solvePool)
        options.newtonGuess = .zeroState
        if guess == .chunks {
            options.newtonGuess = .chunkRollouts
            options.chunkThreads = pool.threadCount
        }
        return options
    }

    /// Runs one case on ``pool``.
    public func run(_ key: CaseKey) -> CaseResult { run(key, solvePool: pool) }

    /// Runs one case, solving on `solvePool` (`.automatic` is still asked on ``pool``).
    func run(_ key: CaseKey, solvePool: WorkerPool) -> CaseResult {
        var result: CaseResult
        switch key.precision {
        case .float: result = run(key, Float.self, solvePool: solvePool)
        case .double: result = run(key, Double.self, solvePool: solvePool)
        }
        result.threads = solvePool.threadCount
        return result
    }

    /// Builds the case's cell through the catalogue and measures it.
    func run<S: CellMath>(_ key: CaseKey, _: S.Type, solvePool: WorkerPool) -> CaseResult {
        let inputs = WeightFactory.inputs(
            steps: key.steps, batch: key.batch, inputSize: config.inputSize, seed: key.seed)
        do {
            return measure(key, cell: try makeCell(key, S.self), inputs: inputs, solvePool: solvePool)
        } catch {
            return failed(key, "cell: \(error)")
        }
    }

    func makeCell(_ key: CaseKey) throws -> any RecurrentCell {
        switch key.precision {
        case .float: return try makeCell(key, Float.self)
        case .double: return try makeCell(key, Double.self)
        }
    }

    /// The case's cell, built by the catalogue from ``WeightFactory/tensors()``.
    func makeCell<S: CellMath>(_ key: CaseKey, _: S.Type) throws(CellError) -> any RecurrentCell<S> {
        let factory = WeightFactory(
            cell: key.cell, hiddenSize: key.hiddenSize, inputSize: config.inputSize,
            scale: key.scale, seed: key.seed)
        return try key.cell.entry.make(factory.tensors(), as: S.self)
    }

    func measure<Cell: RecurrentCell>(
        _ key: CaseKey, cell: Cell, inputs: [Double], solvePool: WorkerPool
    ) -> CaseResult {
        let inputs = convertedScalars(inputs, as: Cell.Scalar.self)
        let tolerance = config.tolerance(for: key.precision)
        let (t, b) = (key.steps, key.batch)
        let chooser = SequenceSolver(cell: cell, options: options(.automatic, guess: key.guess, pool: pool))
        var automatic = chooser.chooseMethod(steps: t, batch: b)
        // `.automatic`'s second look (as in `SequenceSolver.solve`): the contractivity along the
        // first steps' rollout picks among the parallel methods.
        let w = min(t, Contractivity.defaultWindow)
        var u = [Cell.Scalar](repeating: 0, count: w * cell.projectionRowSize(batch: b))
        inputs.withUnsafeBufferPointer { x in
            u.withUnsafeMutableBufferPointer { u in
                cell.project(inputs: x.baseAddress!, steps: w, batch: b, projections: u.baseAddress!, pool: solvePool)
            }
        }
        let contractivity = u.withUnsafeBufferPointer {
            chooser.contractivity(projections: $0.baseAddress!, steps: w, batch: b)
        }
        let parallelChoice = chooser.refineChoice(.newton, "", by: contractivity).0
        if automatic.0 != .sequential { automatic = chooser.refineChoice(automatic.0, automatic.1, by: contractivity) }
        let sequential = SequenceSolver(
            cell: cell, options: SolverOptions(method: .sequential, pool: solvePool))
        let parallel = SequenceSolver(
            cell: cell,
            options: options(
                key.method, guess: key.guess, tolerance: tolerance, maxIterations: config.maxIterations,
                fallback: false, pool: solvePool)
        )
        let guess: [Cell.Scalar]? =
            key.guess == .zeros
            ? zeroScalars(t * cell.stateRowSize(batch: b), as: Cell.Scalar.self) : nil
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
            let error = maxAbsDifference(solution.states, reference.states)
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
                restarts: config.continueAfterStagnation ? restarts : nil,
                contractivity: contractivity, parallelChoice: parallelChoice)
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
    return
        "stagnation declared while still converging: residual fell \(fmt(earlier / last, 1))× over the last 25 iterations (linear rate \(fmt(rate, 3)) per iteration)"
}

/// Collects results from the workers, one at a time.
final class ResultSink: @unchecked Sendable {
    let lock = NSLock()
    let total: Int
    var done: Int
    let onResult: ((CaseResult) throws(HarnessError) -> Void)?
    let progress: ((Int, Int, CaseKey) -> Void)?
    var results: [CaseResult] = []
    var error: HarnessError?
    private var _stopped = false

    init(
        total: Int, done: Int, onResult: ((CaseResult) throws(HarnessError) -> Void)?,
        progress: ((Int, Int, CaseKey) -> Void)?
    ) {
        self.total = total
        self.done = done
        self.onResult = onResult
        self.progress = progress
    }

    var stopped: Bool { lock.withLock { _stopped } }

    func add(_ result: CaseResult) {
        lock.lock()
        defer { lock.unlock() }
        if _stopped { return }
        do { try onResult?(result) } catch {
            self.error = error
            _stopped = true
            return
        }
        results.append(result)
        done += 1
        progress?(done, total, result.key)
    }
}

/// Hands out indices 0, 1, 2, … to the workers.
final class Counter: @unchecked Sendable {
    let lock = NSLock()
    var value = 0

    func take(below limit: Int) -> Int? {
        lock.withLock {
            if value >= limit { return nil }
            value += 1
            return value - 1
        }
    }
}

func seconds(_ d: Duration) -> Double {
    let (s, atto) = d.components
    return Double(s) + Double(atto) * 1e-18
}

// Element loops of `measure`, which runs generic over the catalogue's cell types: unspecialised,
// every element went through witness tables and metadata look-ups (a ParaGRU B = 4, d = 8,
// T = 10⁶ case spent 19 of its 21 CPU seconds here and 1.7 in the solves). Pre-specialised for
// the two scalar types, so a generic caller jumps to the plain loops.

/// `values` converted to `S`.
@_specialize(where S == Float)
@_specialize(where S == Double)
func convertedScalars<S: BinaryFloatingPoint>(_ values: [Double], as: S.Type) -> [S] {
    [S](unsafeUninitializedCapacity: values.count) { buffer, count in
        for i in values.indices { buffer[i] = S(values[i]) }
        count = values.count
    }
}

/// `count` zeros of `S`.
@_specialize(where S == Float)
@_specialize(where S == Double)
func zeroScalars<S: BinaryFloatingPoint>(_ count: Int, as: S.Type) -> [S] {
    [S](repeating: 0, count: count)
}

/// max_i |a_i − b_i| over the common prefix, in Double; NaN as soon as one difference is NaN.
@_specialize(where S == Float)
@_specialize(where S == Double)
func maxAbsDifference<S: BinaryFloatingPoint>(_ a: [S], _ b: [S]) -> Double {
    var error = 0.0
    for i in 0..<min(a.count, b.count) {
        let e = Double(abs(a[i] - b[i]))
        if e.isNaN { return .nan }
        error = max(error, e)
    }
    return error
}
