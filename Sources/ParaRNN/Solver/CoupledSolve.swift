import Foundation
import ParallelScan

extension SequenceSolver {
    /// Solves this process's segment of a sequence split across processes (``SegmentCoupling``).
    ///
    /// Parallel Newton over the whole sequence. Plain Newton of a cell with fused passes runs
    /// the one-process engine's fused passes on every segment
    /// (``coupledFusedNewton(steps:batch:inputs:projections:initial:states:tolerance:maxIterations:coupling:checkThreshold:)``);
    /// quasi-Newton and dense Jacobians run, every iteration:
    /// 1. the boundary exchange: each segment sends its last state row to the next
    ///    (s_{start−1} of the current iterate);
    /// 2. locally and in parallel over chunks: F_t = f(s_{t−1}, u_t), J_t, the residual and the
    ///    offsets b_t = F_t − J_t s_{t−1} (one fused kernel for cells that fuse them);
    /// 3. the global residual (max over segments) — every segment takes the same decision;
    /// 4. s ← the affine scan of (J, b) across segments (the coupling's distributed scan).
    /// `.sequential` pipelines the segments: each rolls out from the previous one's end state.
    /// With ``SolverOptions/segmentLength`` set (and any other method), each segment solves
    /// its steps in cache-sized pieces instead and the segments' entering states are corrected
    /// afterwards (``streamedCoupledSolve(inputs:steps:batch:initialState:segmentLength:coupling:)``).
    /// `.automatic` and `.newton` run Newton, `.quasiNewton` the diagonal-Jacobian variant; on
    /// a miss with `fallback` on, the pipelined rollout (exact by construction) follows. ELK and
    /// damped Newton run in pieces only (without `segmentLength` an `invalidOption` error says
    /// so).
    ///
    /// `initialState` is the state before the whole sequence, given on every segment.
    func solveCoupled(
        inputs: [Scalar], steps: Int, batch: Int, initialState: [Scalar]?,
        coupling: any SegmentCoupling
    ) throws(SolverError) -> Solution<Scalar> {
        let requested = options.method
        let row = cell.stateRowSize(batch: batch)
        let h0 = initialState ?? zeroArray(Scalar.self, count: row)
        if let length = options.segmentLength, requested != .sequential {
            return streamedCoupledSolve(
                inputs: inputs, steps: steps, batch: batch, initialState: h0, segmentLength: length,
                coupling: coupling)
        }
        if requested == .elk || requested == .damped {
            throw .invalidOption(
                "method \(requested.rawValue) runs across processes only in pieces (set segmentLength; without it use newton, quasi-newton or sequential)"
            )
        }
        let tolerance = options.tolerance ?? Self.defaultTolerance
        let totalSteps = coupling.sum(steps)
        var states = uninitializedArray(Scalar.self, count: steps * row)
        let method: SolverMethod = requested == .automatic ? .newton : requested
        let decision =
            requested == .automatic
            ? "across \(coupling.segments) processes: parallel Newton" : "requested"
        var attempts: [SolveAttempt] = []
        var converged = true
        var residual = 0.0
        var finalMethod = method
        // Plain Newton of a cell with fused passes runs them (the first pass projects the inputs
        // block by block); every other path projects all inputs first.
        let fused = method == .newton && cell.fusedNewtonBlockSize != nil
        var projections =
            fused
            ? uninitializedArray(Scalar.self, count: steps * cell.projectionRowSize(batch: batch))
            : cell.projections(of: inputs, steps: steps, batch: batch, pool: options.pool)
        inputs.withUnsafeBufferPointer { x in
            projections.withUnsafeMutableBufferPointer { u in
                states.withUnsafeMutableBufferPointer { h in
                    h0.withUnsafeBufferPointer { h0 in
                        let (x, u, h, h0) = (x.baseAddress!, u.baseAddress!, h.baseAddress!, h0.baseAddress!)
                        if method != .sequential {
                            let maxIterations = options.maxIterations ?? min(totalSteps + 1, 100)
                            let attempt =
                                fused
                                ? coupledFusedNewton(
                                    steps: steps, batch: batch, inputs: x, projections: u, initial: h0, states: h,
                                    tolerance: tolerance, maxIterations: maxIterations, coupling: coupling)
                                : coupledNewton(
                                    method: method, steps: steps, batch: batch, projections: UnsafePointer(u),
                                    initial: h0, states: h, tolerance: tolerance,
                                    maxIterations: maxIterations, coupling: coupling)
                            attempts.append(attempt)
                            residual = attempt.residualHistory.last ?? .nan
                            converged = attempt.converged
                        }
                        if method == .sequential || (!converged && options.fallback) {
                            pipelinedRollout(
                                steps: steps, batch: batch, projections: UnsafePointer(u), initial: h0, states: h,
                                coupling: coupling)
                            attempts.append(
                                SolveAttempt(
                                    method: .sequential, iterations: 0, residualHistory: [0], converged: true,
                                    outcome: method == .sequential
                                        ? "sequential rollout pipelined over \(coupling.segments) processes: exact by construction"
                                        : "fallback: sequential rollout pipelined over \(coupling.segments) processes"))
                            residual = 0
                            converged = true
                            finalMethod = .sequential
                        }
                    }
                }
            }
        }
        let solution = Solution(
            states: states, steps: steps, batch: batch, method: finalMethod, attempts: attempts,
            converged: converged, finalResidual: residual, tolerance: tolerance,
            decision: decision, segments: 1)
        return Self.guardingFiniteStates(solution, row: row, segmentEnds: [attempts.count], segmentLength: steps)
    }

    /// Segment r waits for segment r − 1's end state, rolls out its steps, passes its own on.
    func pipelinedRollout(
        steps: Int, batch: Int, projections: UnsafePointer<Scalar>, initial: UnsafePointer<Scalar>,
        states: UnsafeMutablePointer<Scalar>, coupling: any SegmentCoupling
    ) {
        let row = cell.stateRowSize(batch: batch)
        var previous = Array(UnsafeBufferPointer(start: initial, count: row))
        previous.withUnsafeMutableBufferPointer { p in
            coupling.receiveFromPrevious(into: p.baseAddress!, count: row)
            rollout(
                steps: steps, batch: batch, projections: projections, previous: UnsafePointer(p.baseAddress!),
                states: states)
        }
        coupling.sendToNext(UnsafePointer(states + (steps - 1) * row), count: row)
    }

    /// Plain Newton over this segment in the one-process engine's fused passes
    /// (``NewtonEngine/iterateFused(tolerance:maxIterations:hasGuess:checkThreshold:link:report:)``):
    /// per iteration one memory pass that solves from the chunks' carry-ins, linearises and
    /// reduces each chunk to its map; then the global residual (`maxResidual`), the segment's
    /// map composed from its chunks' and one exclusive scan of the segments' maps
    /// (``SegmentCoupling/enterSegment(summary:blocks:blockSize:initial:entry:)``), which gives
    /// the state entering the segment for the next pass. Per iteration the segments exchange
    /// one summary and one residual; no boundary rows, no separate scan pass.
    ///
    /// The first pass starts from s⁽⁰⁾_t = f(0, u_t); its first step needs s⁽⁰⁾ at the step
    /// before the segment, f(0, u) at the previous segment's last step, which each segment
    /// computes for its own last step and passes on (`shiftBoundary`). `projections` are
    /// written by the first pass; `checkThreshold` as in `iterateFused` (tests force checks).
    func coupledFusedNewton(
        steps: Int, batch: Int, inputs: UnsafePointer<Scalar>, projections: UnsafeMutablePointer<Scalar>,
        initial: UnsafePointer<Scalar>, states: UnsafeMutablePointer<Scalar>, tolerance: Double,
        maxIterations: Int, coupling: any SegmentCoupling, checkThreshold: Double? = nil
    ) -> SolveAttempt {
        let row = cell.stateRowSize(batch: batch)
        let urow = cell.projectionRowSize(batch: batch)
        let (entry, last, lastU) = (
            UnsafeMutablePointer<Scalar>.allocate(capacity: row),
            UnsafeMutablePointer<Scalar>.allocate(capacity: row),
            UnsafeMutablePointer<Scalar>.allocate(capacity: urow)
        )
        defer { [entry, last, lastU].forEach { $0.deallocate() } }
        // f(0, u) at this segment's last step, passed to the next segment.
        InputProjection(cell).project(
            inputs: inputs + (steps - 1) * batch * cell.inputSize, rows: 0..<1, batch: batch, into: lastU)
        let zeros = zeroArray(Scalar.self, count: row)
        zeros.withUnsafeBufferPointer { z in
            cell.linearize(
                steps: 0..<1, batch: batch, previous: z.baseAddress!, states: z.baseAddress!,
                projections: UnsafePointer(lastU), values: last, jacobians: nil, request: .structured)
        }
        entry.update(from: initial, count: row)
        coupling.shiftBoundary(last: UnsafePointer(last), previous: entry, count: row)
        let engine = NewtonEngine(
            cell: cell, steps: steps, batch: batch, projections: UnsafePointer(projections),
            previous: UnsafePointer(entry), states: states, pool: options.pool)
        engine.timings = options.phaseTimings
        engine.compactJacobians = options.compactJacobians
        engine.pendingProjection = .init(inputs: inputs, target: projections)
        let link = FusedSegmentLink(coupling: coupling, initial: initial, entry: entry)
        let progress = options.progress
        return engine.iterateFused(
            tolerance: tolerance, maxIterations: maxIterations, hasGuess: false, checkThreshold: checkThreshold,
            link: link
        ) { iteration, residual in
            progress?(
                SolverProgress(
                    method: .newton, iteration: iteration, residual: residual, segment: coupling.segment,
                    segments: coupling.segments))
        }
    }

    /// Newton iterations over this segment with the boundary exchange, the global residual and
    /// the distributed scan (see ``solveCoupled(inputs:steps:batch:initialState:coupling:)``).
    func coupledNewton(
        method: SolverMethod, steps: Int, batch: Int, projections: UnsafePointer<Scalar>,
        initial: UnsafePointer<Scalar>, states: UnsafeMutablePointer<Scalar>, tolerance: Double,
        maxIterations: Int, coupling: any SegmentCoupling
    ) -> SolveAttempt {
        let pool = options.pool
        let row = cell.stateRowSize(batch: batch)
        let request: JacobianRequest = method == .quasiNewton ? .diagonalOnly : .structured
        let structure: JacobianStructure = request == .diagonalOnly ? .diagonal : cell.structure
        let jrow = cell.jacobianRowSize(batch: batch, request: request)
        // The Jacobians `[T][jrow]`, the offsets `[T][row]` and the state before the segment `[row]`.
        let (jacobians, offsets, previous) = (
            UnsafeMutablePointer<Scalar>.allocate(capacity: steps * jrow),
            UnsafeMutablePointer<Scalar>.allocate(capacity: steps * row),
            UnsafeMutablePointer<Scalar>.allocate(capacity: row)
        )
        defer { [jacobians, offsets, previous].forEach { $0.deallocate() } }
        previous.update(from: initial, count: row)
        let parts = max(1, min(pool.threadCount * 4, steps / 64))
        let chunks = (0..<parts).map { ChunkPlan.evenRange(index: $0, of: parts, total: steps) }
        let cell = self.cell
        let u = UnsafeSendable(projections)
        let h = UnsafeMutableSendable(states)
        let f = UnsafeMutableSendable(offsets)
        let jac = UnsafeMutableSendable(jacobians)
        let prev = UnsafeSendable(UnsafePointer(previous))
        // The initial guess s_t = f(0, u_t) (ParaRNN's), from zero states.
        parallelZeroFill(states, count: steps * row, pool: pool)
        let zeros = zeroArray(Scalar.self, count: row)
        zeros.withUnsafeBufferPointer { z in
            let z = UnsafeSendable(z.baseAddress!)
            pool.forEach(chunks.count) { c in
                cell.linearize(
                    steps: chunks[c], batch: batch, previous: z.base, states: UnsafePointer(h.base),
                    projections: u.base, values: f.base, jacobians: nil, request: .structured)
            }
        }
        copyScalars(states, UnsafePointer(offsets), count: steps * row)
        var monitor = ConvergenceMonitor(method: method, tolerance: tolerance, maxIterations: maxIterations)
        let stateSize = cell.stateSize
        let fuse = cell.fusesNewtonOffsets && request == .structured
        for iteration in 0...maxIterations {
            coupling.shiftBoundary(last: UnsafePointer(states + (steps - 1) * row), previous: previous, count: row)
            var residuals = [Double](repeating: 0, count: chunks.count)
            residuals.withUnsafeMutableBufferPointer { res in
                let res = UnsafeMutableSendable(res.baseAddress!)
                pool.forEach(chunks.count) { c in
                    let range = chunks[c]
                    let first = range.lowerBound == 0 ? prev.base : UnsafePointer(h.base + (range.lowerBound - 1) * row)
                    // (Each chunk's first step reads s_{t−1} from the states before it, or the
                    // previous rank's boundary state for the first chunk.)
                    // Flushed subnormals, as the one-process fused passes (withSubnormalsFlushed).
                    res.base[c] = withSubnormalsFlushed {
                        cell.linearizeChunk(
                            range, batch: batch, previous: first, states: UnsafePointer(h.base),
                            projections: u.base, values: f.base, jacobians: jac.base, request: request,
                            structure: structure, fuse: fuse, clip: nil)
                    }
                }
            }
            let residual = coupling.maxResidual(residuals.reduce(0, combineResiduals))
            options.progress?(
                SolverProgress(
                    method: method, iteration: iteration, residual: residual, segment: coupling.segment,
                    segments: coupling.segments))
            if let finished = monitor.record(residual, iteration: iteration) { return finished }
            coupling.scan(
                structure: structure, jacobians: UnsafePointer(jacobians), offsets: UnsafePointer(offsets),
                steps: steps, batch: batch, stateSize: stateSize, initial: initial, output: states,
                pool: pool)
        }
        return monitor.limitReached()
    }
}
