import ParallelScan

/// A chunked three-phase scan of a diagonal (real or complex) recurrence whose coefficients are
/// *computed inside the parallel chunks* instead of being read from a materialised `[T][lanes]`
/// array.
///
/// For each step t the caller's `coefficients(t, a, b, scratch)` writes the row a_t, b_t, and the scan
/// solves h_t = a_t ⊙ h_{t∓1} + b_t (complex multiplication when `complex`), calling
/// `emit(t, h_t, scratch)` with every state (`scratch`: a per-worker workspace of `scratchSize`
/// elements shared by both callbacks) so the caller can form outputs on the fly. Rows are
/// `[lanes]` for real scans and `[2][lanes]` (real plane, then imaginary plane) for complex ones.
///
/// Phases (ParallelScan's ``ChunkPlan`` with K = ``chunksPerWorker`` · p chunks after chunk 0,
/// p workers): (1) chunk 0 is solved from h = 0 while chunks 1 ≤ i < K are reduced to
/// (P, Q) = (∏ a_t, state reached from zero); (2) carries are propagated serially,
/// carry_{i+1} = P_i carry_i + Q_i; (3) every chunk i ≥ 1 is solved from its carry. Workers take
/// the chunks of phases 1 and 3 one at a time as they come free (``WorkerPool/forEachDynamic``),
/// so a worker that the machine slows (a busy neighbour, a preempted vCPU) costs its share of
/// one chunk instead of holding every other worker at the join. Coefficients of chunks ≥ 1 are
/// computed twice (reduce, solve): the scan trades that compute for not streaming a and b
/// through memory, which pays off when the coefficients are expensive (exp, softplus,
/// projections). The chunk plan depends only on T, the lane count and the worker count, never on
/// which thread ran a chunk, so results are reproducible.
///
/// Products of decays are only ever formed as running products of factors |a| ≤ 1 supplied by
/// the caller: they shrink monotonically towards zero and can neither overflow nor produce NaN.
/// Reductions run with subnormals flushed (``withSubnormalsFlushed(_:)``): a decay near 1 keeps a
/// product in the subnormal range for thousands of steps, each a microcode assist on Intel cores.
struct FusedDiagonalScan<S: ScanScalar> {
    let steps: Int
    let lanes: Int
    let complex: Bool
    let reverse: Bool
    let pool: WorkerPool
    /// Estimated scalar operations per step (for the pool's grain size).
    let workPerStep: Int
    /// Size of a per-worker scratch buffer handed to both callbacks (0 for none).
    var scratchSize: Int = 0
    /// Cost of reducing a step relative to solving one (sizes chunk 0 so phase 1 balances).
    var reduceCost: Double = 1
    /// Bytes a solved step streams through memory (inputs read, outputs written); nil: the
    /// emitted state row read and written once.
    var bytesPerStep: Int? = nil
    /// Sequences packed end to end (nil: one): the scan restarts from zero at each — the decay
    /// row of a reset step is set to 0 after `coefficients` wrote it, so h_t = b_t there
    /// (forward: a sequence's first step; reverse: its last step, so nothing flows back across
    /// a boundary). Still a diagonal affine scan, so chunks, summaries and carries need nothing
    /// else.
    var resets: SequenceBoundaries? = nil

    /// The worker count: under the pool's grain size, what ``WorkerCount``'s model says pays.
    var workers: Int {
        let total = steps.multipliedReportingOverflow(by: max(1, workPerStep))
        let work = total.overflow ? Int.max : total.partialValue
        let bytes = Double(bytesPerStep ?? 2 * row * MemoryLayout<S>.stride)
        let cost = ParallelCost.threePhase(
            solveBytes: bytes, reduceBytes: bytes / 2, solveOperations: Double(workPerStep),
            reduceOperations: reduceCost * Double(workPerStep))
        return WorkerCount.workers(
            steps: steps, cost: cost, pool: pool, limit: min(work / pool.grainSize, steps / 2))
    }

    var row: Int { complex ? 2 * lanes : lanes }

    /// Chunks per worker in phases 1 and 3 (see the type's documentation).
    static var chunksPerWorker: Int { 4 }

    /// Runs the scan (see the type's documentation); with ``resets``, the decay row of every
    /// reset step is zeroed after `coefficients` wrote it. Without, the chunk loops are exactly
    /// those of an unpacked scan (no per-step test).
    @inline(__always)
    func run(
        coefficients: (Int, UnsafeMutablePointer<S>, UnsafeMutablePointer<S>, UnsafeMutablePointer<S>) -> Void,
        emit: (Int, UnsafePointer<S>, UnsafeMutablePointer<S>) -> Void
    ) {
        guard let flags = ResetFlags(resets, reverse: reverse) else {
            runChunks(coefficients: coefficients, emit: emit)
            return
        }
        defer { flags.free() }
        let row = self.row
        runChunks(
            coefficients: { t, a, b, scratch in
                coefficients(t, a, b, scratch)
                if flags.isReset(t) { a.update(repeating: 0, count: row) }
            }, emit: emit)
    }

    @inline(__always)
    private func runChunks(
        coefficients: (Int, UnsafeMutablePointer<S>, UnsafeMutablePointer<S>, UnsafeMutablePointer<S>) -> Void,
        emit: (Int, UnsafePointer<S>, UnsafeMutablePointer<S>) -> Void
    ) {
        let row = self.row
        let workers = self.workers
        // One worker: the plain loop from h = 0 — no carries, summaries or pool dispatch.
        if workers == 1 {
            solve(range: 0..<steps, carry: nil, final: nil, coefficients, emit)
            return
        }
        let plan = ChunkPlan(
            steps: steps, workers: workers * Self.chunksPerWorker, reduceCost: reduceCost, reverse: reverse)
        let ranges = plan.ranges
        let slots = ranges.count
        let carries = UnsafeMutablePointer<S>.allocate(capacity: (slots + 1) * row)
        carries.initialize(repeating: 0, count: (slots + 1) * row)
        // A padded row per chunk: a reduction rewrites its (P, Q) at every step, and chunks next
        // to each other run at the same time on different workers.
        let sum = PaddedSlots<S>(slots: slots, count: 2 * row, repeating: 0)
        defer {
            carries.deallocate()
            sum.deallocate()
        }
        let carry = UnsafeMutableSendable(carries)
        let p = slots - 1
        // The model's worker count, never the pool's whole width.
        let gang = WorkerPool(threadCount: workers, grainSize: 1, choice: .allThreads, profile: pool.profile)
        // Chunk 0 solved, chunks 1 ..< p reduced; the last chunk's summary would never be used.
        gang.forEachDynamic(p) { c, _ in
            if c == 0 {
                solve(range: ranges[0], carry: carry.base, final: carry.base + row, coefficients, emit)
            } else {
                withSubnormalsFlushed { reduce(range: ranges[c], summary: sum[c], coefficients) }
            }
        }
        for c in 1..<p {
            let P = sum[c]
            let Q = P + row
            let cin = carries + c * row
            affine(P, cin, Q, into: cin + row)
        }
        gang.forEachDynamic(p) { w, _ in
            solve(range: ranges[w + 1], carry: carry.base + (w + 1) * row, final: nil, coefficients, emit)
        }
    }

    /// Solves `range` from `carry` (nil: zeros), emitting every state; copies the last state to
    /// `final`.
    @inline(__always)
    private func solve(
        range: Range<Int>, carry: UnsafePointer<S>?, final: UnsafeMutablePointer<S>?,
        _ coefficients: (Int, UnsafeMutablePointer<S>, UnsafeMutablePointer<S>, UnsafeMutablePointer<S>) -> Void,
        _ emit: (Int, UnsafePointer<S>, UnsafeMutablePointer<S>) -> Void
    ) {
        let row = self.row
        withStepScratch(rows: 1) { a, b, h, extra in
            if let carry { h.update(from: carry, count: row) }
            forEachStep(of: range, reverse: reverse) { t in
                coefficients(t, a, b, extra)
                affine(a, h, b, into: h)
                emit(t, h, extra)
            }
            final?.update(from: h, count: row)
        }
    }

    /// Runs `body(a, b, rows, extra)` on one worker's step scratch, in one padded allocation
    /// (rewritten at every step: away from other workers' scratch): the coefficient rows a_t and
    /// b_t, `rows` more rows for the caller, then the callbacks' ``scratchSize`` values.
    ///
    ///     withStepScratch(rows: 1) { a, b, h, extra in … }   // offsets 0, row, 2·row, 3·row
    @inline(__always)
    private func withStepScratch(
        rows: Int,
        _ body: (UnsafeMutablePointer<S>, UnsafeMutablePointer<S>, UnsafeMutablePointer<S>, UnsafeMutablePointer<S>)
            -> Void
    ) {
        let row = self.row
        let space = PaddedSlots<S>(slots: 1, count: (2 + rows) * row + scratchSize, repeating: 0)
        defer { space.deallocate() }
        let scratch = space[0]
        body(scratch, scratch + row, scratch + 2 * row, scratch + (2 + rows) * row)
    }

    /// (ar + i·ai)(xr + i·xi) as (real, imaginary): the one complex product of the solve's and
    /// the reduction's steps (each adds b_t to it where it needs to).
    @inline(__always)
    private func complexProduct(_ ar: S, _ ai: S, _ xr: S, _ xi: S) -> (S, S) {
        (ar * xr - ai * xi, ai * xr + ar * xi)
    }

    /// out = a ⊙ x + b over one row (complex multiplication when `complex`); `out` may be `x`.
    @inline(__always)
    private func affine(
        _ a: UnsafePointer<S>, _ x: UnsafePointer<S>, _ b: UnsafePointer<S>, into out: UnsafeMutablePointer<S>
    ) {
        let n = lanes
        if complex {
            for j in 0..<n {
                let (re, im) = complexProduct(a[j], a[n + j], x[j], x[n + j])
                out[j] = re + b[j]
                out[n + j] = im + b[n + j]
            }
        } else {
            for j in 0..<n { out[j] = a[j] * x[j] + b[j] }
        }
    }

    /// Composes the steps of `range` into (P, Q) at `summary` ([2][row]).
    @inline(__always)
    private func reduce(
        range: Range<Int>, summary: UnsafeMutablePointer<S>,
        _ coefficients: (Int, UnsafeMutablePointer<S>, UnsafeMutablePointer<S>, UnsafeMutablePointer<S>) -> Void
    ) {
        let row = self.row
        let n = lanes
        let P = summary
        let Q = summary + row
        Q.update(repeating: 0, count: row)
        P.update(repeating: 0, count: row)
        P.update(repeating: 1, count: n)
        withStepScratch(rows: 0) { a, b, _, extra in
            forEachStep(of: range, reverse: reverse) { t in
                coefficients(t, a, b, extra)
                if complex {
                    for j in 0..<n {
                        let (ar, ai) = (a[j], a[n + j])
                        (P[j], P[n + j]) = complexProduct(ar, ai, P[j], P[n + j])
                        let (qr, qi) = complexProduct(ar, ai, Q[j], Q[n + j])
                        Q[j] = qr + b[j]
                        Q[n + j] = qi + b[n + j]
                    }
                } else {
                    for j in 0..<n {
                        P[j] = a[j] * P[j]
                        Q[j] = a[j] * Q[j] + b[j]
                    }
                }
            }
        }
    }
}

/// The reset steps of a packed ``FusedDiagonalScan`` or gradient pass, one flag per step
/// (release with `free()`); nil without boundaries or with one sequence, so unpacked passes
/// never test a step.
struct ResetFlags: @unchecked Sendable {
    private let flags: UnsafeMutablePointer<Bool>

    /// Forward (`reverse: false`), the sequence starts after step 0 — where h_{t−1} belongs to
    /// the previous sequence; reverse, the sequence ends before step T − 1 — where a_{t+1}
    /// belongs to the next one.
    init?(_ boundaries: SequenceBoundaries?, reverse: Bool) {
        guard let boundaries, boundaries.count > 1 else { return nil }
        flags = .allocate(capacity: boundaries.steps)
        flags.initialize(repeating: false, count: boundaries.steps)
        for start in boundaries.starts.dropFirst() { flags[reverse ? start - 1 : start] = true }
    }

    @inline(__always)
    func isReset(_ t: Int) -> Bool { flags[t] }

    func free() { flags.deallocate() }
}

/// The number of contiguous time chunks for work split over time (gradient accumulations):
/// under the pool's grain size, what ``WorkerCount``'s model says pays for `workPerStep`
/// operations and `bytesPerStep` streamed bytes a step. Chunks depend only on T, the pool and
/// the machine profile (reproducible reductions on one machine).
func chunkCount(steps: Int, workPerStep: Int, bytesPerStep: Int, pool: WorkerPool) -> Int {
    let total = steps.multipliedReportingOverflow(by: max(1, workPerStep))
    let work = total.overflow ? Int.max : total.partialValue
    return WorkerCount.workers(
        steps: steps, cost: .split(bytes: Double(bytesPerStep), operations: Double(workPerStep)),
        pool: pool, limit: min(work / pool.grainSize, steps))
}

func forEachTimeChunk(
    steps: Int, chunks: Int, pool: WorkerPool, _ body: (Int, Range<Int>) -> Void
) {
    pool.forEach(chunks) { c in
        body(c, ChunkPlan.evenRange(index: c, of: chunks, total: steps))
    }
}

/// Per-chunk gradient accumulators, a padded row of `size` per chunk (``PaddedSlots``: chunks
/// add into their rows at every step, on different workers), summed in chunk order at the end.
struct Accumulators<S: ScanScalar>: @unchecked Sendable {
    let chunks: Int
    let size: Int
    let rows: PaddedSlots<S>
    init(chunks: Int, size: Int) {
        self.chunks = chunks
        self.size = size
        rows = PaddedSlots(slots: max(1, chunks), count: max(1, size), repeating: 0)
    }
    func chunk(_ c: Int) -> UnsafeMutablePointer<S> { rows[c] }
    /// Sums the chunk rows; returns `[size]`.
    func total() -> [S] {
        makeArray(size) { out in
            for c in 0..<chunks {
                let row = rows[c]
                for i in 0..<size { out[i] += row[i] }
            }
        }
    }
    func free() { rows.deallocate() }
}
