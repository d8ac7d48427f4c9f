import Foundation
import ParallelScan

/// Options of ``SequenceSolver``.
public struct SolverOptions: Sendable {
    /// The tolerance `nil` stands for: 1e-5 in Float, 1e-10 in Double (whatever the cell).
    public static func defaultTolerance<S: BinaryFloatingPoint>(for _: S.Type) -> Double {
        S.self == Float.self ? 1e-5 : 1e-10
    }

    /// The method; `.automatic` by default.
    public var method: SolverMethod = .automatic
    /// Residual tolerance (relative to max(1, |f|)); `nil` picks 1e-5 for Float, 1e-10 for
    /// Double — a few hundred ulps above the rounding floor of one cell evaluation.
    public var tolerance: Double? = nil
    /// Newton iterations allowed per attempt; `nil` means min(T + 1, 100). Newton on this system
    /// is exact after at most T iterations in exact arithmetic.
    public var maxIterations: Int? = nil
    /// On failure, fall back to ELK (damped Newton as a Kalman filter), then to the sequential
    /// rollout (and say so).
    public var fallback: Bool = true
    /// Solve in segments of this many steps, each by parallel Newton from the exact final
    /// state of the previous one (cache blocking). `nil`: one segment.
    public var segmentLength: Int? = nil
    /// Bound ρ on the Jacobians in damped Newton (‖J‖∞ ≤ ρ).
    public var dampingBound: Double = 1
    /// Estimate the ``Contractivity`` (a rollout and linearisation of the first ≤ 512 steps)
    /// for a requested parallel method too, for reports; `.automatic` always estimates it.
    public var estimatesContractivity: Bool = false
    /// Where the parallel methods start (``NewtonGuess``): exact rollouts of their chunks after a
    /// burn-in by default, ParaRNN's f(0, u) with `.zeroState`.
    public var newtonGuess: NewtonGuess = .chunkRollouts
    /// The workers.
    public var pool: WorkerPool = .shared
    /// Plan the segment's chunks — those of the chunk-rollout guess and of fused Newton's passes
    /// (``SegmentChunks``) — as for this many threads instead of the pool's; `nil`: the pool's.
    /// The convergence harness solves a case on one thread beside other cases but studies the
    /// guess of its `--threads`, so a case's iterations do not depend on how it was scheduled.
    package var chunkThreads: Int? = nil
    /// Called after every Newton iteration.
    public var progress: (@Sendable (SolverProgress) -> Void)? = nil
    /// Solve one segment of a sequence split across processes (see ``SegmentCoupling``):
    /// `solve(inputs:…)` then takes this segment's inputs and returns its states.
    public var coupling: (any SegmentCoupling)? = nil
    /// Where fused Newton passes record per-phase, per-worker time (the bench's `--phases`).
    package var phaseTimings: NewtonPhaseTimings? = nil
    /// Where a solve in pieces across segments records its phases (`pararnn solve --distributed`).
    package var coupledTimings: CoupledPhaseTimings? = nil
    /// Plain fused Newton in Float stores its Jacobians as Float16 (``CompactJacobians``): the
    /// same certified fixed point, fewer bytes per pass, possibly more iterations.
    package var compactJacobians = false
    /// Work the caller offers to the parallel passes (a streamed solve's write of the previous
    /// segment): the first worker to run out of chunks in a pass runs it (``SideWork``). Paths
    /// without a parallel pass leave it unclaimed.
    package var sideWork: [SideWork] = []
    /// The caller has checked that every input value is finite (a streamed solve's reader
    /// checks each segment as it reads it): ``SequenceSolver/solve(inputs:steps:batch:initialState:guess:)``
    /// does not scan them again.
    package var inputsCheckedFinite = false
    /// The width of the hidden output the caller reads off the states (``AnyLayer``'s output
    /// size), when that is not the states themselves (an LSTM's h of its [c, h]): a batch-split
    /// rollout then writes the outputs beside the states, each worker its own sequences while
    /// their block is in its cache (``Solution/hiddenOutputs``), instead of the caller copying
    /// them out after the join (one thread or a fork/join of its own, per streamed segment).
    package var hiddenOutputWidth: Int? = nil

    public init(
        method: SolverMethod = .automatic, tolerance: Double? = nil, maxIterations: Int? = nil,
        fallback: Bool = true, segmentLength: Int? = nil, pool: WorkerPool = .shared
    ) {
        self.method = method
        self.tolerance = tolerance
        self.maxIterations = maxIterations
        self.fallback = fallback
        self.segmentLength = segmentLength
        self.pool = pool
    }
}

/// Solves s_t = f(s_{t−1}, x_t), t = 0…T−1, for a whole batch, sequentially or by parallel
/// Newton iterations whose linear steps are parallel affine scans.
///
/// Newton iteration i linearises f at the current states (in parallel over t) and solves
///     s_t^{(i+1)} = J_t s_{t−1}^{(i+1)} + (f(s_{t−1}^{(i)}, x_t) − J_t s_{t−1}^{(i)})
/// with the scan matching the Jacobian structure. Every result is certified: the residual
/// max_t ‖s_t − f(s_{t−1}, x_t)‖ is computed for the returned states; an attempt that does not
/// reach the tolerance falls back (damped Newton, then the sequential rollout) unless
/// `fallback` is off, in which case the solution says `converged == false`.
///
/// Finite-state guard: the returned states are checked for NaN and Inf (finite weights and
/// inputs can still overflow, e.g. ParaGRU with gains of 3e38). A solution holding any
/// non-finite state is never `converged`: ``Solution/nonFiniteState`` says where the first one
/// is, ``Solution/finalResidual`` is NaN, and the attempt that produced it says so in its
/// `outcome`.
public struct SequenceSolver<Cell: RecurrentCell>: Sendable {
    public typealias Scalar = Cell.Scalar
    public let cell: Cell
    public var options: SolverOptions

    public init(cell: Cell, options: SolverOptions = SolverOptions()) {
        self.cell = cell
        self.options = options
    }

    /// The default tolerance for the cell's precision.
    public static var defaultTolerance: Double { SolverOptions.defaultTolerance(for: Scalar.self) }

    /// Refuses `count` inputs unless they are T × B × m (`stepsName` says what T is in the
    /// message), without overflowing for absurd sizes.
    func checkInputCount(_ count: Int, steps: Int, batch: Int, stepsName: String) throws(SolverError) {
        let m = cell.inputSize
        let (tb, o1) = steps.multipliedReportingOverflow(by: batch)
        let (needed, o2) = tb.multipliedReportingOverflow(by: m)
        if o1 || o2 || count != needed {
            throw .shapeMismatch(
                "inputs hold \(count) values; \(stepsName) × B=\(batch) × m=\(m) needs \(o1 || o2 ? "more than Int.max" : String(needed))"
            )
        }
    }

    /// Solves for the states.
    /// - Parameters:
    ///   - inputs: x, `[T][B][m]` (time-major).
    ///   - steps: T.
    ///   - batch: B.
    ///   - initialState: s_{−1}, one state row (`stateRowSize(batch:)`); zeros if `nil`.
    ///   - guess: a warm start `[T][stateRow]`; if `nil`, s_t^{(0)} = f(0, x_t).
    public func solve(
        inputs: [Scalar], steps: Int, batch: Int, initialState: [Scalar]? = nil,
        guess: [Scalar]? = nil
    ) throws(SolverError) -> Solution<Scalar> {
        if steps <= 0 { throw .emptySequence }
        if batch <= 0 { throw .shapeMismatch("batch size must be positive") }
        let row = cell.stateRowSize(batch: batch)
        try checkInputCount(inputs.count, steps: steps, batch: batch, stepsName: "T=\(steps)")
        // Split over the pool: serial, this scan was the largest serial part of a streamed
        // batch-split segment (B = 16, d = 4: 1.3 M values per 20 k-step segment).
        if !options.inputsCheckedFinite,
            let bad = inputs.withUnsafeBufferPointer({ firstNonFinite($0, pool: options.pool) })
        {
            throw .nonFiniteInput(index: bad)
        }
        if let initialState, initialState.count != row {
            throw .shapeMismatch("initial state holds \(initialState.count) values, the cell needs \(row)")
        }
        if let guess, guess.count != steps * row {
            throw .shapeMismatch("guess holds \(guess.count) values, [T][state] needs \(steps * row)")
        }
        if let length = options.segmentLength, length <= 0 {
            throw .invalidOption("segment length must be positive")
        }
        if let coupling = options.coupling {
            return try solveCoupled(
                inputs: inputs, steps: steps, batch: batch, initialState: initialState,
                coupling: coupling)
        }
        let chosen = chooseMethod(steps: steps, batch: batch).0
        if guess == nil, chosen == .sequential {
            return streamedRollout(inputs: inputs, steps: steps, batch: batch, initialState: initialState)
        }
        // Every projection value is written by `project` (bias, then the GEMM).
        var projections = uninitializedArray(Scalar.self, count: steps * cell.projectionRowSize(batch: batch))
        if chosen == .newton, cell.fusedNewtonBlockSize != nil {
            // Plain fused Newton: the first pass projects each block just before linearising it
            // (a contractivity estimate projects only its window's rows first).
            return inputs.withUnsafeBufferPointer { x in
                projections.withUnsafeMutableBufferPointer { u in
                    solve(
                        projections: u.baseAddress!, pendingInputs: x.baseAddress!, steps: steps, batch: batch,
                        initialState: initialState, guess: guess)
                }
            }
        }
        inputs.withUnsafeBufferPointer { x in
            projections.withUnsafeMutableBufferPointer { u in
                cell.project(
                    inputs: x.baseAddress!, steps: steps, batch: batch,
                    projections: u.baseAddress!, pool: options.pool)
            }
        }
        return solve(
            projections: projections, steps: steps, batch: batch, initialState: initialState,
            guess: guess)
    }

    /// Solves from precomputed projections u_t = W x_t + b (`[T][G][B][d]`).
    public func solve(
        projections: [Scalar], steps: Int, batch: Int, initialState: [Scalar]? = nil,
        guess: [Scalar]? = nil
    ) -> Solution<Scalar> {
        projections.withUnsafeBufferPointer { u in
            solve(
                projections: UnsafeMutablePointer(mutating: u.baseAddress!), pendingInputs: nil, steps: steps,
                batch: batch, initialState: initialState, guess: guess)
        }
    }

    /// The solve behind both entries: `projections` `[T][urow]` are read, or, with
    /// `pendingInputs` (`[T][B][m]`), written first (by the fused first Newton pass of each
    /// segment, or one projection pass where another method runs).
    func solve(
        projections: UnsafeMutablePointer<Scalar>, pendingInputs: UnsafePointer<Scalar>?, steps: Int, batch: Int,
        initialState: [Scalar]?, guess: [Scalar]?
    ) -> Solution<Scalar> {
        let row = cell.stateRowSize(batch: batch)
        let tolerance = options.tolerance ?? Self.defaultTolerance
        var (method, decision) = chooseMethod(steps: steps, batch: batch)
        let h0 = initialState ?? zeroArray(Scalar.self, count: row)
        // The contractivity along the first steps: reported for parallel solves, and used by
        // `.automatic` to pick Newton, ELK or the rollout.
        var contractivity: Contractivity? = nil
        if method != .sequential, options.method == .automatic || options.estimatesContractivity {
            if let pendingInputs {
                // The window's rows only; the solve projects every row (fused into its first
                // pass, or in one pass before another method), these included.
                cell.project(
                    inputs: pendingInputs, steps: min(steps, Contractivity.defaultWindow), batch: batch,
                    projections: projections, pool: .serial)
            }
            let c = h0.withUnsafeBufferPointer { h0 in
                self.contractivity(
                    projections: UnsafePointer(projections), steps: steps, batch: batch, initialState: h0.baseAddress!)
            }
            contractivity = c
            if options.method == .automatic { (method, decision) = refineChoice(method, decision, by: c) }
        }
        let unprojected = pendingInputs
        // Without a guess, every segment writes its states (rollout or the Newton initial guess).
        var states = guess ?? uninitializedArray(Scalar.self, count: steps * row)
        let segmentLength = min(options.segmentLength ?? steps, steps)
        let segments = (steps + segmentLength - 1) / segmentLength
        var attempts: [SolveAttempt] = []
        // Index one past each segment's last attempt (the one that produced its states).
        var segmentEnds: [Int] = []
        var finalMethod = method
        var worstResidual = 0.0
        var allConverged = true
        // Whether every segment's passes checked its states finite as they wrote them.
        var allCheckedFinite = true
        do {
            let inputRow = batch * cell.inputSize
            states.withUnsafeMutableBufferPointer { h in
                h0.withUnsafeBufferPointer { h0 in
                    var previous = h0.baseAddress!
                    for segment in 0..<segments {
                        let range = (segment * segmentLength)..<min(steps, (segment + 1) * segmentLength)
                        let urow = cell.projectionRowSize(batch: batch)
                        let result = solveSegment(
                            method: method, steps: range.count, batch: batch,
                            projections: UnsafePointer(projections + range.lowerBound * urow),
                            previous: previous, states: h.baseAddress! + range.lowerBound * row,
                            hasGuess: guess != nil, tolerance: tolerance, segment: segment,
                            segments: segments,
                            pendingInputs: unprojected.map { $0 + range.lowerBound * inputRow })
                        attempts += result.attempts
                        segmentEnds.append(attempts.count)
                        finalMethod = result.method
                        // NaN must survive (Swift's max would drop it).
                        worstResidual =
                            result.residual.isNaN || worstResidual.isNaN
                            ? .nan : max(worstResidual, result.residual)
                        allConverged = allConverged && result.converged
                        allCheckedFinite = allCheckedFinite && result.statesCheckedFinite
                        previous = UnsafePointer(h.baseAddress! + (range.upperBound - 1) * row)
                    }
                }
            }
        }
        var solution = Solution(
            states: states, steps: steps, batch: batch, method: finalMethod, attempts: attempts,
            converged: allConverged, finalResidual: worstResidual, tolerance: tolerance,
            decision: decision, segments: segments)
        solution.contractivity = contractivity
        // States the passes scanned as they wrote them (certified chunk rollouts) are not read
        // again; any other outcome goes through the guard's scan.
        if allCheckedFinite { return solution }
        return Self.guardingFiniteStates(
            solution, row: row, segmentEnds: segmentEnds, segmentLength: segmentLength, pool: options.pool)
    }

    /// `.automatic`'s second look, once the cost model predicts a parallel win: the
    /// ``Contractivity`` along the first steps decides which parallel method, if any.
    /// - λ ≥ 0 (expanding on average, chaotic): Newton-type iterations need on the order of T
    ///   steps to converge → the sequential rollout;
    /// - from ParaRNN's guess f(0, u_t), dense Jacobians with max‖J‖∞ > 3.5: Newton overflows or
    ///   wanders there, and ELK (the full n×n filter up to a 32-value state, quasi-ELK above)
    ///   converges in some of those cases only — in the harness grid (`Harness/README.md`, 240 case keys) Newton or ELK
    ///   converged in every dense case up to max‖J‖∞ = 3.45, and both failed in cases from
    ///   4.45 (Elman), 5.56 (GRU) and 9.02 (LSTM) → sequential; at most 3.5 → Newton, whose
    ///   fallback is ELK;
    /// - from chunk rollouts (the product's guess), dense Jacobians: λ > ``denseWeakContraction`` →
    ///   sequential; an ungated dense cell (Elman) with max‖J‖∞ > ``ungatedMaxNorm`` →
    ///   sequential; otherwise Newton, whatever max‖J‖∞ of a gated cell;
    /// - diagonal or 2×2-block Jacobians with λ > ``weakContraction`` (−0.05: contracting too
    ///   weakly) → sequential: every ParaGRU/ParaLSTM case of the harness grids in that range
    ///   (`full-diagonal-short` shard 1/2, `elk-s3`, `full-subset`: λ from −0.044 to −0.028) needed
    ///   18–100 ELK iterations or failed — among them the four picks of the 16-core shard that fell
    ///   back (ParaGRU T = 10³, d = 32, B = 4, s = 3, λ = −0.028) — and ELK's segment sweeps
    ///   (``ELKRepair``), left unbounded, settled more than half of the sequence sequentially in 7
    ///   of 10;
    /// - diagonal or 2×2-block Jacobians with max‖J‖∞ > 1 (contracting on average, expanding in
    ///   places, where Newton's scans multiply growing factors) → ELK, whose damping pays;
    /// - otherwise → Newton.
    /// The Lyapunov exponent above which `.automatic` treats a diagonal or 2×2-block recurrence
    /// as contracting too weakly for a parallel solve (see ``refineChoice(_:_:by:)``).
    public static var weakContraction: Double { -0.05 }

    /// The largest max‖J‖∞ at which `.automatic` starts a parallel solve of an ungated dense cell
    /// (Elman, one gate) from chunk rollouts. Calibrated on the harness's dense grid with the
    /// product's guess and the 16-thread plan (`full-dense-d8-chunks`, `full-dense-d32-chunks`:
    /// Elman d = 8 and 32, B = 1 and 4, T = 10³ and 10⁴, s ≤ 3): every Elman pick up to 5.96
    /// converged but one (λ = −0.059, see ``denseWeakContraction``), and 5 of the 8 at 8.93
    /// (s = 3, λ ≈ −0.3) fell back — both Newton and ELK failed, in Double too. The gated cells
    /// need no such bound: GRU converged up to 8.0, LSTM up to 16.6 (their gates saturate toward
    /// a copy of the state where the candidate expands).
    public static var ungatedMaxNorm: Double { 6 }

    /// The Lyapunov exponent above which `.automatic` treats a dense recurrence as contracting
    /// too weakly for a parallel solve from chunk rollouts (see ``refineChoice(_:_:by:)``).
    /// Calibrated on the harness's dense grid with the product's guess and the 16-thread plan
    /// (`full-dense-d8-chunks`, `full-dense-d32-chunks`, `full-dense-d8-long-chunks`): the picks
    /// that fell back there at λ > −0.06 were GRU d = 8, s = 3, seed 1 (λ = −0.057, T = 10⁵,
    /// Float: Newton and ELK stagnated; at T = 10⁴ ELK converged 0.089 from the rollout) and
    /// Elman d = 8, s = 2, T = 10⁴, Float (λ = −0.059). The bound gives up picks there that did
    /// converge (GRU d = 8, s = 2, seed 1 at λ = −0.053, −0.055; LSTM d = 32, s = 3, seed 1 at
    /// −0.057); every pick at λ ≤ −0.062 converged.
    public static var denseWeakContraction: Double { -0.06 }

    public func refineChoice(_ method: SolverMethod, _ decision: String, by c: Contractivity)
        -> (SolverMethod, String)
    {
        guard method == .newton, !c.lyapunov.isNaN, !c.maxNorm.isNaN else { return (method, decision) }
        let base = decision.replacingOccurrences(of: " → parallel Newton", with: "")
        let text = (base.isEmpty ? "" : base + "; ") + "\(c)"
        if c.lyapunov >= 0 {
            return (.sequential, text + ": not contracting, parallel iterations would not converge fast → sequential")
        }
        if case .dense = cell.structure {
            if options.newtonGuess == .chunkRollouts {
                // The cost model counted on chunk rollouts certified at their seams: that needs a
                // clear contraction (from a guess that misses, DEER's passes cost far more), and
                // then no Newton step multiplies the expanding factors.
                if c.lyapunov > Self.denseWeakContraction {
                    return (
                        .sequential,
                        text
                            + ": contracting too weakly (λ > \(Self.denseWeakContraction)) for chunk rollouts to meet at their seams → sequential"
                    )
                }
                if cell.gateCount == 1, c.maxNorm > Self.ungatedMaxNorm {
                    return (
                        .sequential,
                        text
                            + ": an ungated dense cell expanding strongly in places (max‖J‖∞ > \(Self.ungatedMaxNorm)): Newton and ELK do not converge reliably → sequential"
                    )
                }
                return (.newton, text + ": contracting, chunk rollouts meet at their seams → parallel Newton")
            }
            if c.maxNorm > 3.5 {
                return (
                    .sequential,
                    text
                        + ": dense Jacobians expanding strongly in places (> 3.5), neither Newton nor quasi-ELK converges reliably → sequential"
                )
            }
            return (.newton, text + " → parallel Newton")
        }
        if c.lyapunov > Self.weakContraction {
            return (
                .sequential,
                text
                    + ": contracting too weakly (λ > \(Self.weakContraction)), parallel iterations would settle it step by step → sequential"
            )
        }
        if c.maxNorm > 1 {
            return (.elk, text + ": contracting on average but expanding in places, damping pays → ELK")
        }
        return (.newton, text + ": contracting → parallel Newton")
    }

    /// The finite-state guard, applied to every solution returned: one vectorised pass over the
    /// states, unless the passes that wrote them scanned each block while it was in cache (the
    /// streamed rollout; fused Newton certified at its chunk-rollout guess), with the same
    /// outcome. A rollout is "exact by construction" only in exact arithmetic; an overflow gives
    /// Inf or NaN states whose residual is meaningless, so such a result is never converged:
    /// `nonFiniteState` says where, `finalResidual` becomes NaN, and the attempt that produced
    /// the state (the last of its segment; `segmentEnds[k]` is one past segment k's last
    /// attempt) is marked as not converged.
    static func guardingFiniteStates(
        _ solution: Solution<Scalar>, row: Int, segmentEnds: [Int], segmentLength: Int, pool: WorkerPool = .serial
    ) -> Solution<Scalar> {
        guard let bad = solution.states.withUnsafeBufferPointer({ firstNonFinite($0, pool: pool) }) else {
            return solution
        }
        return markingNonFinite(solution, at: bad, row: row, segmentEnds: segmentEnds, segmentLength: segmentLength)
    }

    /// ``guardingFiniteStates(_:row:segmentEnds:segmentLength:pool:)`` once the first non-finite
    /// state value is known (flat index `bad`): for passes that checked their states as they
    /// wrote them.
    static func markingNonFinite(
        _ solution: Solution<Scalar>, at bad: Int, row: Int, segmentEnds: [Int], segmentLength: Int
    ) -> Solution<Scalar> {
        var result = solution
        let step = bad / row
        let state = NonFiniteState(step: step, offset: bad % row, value: Double(solution.states[bad]))
        result.nonFiniteState = state
        result.converged = false
        result.finalResidual = .nan
        let index = segmentEnds[min(step / segmentLength, segmentEnds.count - 1)] - 1
        result.attempts[index].converged = false
        result.attempts[index].outcome += "; non-finite state (\(state.valueName)) at step \(step): overflow"
        return result
    }

    /// The sequential method from inputs, projecting a block of steps at a time into one
    /// cache-sized buffer just before rolling it out, instead of materialising all T
    /// projections (G·B·d values per step: 150 MB for a d = 64 GRU over 2·10⁵ steps, more than
    /// the states themselves, paid in page faults and memory traffic).
    func streamedRollout(
        inputs: [Scalar], steps: Int, batch: Int, initialState: [Scalar]?
    ) -> Solution<Scalar> {
        let (method, decision) = chooseMethod(steps: steps, batch: batch)
        let row = cell.stateRowSize(batch: batch)
        let h0 = initialState ?? zeroArray(Scalar.self, count: row)
        var states = uninitializedArray(Scalar.self, count: steps * row)
        let splitWorkers = cell.stepSplitWorkers(batch: batch, steps: steps, threads: options.pool.threadCount)
        let batchWorkers = rolloutWorkers(batch: batch, threads: options.pool.threadCount)
        // Whether the rollout scanned its blocks as it wrote them (one thread, batch split), and the
        // first value not finite.
        var scanned = false
        var firstBad: Int? = nil
        // The hidden outputs, where the rollout wrote them (``SolverOptions/hiddenOutputWidth``).
        var hidden: [Scalar]? = nil
        let gangs =
            splitWorkers == 1 ? cell.rolloutGangs(batch: batch, steps: steps, threads: options.pool.threadCount) : .none
        if gangs.splitsSteps {
            // W_hh is too large for one core's cache: gangs share each step by hidden units.
            inputs.withUnsafeBufferPointer { x in
                states.withUnsafeMutableBufferPointer { h in
                    h0.withUnsafeBufferPointer { h0 in
                        cell.rolloutInGangs(
                            inputs: x.baseAddress!, steps: steps, batch: batch, initial: h0.baseAddress!,
                            states: h.baseAddress!, gangs: gangs)
                    }
                }
            }
        } else if splitWorkers == 1, batchWorkers > 1 {
            // Each worker streams its own sequences: projections stay in its cache, and each
            // scans its own states for the guard as it writes them.
            scanned = true
            let width = options.hiddenOutputWidth
            var out = width.map { uninitializedArray(Scalar.self, count: steps * batch * $0) } ?? []
            firstBad = inputs.withUnsafeBufferPointer { x in
                states.withUnsafeMutableBufferPointer { h in
                    out.withUnsafeMutableBufferPointer { o in
                        h0.withUnsafeBufferPointer { h0 in
                            streamedBatchSplitRollout(
                                inputs: x.baseAddress!, steps: steps, batch: batch, initial: h0.baseAddress!,
                                states: h.baseAddress!, hidden: width.map { (o.baseAddress!, $0) },
                                workers: batchWorkers)
                        }
                    }
                }
            }
            if width != nil { hidden = out }
        } else if splitWorkers > 1 {
            // Each worker of the gang projects its own units' inputs.
            inputs.withUnsafeBufferPointer { x in
                states.withUnsafeMutableBufferPointer { h in
                    h0.withUnsafeBufferPointer { h0 in
                        cell.rolloutSplittingSteps(
                            inputs: x.baseAddress!, steps: steps, initial: h0.baseAddress!, states: h.baseAddress!,
                            workers: splitWorkers)
                    }
                }
            }
        } else {
            let urow = cell.projectionRowSize(batch: batch)
            let m = cell.inputSize
            let block = Self.streamingBlock(steps: steps, projectionRow: urow)
            // The finite-state guard's scan, block by block while the states are in cache.
            scanned = true
            var buffer = uninitializedArray(Scalar.self, count: block * urow)
            let projection = InputProjection(cell)
            inputs.withUnsafeBufferPointer { x in
                states.withUnsafeMutableBufferPointer { h in
                    buffer.withUnsafeMutableBufferPointer { u in
                        h0.withUnsafeBufferPointer { h0 in
                            var start = 0
                            while start < steps {
                                let count = min(block, steps - start)
                                projection.project(
                                    inputs: x.baseAddress! + start * batch * m, steps: count, batch: batch,
                                    projections: u.baseAddress!, pool: options.pool)
                                let previous =
                                    start == 0 ? h0.baseAddress! : UnsafePointer(h.baseAddress! + (start - 1) * row)
                                rollout(
                                    steps: count, batch: batch, projections: UnsafePointer(u.baseAddress!),
                                    previous: previous, states: h.baseAddress! + start * row)
                                if firstBad == nil,
                                    let bad = firstNonFinite(
                                        UnsafeBufferPointer(start: h.baseAddress! + start * row, count: count * row))
                                {
                                    firstBad = start * row + bad
                                }
                                start += count
                            }
                        }
                    }
                }
            }
        }
        let plan = rolloutPlan(batch: batch, steps: steps)
        let attempt = SolveAttempt(
            method: method, iterations: 0, residualHistory: [0], converged: true,
            outcome: "sequential rollout (\(plan)): exact by construction")
        var solution = Solution(
            states: states, steps: steps, batch: batch, method: method, attempts: [attempt],
            converged: true, finalResidual: 0, tolerance: options.tolerance ?? Self.defaultTolerance,
            decision: decision + "; " + plan, segments: 1)
        solution.hiddenOutputs = hidden
        if scanned {
            guard let firstBad else { return solution }
            return Self.markingNonFinite(solution, at: firstBad, row: row, segmentEnds: [1], segmentLength: steps)
        }
        return Self.guardingFiniteStates(solution, row: row, segmentEnds: [1], segmentLength: steps, pool: options.pool)
    }

    /// How a sequential rollout of `batch` sequences of `steps` steps uses the pool: each step
    /// shared by a gang of threads (``RecurrentCell/stepSplitWorkers(batch:steps:threads:)``),
    /// the batch in gangs that share their sequences' steps (``RecurrentCell/rolloutGangs(batch:steps:threads:)``),
    /// the batch split by sequences (``rolloutWorkers(batch:threads:)``), or one thread.
    public func rolloutPlan(batch: Int, steps: Int) -> String {
        rolloutPlan(
            batch: batch, steps: steps,
            gangs: cell.rolloutGangs(batch: batch, steps: steps, threads: options.pool.threadCount))
    }

    /// ``rolloutPlan(batch:steps:)`` for a rollout that runs `gangs` (``RolloutGangs/none``: the
    /// recording rollout of a training step, which always splits its batch by sequences).
    func rolloutPlan(batch: Int, steps: Int, gangs: RolloutGangs) -> String {
        let threads = options.pool.threadCount
        let split = cell.stepSplitWorkers(batch: batch, steps: steps, threads: threads)
        if split > 1 { return "rollout: each step shared by \(split) threads (d = \(cell.hiddenSize))" }
        if gangs.splitsSteps {
            return
                "rollout: batch of \(batch) in \(gangs), each step of a gang's sequences shared by its threads (W_hh of d = \(cell.hiddenSize) exceeds one core's cache)"
        }
        let workers = rolloutWorkers(batch: batch, threads: threads)
        if workers > 1 { return "rollout: batch of \(batch) split over \(workers) workers" }
        return threads > 1 ? "rollout: one thread (a step is too small to share)" : "rollout: one thread"
    }

    /// Steps per block of the streamed rollout: about 256 KiB of projections (L2-resident) for
    /// the worker that rolls them out, at least 64 steps.
    static func streamingBlock(steps: Int, projectionRow: Int) -> Int {
        let bytes = 262_144 / max(1, projectionRow * MemoryLayout<Scalar>.size)
        return min(steps, max(64, bytes))
    }

    /// The method `.automatic` picks, and why.
    ///
    /// A cost model calibrated on x86-64 cores with AVX2 (the README's measurements: a 2-core
    /// machine and a 16-core one), for B sequences of S state values:
    /// - a sequential step costs ≈ 40 ns + 2.8 ns × B·S: a latency-bound chain of
    ///   transcendental functions, plus throughput once the row is wide; divided by the
    ///   rollout's workers when the batch is split (``rolloutWorkers(batch:threads:)``);
    /// - parallel Newton costs ≈ max(14 ns / C(p), 250 B · p / B(p) / p) per state value and
    ///   step over its 3–5 passes (× 3.5·S for dense Jacobians, whose scans multiply d×d
    ///   matrices), plus ≈ 0.5 ms of fixed work: arithmetic that scales with the machine's
    ///   measured arithmetic throughput C(p) of p threads, and ≈ 250 bytes streamed per value
    ///   (Jacobians, offsets, projections, states) at its measured bandwidth B(p) — the
    ///   ParallelScan `MachineProfile` the scans' worker counts come from, so one model knows the
    ///   machine (on the 2-core VM the floor is ≈ 6.6 ns, as calibrated before).
    /// - Newton from chunk rollouts (``NewtonGuess/chunkRollouts``): the one-worker rollout's
    ///   cost × (1 + burn-in / chunk) over the workers' arithmetic scaling C(p), or 16 bytes per value at B(p), whichever is larger,
    ///   plus 0.3 ms — the cost when the seams certify at once, as they do where the recurrence
    ///   contracts (λ ≤ ``weakContraction``; the refinement sends the rest to the rollout).
    /// Newton is chosen when the predicted speedup exceeds 1.2 (the model is good to about 2×);
    /// the prediction is reported.
    public func chooseMethod(steps: Int, batch: Int) -> (SolverMethod, String) {
        chooseMethod(steps: steps, batch: batch, rolloutShare: nil)
    }

    /// ``chooseMethod(steps:batch:)`` with the rollout's parallel share given (a packed solve
    /// spreads its sequences over the workers: total steps / the longest worker's steps).
    func chooseMethod(steps: Int, batch: Int, rolloutShare share: Double?) -> (SolverMethod, String) {
        if options.method != .automatic { return (options.method, "requested") }
        let threads = options.pool.threadCount
        if threads < 2 { return (.sequential, "one thread: parallel Newton cannot win") }
        let stateSize = Double(cell.stateSize)
        let sequences = Double(batch)
        let jacobianCost: Double
        switch cell.structure {
        case .diagonal, .blockDiagonal: jacobianCost = 1
        case .dense: jacobianCost = 3.5 * stateSize
        }
        let length = Double(steps)
        let values = sequences * stateSize
        let rolloutShare = share ?? Double(rolloutWorkers(batch: batch, threads: threads))
        let sequential = length * (40e-9 + 2.8e-9 * values) / rolloutShare
        if sequential < 0.6e-3 {
            // Newton's fixed work alone (≈ 0.5 ms) rules it out: no need to consult the machine.
            let text = String(
                format:
                    "B = %d, state %d, T = %d: the rollout takes ≈ %.2f ms, less than Newton's fixed cost → sequential",
                batch, cell.stateSize, steps, sequential * 1e3)
            return (.sequential, text)
        }
        let profile = options.pool.machine
        let perValue =
            max(
                14e-9 / profile.computeScaling(threads: threads), 250 / profile.bandwidth(threads: threads)
            ) * jacobianCost
        var newton = length * values * perValue + 0.5e-3
        if share == nil, options.newtonGuess == .chunkRollouts {
            // Newton from chunk rollouts (``NewtonGuess``): where the recurrence contracts (the
            // contractivity refinement sends the others to the rollout) the guess is certified
            // at its seams after one pass, so the solve costs one rollout split over the chunks
            // plus their burn-ins, streaming ≈ 16 bytes per state value (projections in, states out).
            let (workers, chunks) = SegmentChunks.plan(steps: steps, threads: threads)
            let chunkLength = steps / chunks
            if chunks > 1, chunkLength >= NewtonGuess.shortestChunk {
                let burnIn = Double(NewtonGuess.burnIn(chunkLength: chunkLength)) / Double(chunkLength)
                let oneWorker = length * (40e-9 + 2.8e-9 * values)
                let guess =
                    max(
                        oneWorker * (1 + burnIn) / profile.computeScaling(threads: workers),
                        length * values * 16 / profile.bandwidth(threads: workers)) + 0.3e-3
                newton = min(newton, guess)
            }
        }
        let predicted = sequential / newton
        let text = String(
            format: "B = %d, state %d, %@ Jacobian, T = %d, %d threads: predicted Newton speedup %.2f×",
            batch, cell.stateSize, cell.structure.description, steps, threads, predicted)
        return predicted > 1.2 ? (.newton, text + " → parallel Newton") : (.sequential, text + " → sequential")
    }

    struct SegmentResult {
        var attempts: [SolveAttempt]
        var method: SolverMethod
        var residual: Double
        var converged: Bool
        /// The segment's states were all found finite as they were written
        /// (``NewtonEngine/statesCheckedFinite``): the finite-state guard may skip them.
        var statesCheckedFinite = false
    }

    func solveSegment(
        method: SolverMethod, steps: Int, batch: Int, projections: UnsafePointer<Scalar>,
        previous: UnsafePointer<Scalar>, states: UnsafeMutablePointer<Scalar>, hasGuess: Bool,
        tolerance: Double, segment: Int, segments: Int, packing: PackedStarts<Scalar>? = nil,
        pendingInputs: UnsafePointer<Scalar>? = nil
    ) -> SegmentResult {
        // Inputs not projected yet: the fused first Newton pass projects them as it goes; any
        // other path projects them first.
        var pendingInputs = pendingInputs
        func projectPending() {
            guard let inputs = pendingInputs else { return }
            cell.project(
                inputs: inputs, steps: steps, batch: batch, projections: UnsafeMutablePointer(mutating: projections),
                pool: options.pool)
            pendingInputs = nil
        }
        func rollout(
            steps: Int, batch: Int, projections: UnsafePointer<Scalar>, previous: UnsafePointer<Scalar>,
            states: UnsafeMutablePointer<Scalar>
        ) {
            if let packing {
                packedRollout(batch: batch, projections: projections, packing: packing, states: states)
            } else {
                self.rollout(steps: steps, batch: batch, projections: projections, previous: previous, states: states)
            }
        }
        if method == .sequential {
            projectPending()
            rollout(steps: steps, batch: batch, projections: projections, previous: previous, states: states)
            let attempt = SolveAttempt(
                method: .sequential, iterations: 0, residualHistory: [0], converged: true,
                outcome: "sequential rollout: exact by construction")
            return SegmentResult(attempts: [attempt], method: .sequential, residual: 0, converged: true)
        }
        var order: [SolverMethod] = [method]
        if options.fallback {
            if method != .elk { order.append(.elk) }
            order.append(.sequential)
        }
        var attempts: [SolveAttempt] = []
        var useGuess = hasGuess
        // Start from chunk rollouts (``NewtonGuess``), and stop there when their seams certify.
        // Fused plain Newton does this in its first pass. ELK in the chain restarts from them too
        // (not from f(0, u)): the failed attempt's iterate is discarded either way, and the
        // rollouts are exact but for their seams.
        let rollsOutChunks = !hasGuess && packing == nil && options.newtonGuess == .chunkRollouts
        // What the chunk-rollout guess said of the attempt about to start ("" if not used), and
        // the sequential depth of its seam repair.
        var guessNote = ""
        var repairDepth = 0
        /// The chunk-rollout guess into `states` for `candidate`'s attempt (its seams repaired,
        /// ``SeamRepairs``): a certified attempt when its seams meet the tolerance, otherwise nil
        /// (then `useGuess` tells whether it applied).
        func startFromChunkRollouts(_ candidate: SolverMethod) -> SolveAttempt? {
            projectPending()
            guard
                let guess = chunkRolloutGuess(
                    steps: steps, batch: batch, projections: projections, previous: previous, states: states,
                    repairsSeams: true)
            else { return nil }
            repairDepth = guess.seamRepairs.depth
            var rollouts = "exact rollouts of \(guess.chunks) chunks after \(guess.burnIn)-step burn-ins"
            if guess.seamRepairs.reburned > 0 {
                rollouts += ", \(guess.seamRepairs.reburned) again after longer burn-ins"
            }
            if guess.seamRepairs.chunks > 0 {
                let r = guess.seamRepairs
                rollouts +=
                    ", \(r.chunks) rolled out again from their predecessors' seams in \(r.sweeps) sweep\(r.sweeps == 1 ? "" : "s") (\(r.steps) steps, depth \(r.depth) = \(r.depth * 100 / max(1, steps)) % of T)"
            }
            guard guess.residual > tolerance else {
                return SolveAttempt(
                    method: candidate, iterations: 0, residualHistory: [guess.residual], converged: true,
                    outcome: "converged at the guess: \(rollouts), seams certified")
            }
            useGuess = true
            guessNote = "; started from \(rollouts) (seam residual \(String(format: "%.3g", guess.residual)))"
            return nil
        }
        let fusedNewton = method == .newton && cell.fusedNewtonBlockSize != nil
        if rollsOutChunks, !fusedNewton, let certified = startFromChunkRollouts(method) {
            return SegmentResult(
                attempts: [certified], method: method, residual: certified.residualHistory[0], converged: true)
        }
        for candidate in order {
            if rollsOutChunks, !attempts.isEmpty, candidate != .sequential,
                let certified = startFromChunkRollouts(candidate)
            {
                attempts.append(certified)
                return SegmentResult(
                    attempts: attempts, method: candidate, residual: certified.residualHistory[0], converged: true)
            }
            if candidate == .sequential {
                projectPending()
                rollout(steps: steps, batch: batch, projections: projections, previous: previous, states: states)
                attempts.append(
                    SolveAttempt(
                        method: .sequential, iterations: 0, residualHistory: [0], converged: true,
                        outcome: "fallback: sequential rollout, exact by construction"))
                return SegmentResult(attempts: attempts, method: .sequential, residual: 0, converged: true)
            }
            let engine = NewtonEngine(
                cell: cell, steps: steps, batch: batch, projections: projections,
                previous: previous, states: states, pool: options.pool)
            engine.packing = packing
            engine.timings = options.phaseTimings
            engine.compactJacobians = options.compactJacobians
            engine.newtonGuess = options.newtonGuess
            engine.chunkThreads = options.chunkThreads
            engine.sideWork = options.sideWork
            engine.seamRepairDepth = useGuess && !hasGuess ? repairDepth : 0
            if let inputs = pendingInputs {
                if candidate == .newton, engine.fusedBlockSize != nil {
                    engine.pendingProjection = .init(
                        inputs: inputs, target: UnsafeMutablePointer(mutating: projections))
                    pendingInputs = nil  // the first pass projects every row
                } else {
                    projectPending()
                }
            }
            let maxIterations = options.maxIterations ?? min(steps + 1, 100)
            let report = { (iteration: Int, residual: Double) -> Void in
                options.progress?(
                    SolverProgress(
                        method: candidate, iteration: iteration, residual: residual,
                        segment: segment, segments: segments))
            }
            var attempt: SolveAttempt
            if candidate == .newton, engine.fusedBlockSize != nil {
                attempt = engine.iterateFused(
                    tolerance: tolerance, maxIterations: maxIterations, hasGuess: useGuess,
                    report: report)
            } else if candidate == .elk {
                if !useGuess { engine.initialiseGuess() }
                attempt = engine.iterateELK(tolerance: tolerance, maxIterations: maxIterations, report: report)
            } else {
                if !useGuess { engine.initialiseGuess() }
                attempt = engine.iterate(
                    method: candidate, tolerance: tolerance, maxIterations: maxIterations,
                    dampingBound: options.dampingBound, report: report)
            }
            useGuess = false
            attempt.outcome += guessNote
            guessNote = ""
            attempts.append(attempt)
            if attempt.converged {
                return SegmentResult(
                    attempts: attempts, method: candidate,
                    residual: attempt.residualHistory.last ?? 0, converged: true,
                    statesCheckedFinite: engine.statesCheckedFinite)
            }
        }
        return SegmentResult(
            attempts: attempts, method: attempts.last?.method ?? method,
            residual: attempts.last?.residualHistory.last ?? .infinity, converged: false)
    }

    /// The sequential rollout s_t = f(s_{t−1}, u_t), its batch split across the pool's workers
    /// when ``rolloutWorkers(batch:threads:)`` says so (no synchronisation between steps: each
    /// worker rolls out its own sequences).
    func rollout(
        steps: Int, batch: Int, projections: UnsafePointer<Scalar>, previous: UnsafePointer<Scalar>,
        states: UnsafeMutablePointer<Scalar>
    ) {
        let workers = rolloutWorkers(batch: batch, threads: options.pool.threadCount)
        if workers == 1 {
            cell.rollout(
                steps: 0..<steps, batch: batch, previous: previous, projections: projections,
                states: states)
            return
        }
        // Each worker rolls its sequences out in private buffers and copies the states back once:
        // in the shared rows, neighbouring workers' entries share cache lines (an LSTM d = 4
        // entry is half a line), and writing them every step made the lines bounce between
        // cores on the recurrence's critical path.
        let (u, h0, h) = (UnsafeSendable(projections), UnsafeSendable(previous), UnsafeMutableSendable(states))
        let (n, d, gates) = (cell.stateSize, cell.hiddenSize, cell.gateCount)
        options.pool.forEach(workers) { part in
            let entries = ChunkPlan.evenRange(index: part, of: workers, total: batch)
            let e = entries.count
            let (b0, row, ownRow) = (entries.lowerBound, batch * n, e * n)
            let own = ScratchBuffers<Scalar>(counts: [steps * gates * e * d, steps * ownRow, ownRow])
            defer { own.deallocate() }
            let (ownProjections, ownStates, ownPrevious) = (own[0], own[1], own[2])
            // Rows (t, gate) of `[T][G][B][d]`: this worker's entries are e·d values at b0·d.
            copyRows(
                ownProjections, stride: e * d, u.base + b0 * d, stride: batch * d, count: e * d, rows: steps * gates)
            copyScalars(ownPrevious, h0.base + b0 * n, count: ownRow)
            cell.rollout(
                steps: 0..<steps, batch: e, previous: ownPrevious, projections: ownProjections, states: ownStates)
            copyRows(h.base + b0 * n, stride: row, ownStates, stride: ownRow, count: ownRow, rows: steps)
        }
    }

    /// How many workers a sequential rollout of `batch` sequences uses with `threads` threads:
    /// one per group of sequences when the cell rolls its batch entries out independently
    /// (``RecurrentCell/rollsOutEntriesIndependently``), at most one per sequence; otherwise
    /// one. A sequence is never split, so more threads never add per-step synchronisation and
    /// never make a rollout slower than one thread.
    public func rolloutWorkers(batch: Int, threads: Int) -> Int {
        cell.rollsOutEntriesIndependently ? max(1, min(batch, threads)) : 1
    }

    /// Evaluates the sequential rollout (the reference) for inputs `[T][B][m]`.
    public func rollout(
        inputs: [Scalar], steps: Int, batch: Int, initialState: [Scalar]? = nil
    ) throws(SolverError) -> [Scalar] {
        var sequential = self
        sequential.options.method = .sequential
        return try sequential.solve(
            inputs: inputs, steps: steps, batch: batch, initialState: initialState
        ).states
    }
}
