import ParallelScan

/// The kind of affine scan a rank's segment runs (layouts as in `AffineScan`).
public enum SegmentScanKind: Hashable, Sendable {
    /// h_t = a_t ⊙ h_{t∓1} + b_t over `lanes` lanes.
    case diagonal(lanes: Int)
    /// k×k blocks; `transposed` applies every block as its transpose (adjoints).
    case blockDiagonal(blocks: Int, blockSize: Int, transposed: Bool)
    /// Dense d×d matrices per batch entry; `transposed` as above.
    case dense(batch: Int, dimension: Int, transposed: Bool)

    /// The summary shape of a stretch of steps.
    public var summaryShape: SummaryShape {
        switch self {
        case .diagonal(let lanes): return .planes(blockSize: 1, blocks: lanes)
        case .blockDiagonal(let blocks, let k, _): return .planes(blockSize: k, blocks: blocks)
        case .dense(let batch, let d, _): return .dense(batch: batch, dimension: d)
        }
    }

    /// Scalars of one step's coefficient row A_t.
    public var coefficientRow: Int { summaryShape.matrixCount }
    /// Scalars of one state row.
    public var stateRow: Int { summaryShape.stateCount }
}

/// One contiguous segment of an affine scan h_t = A_t h_{t∓1} + b_t, solved in two stages so
/// that the carry entering the segment can come from elsewhere (other ranks):
/// 1. ``summarize(into:)`` — in parallel over chunks of the segment: each chunk's composition
///    (P_i, Q_i) (P = Â_last ⋯ Â_first, Q the state reached from zero), then their composition
///    in processing order: the segment's map s_in ↦ P s_in + Q;
/// 2. ``finish(carry:)`` — the chunks' carries from the segment's (serially, one summary
///    application each), then every chunk solved from its carry in parallel.
///
/// Work: one reduction and one solve pass over the segment, as the in-process three-phase scan.
/// The chunk plan depends only on the step count and the pool's thread count (reproducible).
///
/// ```swift
/// let segment = SegmentScan(kind: .diagonal(lanes: 8), a: a, b: b, steps: n, output: h,
///                           reverse: false, pool: pool)
/// segment.summarize(into: summary)      // then exchange summaries, e.g. by MPI_Exscan
/// segment.finish(carry: incoming)       // h now holds the segment's states
/// ```
public final class SegmentScan<S: ScanScalar> {
    public let kind: SegmentScanKind
    public let steps: Int
    public let reverse: Bool
    let a: UnsafePointer<S>, b: UnsafePointer<S>
    let output: UnsafeMutablePointer<S>
    let pool: WorkerPool
    /// Chunk ranges in processing order (reverse scans: chunk 0 holds the last steps).
    public let chunks: [Range<Int>]
    /// [chunks][summary] and [chunks][summary] scratch.
    let summaries: UnsafeMutablePointer<S>

    /// - Parameters: a `[steps][coefficientRow]`, b and output `[steps][stateRow]` (output may
    ///   alias b), `steps` ≥ 1.
    public init(
        kind: SegmentScanKind, a: UnsafePointer<S>, b: UnsafePointer<S>, steps: Int,
        output: UnsafeMutablePointer<S>, reverse: Bool, pool: WorkerPool
    ) {
        precondition(steps >= 1, "a segment holds at least one step")
        self.kind = kind
        self.a = a
        self.b = b
        self.steps = steps
        self.output = output
        self.reverse = reverse
        self.pool = pool
        let width = max(1, kind.coefficientRow)
        let byWork = max(1, steps.multipliedReportingOverflow(by: width).partialValue / pool.grainSize)
        let parts = max(1, min(pool.threadCount, steps, byWork))
        let ordered = (0..<parts).map { ChunkPlan.evenRange(index: $0, of: parts, total: steps) }
        chunks = reverse ? ordered.reversed() : ordered
        let count = kind.summaryShape.count
        summaries = .allocate(capacity: 2 * parts * count)
        summaries.initialize(repeating: 0, count: 2 * parts * count)
    }

    deinit { summaries.deallocate() }

    /// Writes the segment's summary (``SegmentScanKind/summaryShape``) into `summary`.
    public func summarize(into summary: UnsafeMutablePointer<S>) {
        let shape = kind.summaryShape
        let count = shape.count
        let chunks = self.chunks
        let sums = UnsafeMutableSendable(summaries)
        let kind = self.kind
        let a = UnsafeSendable(self.a)
        let b = UnsafeSendable(self.b)
        let reverse = self.reverse
        pool.forEach(chunks.count) { c in
            let own = sums.base + c * count
            let scratch = sums.base + (chunks.count + c) * count
            // Composed products decay through the subnormal range: the reduction runs with them
            // flushed to zero, as the one-process three-phase scan's (see withSubnormalsFlushed).
            withSubnormalsFlushed {
                kind.kernels(a: a.base, b: b.base, reverse: reverse).reduce(chunks[c], into: own, scratch: scratch)
            }
        }
        // Left fold in processing order: summary ← s_c ∘ summary.
        summary.update(from: summaries, count: count)
        if chunks.count > 1 {
            let temp = UnsafeMutablePointer<S>.allocate(capacity: 2 * count)
            defer { temp.deallocate() }
            for c in 1..<chunks.count {
                temp.update(from: summaries + c * count, count: count)
                shape.compose(first: UnsafePointer(summary), then: temp, scratch: temp + count)
                summary.update(from: temp, count: count)
            }
        }
    }

    /// Solves the segment from `carry`, the state entering it (before its first step in
    /// processing order). Call after ``summarize(into:)``.
    /// Without a prior ``summarize(into:)`` only a single-chunk segment may be finished.
    public func finish(carry: UnsafePointer<S>) {
        let shape = kind.summaryShape
        let count = shape.count
        let state = shape.stateCount
        let carries = UnsafeMutablePointer<S>.allocate(capacity: chunks.count * state)
        defer { carries.deallocate() }
        carries.update(from: carry, count: state)
        for c in 0..<(chunks.count - 1) {
            shape.apply(
                summaries + c * count, to: carries + c * state, output: carries + (c + 1) * state)
        }
        let chunks = self.chunks
        let kind = self.kind
        let reverse = self.reverse
        let a = UnsafeSendable(self.a)
        let b = UnsafeSendable(self.b)
        let out = UnsafeMutableSendable(output)
        let cs = UnsafeSendable(UnsafePointer(carries))
        pool.forEach(chunks.count) { c in
            kind.kernels(a: a.base, b: b.base, reverse: reverse).solve(
                chunks[c], from: cs.base + c * state, into: out.base)
        }
    }
}
