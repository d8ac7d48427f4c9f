import ParallelScan

/// The buffers and steps of Newton iterations over one segment of a sequence.
///
/// Buffers: states H `[T][row]` (owned by the caller, updated in place), offsets/values
/// `[T][row]` and Jacobians `[T][jrow]`. One iteration:
/// 1. in parallel over chunks of t: F_t = f(H_{t−1}, u_t), J_t, the residual
///    ‖H_t − F_t‖∞ / max(1, ‖F_t‖∞), and the offset b_t = F_t − J_t H_{t−1} (in place of F);
/// 2. if the residual meets the tolerance, stop: H is certified;
/// 3. H ← the affine scan of (J, b) from the segment's initial state.
final class NewtonEngine<Cell: RecurrentCell> {
    typealias Scalar = Cell.Scalar
    let cell: Cell
    let steps: Int, batch: Int, row: Int
    let projections: UnsafePointer<Scalar>
    let previous: UnsafePointer<Scalar>
    let states: UnsafeMutablePointer<Scalar>
    let pool: WorkerPool
    let offsets: UnsafeMutablePointer<Scalar>
    var jacobians: UnsafeMutablePointer<Scalar>? = nil
    var jacobianCapacity = 0
    /// Several sequences packed end to end (see ``PackedStarts``); nil for one sequence.
    var packing: PackedStarts<Scalar>? = nil
    /// Inputs whose projections are not computed yet: the first fused pass projects each block
    /// of rows just before it linearises them (``iterateFused``), and every other path calls
    /// ``projectPending()`` first.
    var pendingProjection: PendingProjection? = nil
    /// Where the fused passes record per-phase, per-worker time (nil: not timed).
    var timings: NewtonPhaseTimings? = nil
    /// Fused passes store the Jacobians as Float16 (Float solves only; ``CompactJacobians``).
    var compactJacobians = false
    /// Where fused plain Newton starts without a given guess (``NewtonGuess``).
    var newtonGuess: NewtonGuess = .zeroState
    /// The thread count fused Newton plans its chunks for (``SolverOptions/chunkThreads``;
    /// nil: the pool's).
    var chunkThreads: Int? = nil
    /// The sequential depth the start's seam repair spent (``SeamRepairs/depth``), counted
    /// against ELK's front budget (``ELKRepair``).
    var seamRepairDepth = 0
    /// Work offered to the fused passes' workers (``SolverOptions/sideWork``).
    var sideWork: [SideWork] = []
    /// Whether the states fused Newton returned are those of its chunk-rollout guess pass
    /// (certified at the guess, no Newton step) and that pass found every one of them finite:
    /// it scans each block of states right after rolling it out, while the block is in cache,
    /// so the solver's finite-state guard need not read the segment again
    /// (``SequenceSolver/guardingFiniteStates(_:row:segmentEnds:segmentLength:pool:)``).
    var statesCheckedFinite = false

    /// Inputs `[T][B][m]` to be projected into `target` (the engine's `projections`).
    struct PendingProjection {
        let inputs: UnsafePointer<Scalar>
        let target: UnsafeMutablePointer<Scalar>
    }

    /// Projects pending inputs over the whole segment (paths other than the fused first pass).
    func projectPending() {
        guard let pending = pendingProjection else { return }
        cell.project(inputs: pending.inputs, steps: steps, batch: batch, projections: pending.target, pool: pool)
        pendingProjection = nil
    }

    init(
        cell: Cell, steps: Int, batch: Int, projections: UnsafePointer<Scalar>,
        previous: UnsafePointer<Scalar>, states: UnsafeMutablePointer<Scalar>, pool: WorkerPool
    ) {
        self.cell = cell
        self.steps = steps
        self.batch = batch
        self.row = cell.stateRowSize(batch: batch)
        self.projections = projections
        self.previous = previous
        self.states = states
        self.pool = pool
        // Written by every linearisation before it is read.
        offsets = .allocate(capacity: steps * row)
    }

    deinit {
        offsets.deallocate()
        jacobians?.deallocate()
    }

    /// Chunks of t for the parallel passes.
    /// Packed sequences: also cut at every sequence start, so no chunk spans two sequences.
    var chunks: [Range<Int>] {
        let parts = max(1, min(pool.threadCount * 4, steps / 64))
        let even = (0..<parts).map { ChunkPlan.evenRange(index: $0, of: parts, total: steps) }
        return packing?.boundaries.splitting(even) ?? even
    }

    /// The state before step `t` for a chunk that starts at `t`: the initial state of the
    /// sequence that starts there, else the iterate at t − 1.
    @inline(__always)
    static func stateBefore(
        _ t: Int, initial: UnsafePointer<Scalar>, states: UnsafePointer<Scalar>, row: Int,
        packing: PackedStarts<Scalar>?
    ) -> UnsafePointer<Scalar> {
        if t == 0 { return initial }
        if let packing, let start = packing.initialIfStart(t) { return start }
        return states + (t - 1) * row
    }

    /// s_t^{(0)} = f(0, u_t) for every t (ParaRNN's initial guess): embarrassingly parallel.
    /// With H = 0, one linearisation pass yields f(0, u_t) at every t (into the offsets buffer).
    func initialiseGuess() {
        parallelZeroFill(states, count: steps * row, pool: pool)
        let zeros = zeroArray(Scalar.self, count: row)
        let chunks = self.chunks
        let (cell, batch) = (self.cell, self.batch)
        zeros.withUnsafeBufferPointer { z in
            pool.forEach(chunks.count) { c in
                cell.linearize(
                    steps: chunks[c], batch: batch, previous: z.baseAddress!, states: UnsafePointer(states),
                    projections: projections, values: offsets, jacobians: nil, request: .structured)
            }
        }
        copyStates(from: offsets)
    }

    /// Runs Newton iterations of `method` (newton, quasi-newton or damped).
    func iterate(
        method: SolverMethod, tolerance: Double, maxIterations: Int, dampingBound: Double,
        report: (Int, Double) -> Void
    ) -> SolveAttempt {
        let request: JacobianRequest = method == .quasiNewton ? .diagonalOnly : .structured
        let jrow = cell.jacobianRowSize(batch: batch, request: request)
        reserveJacobians(steps * jrow)
        let structure: JacobianStructure = request == .diagonalOnly ? .diagonal : cell.structure
        var monitor = ConvergenceMonitor(method: method, tolerance: tolerance, maxIterations: maxIterations)
        let clip: Scalar? = method == .damped ? Scalar(dampingBound) : nil
        // Damped Newton also backtracks: a step that blows the residual up (more than 10× the
        // last accepted one, or to NaN/Inf) is halved towards the previous iterate, up to 8
        // times. Milder increases are accepted: they are how Newton's finite-termination
        // progress (step t exact after t iterations) shows in a max-norm residual.
        let previous: UnsafeMutablePointer<Scalar>? = method == .damped ? .allocate(capacity: steps * row) : nil
        defer { previous?.deallocate() }
        var accepted = Double.infinity
        // An overflowed step is bounded (see ``boundStates()``) and linearised again.
        var bounded = 0
        func measure() -> Double {
            let residual = linearise(request: request, structure: structure, jrow: jrow, clip: clip)
            if residual.isFinite || boundStates() == 0 { return residual }
            bounded += 1
            return linearise(request: request, structure: structure, jrow: jrow, clip: clip)
        }
        for iteration in 0...maxIterations {
            var residual = measure()
            if let previous, iteration > 0 {
                var halvings = 0
                while !(residual <= 10 * accepted), halvings < 8 {
                    blend(previous, halvings: halvings)
                    residual = measure()
                    halvings += 1
                }
            }
            accepted = residual
            report(iteration, residual)
            if let finished = monitor.record(residual, iteration: iteration) { return noteOverflows(finished, bounded) }
            // Undamped steps that overflowed will overflow again: leave it to the fallback.
            if bounded > 0, clip == nil {
                return noteOverflows(monitor.stopped(iteration, "step overflowed"), bounded)
            }
            if let previous { copyStates(to: previous) }
            scan(structure: structure)
        }
        return noteOverflows(monitor.limitReached(), bounded)
    }

    /// The values `[T][row]` of each chunk of t (``chunks``), as flat index ranges, mapped by
    /// `body` in parallel; the results in chunk order.
    ///
    ///     let changed = mapChunkValues { v in boundValues(states + v.lowerBound, count: v.count, bound: m) }
    func mapChunkValues<T>(_ body: (_ values: Range<Int>) -> T) -> [T] {
        let chunks = self.chunks
        let row = self.row
        return pool.map(chunks.count) { c in body((chunks[c].lowerBound * row)..<(chunks[c].upperBound * row)) }
    }

    /// Saves the current states (parallel copy).
    func copyStates(to target: UnsafeMutablePointer<Scalar>) {
        _ = mapChunkValues { v in copyScalars(target + v.lowerBound, states + v.lowerBound, count: v.count) }
    }

    /// Copies `source` into the states (parallel).
    func copyStates(from source: UnsafePointer<Scalar>) {
        _ = mapChunkValues { v in copyScalars(states + v.lowerBound, source + v.lowerBound, count: v.count) }
    }

    /// H ← (H + H_previous)/2: halves the last step (the k-th halving of a backtrack).
    func blend(_ previousStates: UnsafeMutablePointer<Scalar>, halvings: Int) {
        let h = states
        _ = mapChunkValues { v in
            for i in v { h[i] = (h[i] + previousStates[i]) * 0.5 }
        }
    }

    /// Pass 1 of an iteration; returns the residual of the current states.
    func linearise(request: JacobianRequest, structure: JacobianStructure, jrow: Int, clip: Scalar?)
        -> Double
    {
        let chunks = self.chunks
        let (cell, batch, row, packing) = (self.cell, self.batch, self.row, self.packing)
        let (states, values, jacobians) = (UnsafePointer(self.states), offsets, self.jacobians!)
        // Cells that can fold the residual and offsets into their kernel save a memory pass.
        let fuse = cell.fusesNewtonOffsets && clip == nil && request == .structured
        let residuals = pool.map(chunks.count) { c in
            let range = chunks[c]
            let first = Self.stateBefore(
                range.lowerBound, initial: previous, states: states, row: row, packing: packing)
            return cell.linearizeChunk(
                range, batch: batch, previous: first, states: states, projections: projections, values: values,
                jacobians: jacobians, request: request, structure: structure, fuse: fuse, clip: clip)
        }
        return residuals.reduce(0, combineResiduals)
    }

    /// Pass 2: H ← scan(J, b) from the segment's initial state.
    func scan(structure: JacobianStructure) {
        if let packing {
            scanPacked(structure: structure, packing: packing)
            return
        }
        AffineScan.scanUnchecked(
            structure.scanShape(batch: batch, stateSize: cell.stateSize), a: jacobians!, b: offsets, steps: steps,
            initial: previous, output: states, transposed: false, reverse: false, pool: pool)
    }
}

/// The stopping rules shared by every Newton iteration loop: convergence, a non-finite
/// residual, stagnation and the iteration limit.
struct ConvergenceMonitor {
    let method: SolverMethod
    let tolerance: Double
    let maxIterations: Int
    private(set) var history: [Double] = []
    /// Iterations without a halving of the best residual before the attempt stagnates.
    let patience: Int
    private var best = Double.infinity
    private var sinceImprovement = 0

    init(method: SolverMethod, tolerance: Double, maxIterations: Int, patience: Int = 25) {
        self.method = method
        self.tolerance = tolerance
        self.maxIterations = maxIterations
        self.patience = patience
    }

    /// Records the residual of the iterate after `iteration` Newton steps; returns the finished
    /// attempt when this ends the solve, nil when another step should be taken.
    mutating func record(_ residual: Double, iteration: Int) -> SolveAttempt? {
        history.append(residual)
        if residual <= tolerance { return attempt(iteration, converged: true, "converged") }
        if !residual.isFinite {
            return attempt(iteration, converged: false, "non-finite residual (overflow or divergence)")
        }
        // The reference moves only when the residual halves, so this counts iterations since
        // the last halving.
        if residual < best * 0.5 {
            best = residual
            sinceImprovement = 0
        } else {
            sinceImprovement += 1
        }
        // Newton converges at worst one step of t per iteration; a residual that has not halved
        // in 25 iterations while T allows many more is stagnating at a rounding floor.
        if sinceImprovement >= patience {
            return attempt(
                iteration, converged: false,
                "stagnated at residual \(residual) (tolerance \(tolerance))")
        }
        if iteration >= maxIterations { return limitReached() }
        return nil
    }

    /// The attempt stopped after `iteration` for `reason` (not converged).
    func stopped(_ iteration: Int, _ reason: String) -> SolveAttempt {
        attempt(iteration, converged: false, reason)
    }

    /// The attempt that ran out of iterations.
    func limitReached() -> SolveAttempt {
        attempt(maxIterations, converged: false, "iteration limit \(maxIterations) reached")
    }

    private func attempt(_ iterations: Int, converged: Bool, _ outcome: String) -> SolveAttempt {
        SolveAttempt(
            method: method, iterations: iterations, residualHistory: history,
            converged: converged, outcome: outcome)
    }
}

/// max_i |s_i − F_i| / max(1, |F_i|) over `count` values (NaN if any is NaN): blocks of a
/// branch-free loop (it vectorises), then the max over each block.
@_specialize(where S == Float)
@_specialize(where S == Double)
func relativeResidual<S: ScanScalar>(
    states: UnsafePointer<S>, values: UnsafePointer<S>, count: Int
) -> Double {
    var worst = 0.0
    let blockSize = 1024
    let residuals = UnsafeMutablePointer<S>.allocate(capacity: blockSize)
    defer { residuals.deallocate() }
    var start = 0
    while start < count {
        let n = min(blockSize, count - start)
        let h = states + start
        let f = values + start
        for i in 0..<n { residuals[i] = abs(h[i] - f[i]) / max(1, abs(f[i])) }
        worst = combineResiduals(worst, maximumResidual(residuals, count: n))
        start += n
    }
    return worst
}

/// For the steps of `range` (`initial`: the state before its first step): the residual max ‖H_t − F_t‖ / max(1, |F_t|) (NaN if any is NaN),
/// then optional clipping of J_t, then b_t = F_t − J_t H_{t−1} in place of F_t.
@_specialize(where S == Float)
@_specialize(where S == Double)
func residualAndOffsets<S: ScanScalar>(
    range: Range<Int>, row: Int, jrow: Int, states: UnsafePointer<S>, initial: UnsafePointer<S>,
    values: UnsafeMutablePointer<S>, jacobians: UnsafeMutablePointer<S>,
    structure: JacobianStructure, batch: Int, stateSize: Int, hidden: Int, clip: S?
) -> Double {
    // Residual over the whole range as one flat loop (rows are contiguous).
    let first = range.lowerBound * row
    let worst = relativeResidual(
        states: states + first, values: UnsafePointer(values + first), count: range.count * row)
    if let clip {
        for t in range {
            clipJacobian(
                jacobians + t * jrow, structure: structure, batch: batch, stateSize: stateSize,
                hidden: hidden, bound: clip)
        }
    }
    if case .diagonal = structure, range.count > 1 {
        // b = F − J ⊙ H_prev, flat: H_prev of row t is row t − 1 of H.
        subtractJacobianProduct(
            UnsafePointer(jacobians + range.lowerBound * jrow),
            initial,
            values + range.lowerBound * row, structure: structure, batch: batch,
            stateSize: stateSize, hidden: hidden)
        let rest = (range.count - 1) * row
        let j = jacobians + (range.lowerBound + 1) * row
        let hp = states + range.lowerBound * row
        let f = values + (range.lowerBound + 1) * row
        for i in 0..<rest { f[i] = f[i] - j[i] * hp[i] }
    } else {
        for t in range {
            let hp = t == range.lowerBound ? initial : states + (t - 1) * row
            subtractJacobianProduct(
                UnsafePointer(jacobians + t * jrow), hp, values + t * row, structure: structure,
                batch: batch, stateSize: stateSize, hidden: hidden)
        }
    }
    return worst
}

/// b ← F − J·s_prev for one step, in place of F, for each Jacobian structure.
@inline(__always)
func subtractJacobianProduct<S: ScanScalar>(
    _ j: UnsafePointer<S>, _ previous: UnsafePointer<S>, _ values: UnsafeMutablePointer<S>,
    structure: JacobianStructure, batch: Int, stateSize: Int, hidden: Int
) {
    let row = batch * stateSize
    switch structure {
    case .diagonal:
        for i in 0..<row { values[i] = values[i] - j[i] * previous[i] }
    case .blockDiagonal(let k):
        let blocks = row / k
        for r in 0..<k {
            for c in 0..<k {
                let plane = j + (r * k + c) * blocks
                let p = previous + c * blocks
                let v = values + r * blocks
                for l in 0..<blocks { v[l] = v[l] - plane[l] * p[l] }
            }
        }
    case .dense:
        let n = stateSize
        for b in 0..<batch {
            let m = j + b * n * n
            let x = previous + b * n
            let y = values + b * n
            if n <= AffineScan.smallDenseLimit {
                for i in 0..<n {
                    var sum: S = 0
                    for k in 0..<n { sum += m[i * n + k] * x[k] }
                    y[i] -= sum
                }
            } else {
                S.gemv(transposed: false, rows: n, cols: n, alpha: -1, a: m, x: x, beta: 1, y: y)
            }
        }
    }
}

/// Scales each Jacobian (entry, block or matrix) so that its ∞-norm is at most `bound`.
@inline(__always)
func clipJacobian<S: ScanScalar>(
    _ j: UnsafeMutablePointer<S>, structure: JacobianStructure, batch: Int, stateSize: Int,
    hidden: Int, bound: S
) {
    let row = batch * stateSize
    switch structure {
    case .diagonal:
        for i in 0..<row { j[i] = min(max(j[i], -bound), bound) }
    case .blockDiagonal(let k):
        let blocks = row / k
        for l in 0..<blocks {
            var norm: S = 0
            for r in 0..<k {
                var sum: S = 0
                for c in 0..<k { sum += abs(j[(r * k + c) * blocks + l]) }
                norm = max(norm, sum)
            }
            if norm > bound {
                let scale = bound / norm
                for e in 0..<(k * k) { j[e * blocks + l] *= scale }
            }
        }
    case .dense:
        let n = stateSize
        for b in 0..<batch {
            let m = j + b * n * n
            var norm: S = 0
            for r in 0..<n {
                var sum: S = 0
                for c in 0..<n { sum += abs(m[r * n + c]) }
                norm = max(norm, sum)
            }
            if norm > bound {
                let scale = bound / norm
                for e in 0..<(n * n) { m[e] *= scale }
            }
        }
    }
}

extension RecurrentCell {
    /// One chunk of a Newton linearisation: F, J at the current states and the offsets
    /// b_t = F_t − J_t s_{t−1} (in `values`); returns the chunk's largest relative residual.
    /// With `fuse` the cell's kernel computes residual and offsets itself (one memory pass);
    /// otherwise ``residualAndOffsets`` does, after clipping Jacobians to `clip`.
    /// `previous` is s_{t−1} of the chunk's first step.
    func linearizeChunk(
        _ range: Range<Int>, batch: Int, previous: UnsafePointer<Scalar>, states: UnsafePointer<Scalar>,
        projections: UnsafePointer<Scalar>, values: UnsafeMutablePointer<Scalar>,
        jacobians: UnsafeMutablePointer<Scalar>, request: JacobianRequest, structure: JacobianStructure,
        fuse: Bool, clip: Scalar?
    ) -> Double {
        var arguments = LinearizeArguments(
            steps: range, batch: batch, previous: previous, states: states, projections: projections,
            values: values, jacobians: jacobians, request: request)
        if fuse {
            var fused = 0.0
            withUnsafeMutablePointer(to: &fused) { pointer in
                arguments.fusedResidual = pointer
                linearize(arguments)
            }
            return fused
        }
        linearize(arguments)
        return residualAndOffsets(
            range: range, row: stateRowSize(batch: batch), jrow: jacobianRowSize(batch: batch, request: request),
            states: states, initial: previous, values: values, jacobians: jacobians, structure: structure,
            batch: batch, stateSize: stateSize, hidden: hiddenSize, clip: clip)
    }
}

extension NewtonEngine {
    /// Grows the Jacobian buffer to at least `count` values (what it held is dropped: every
    /// entry of a Jacobian row is written by the cell's linearisation before use).
    func reserveJacobians(_ count: Int) {
        guard jacobianCapacity < count else { return }
        jacobians?.deallocate()
        jacobians = .allocate(capacity: count)
        jacobianCapacity = count
    }
}
