import ParallelScan

/// Affine scans h_t = A_t h_{t∓1} + b_t over a sequence split across the ranks of a
/// communicator: rank r holds the contiguous steps ``RankSplit/range(rank:ranks:steps:)`` of
/// every buffer (rank 0 the first ones).
///
/// Each rank reduces its segment to its summary (P, Q) with its worker pool, one `MPI_Exscan`
/// of the summaries (a non-commutative user operation) gives every rank the map from the
/// sequence's initial state to the state entering its segment, and the rank finishes its
/// segment locally. Communication per scan: one summary per rank ((k² + k)·blocks scalars for
/// k×k blocks, 2·lanes for a diagonal scan, (d² + d)·batch for a dense one), O(log R) latency;
/// independent of T.
///
/// Reverse scans run over the reversed communicator (the carry enters at the last rank), with
/// `initial` the terminal state h_T given on the last rank.
///
/// ```swift
/// let world = try MPIRuntime.world()
/// let mine = RankSplit.range(rank: world.rank, ranks: world.size, steps: T)
/// DistributedScan.run(.diagonal(lanes: n), a: myA, b: myB, steps: mine.count,
///                     initial: h0, output: myH, reverse: false, pool: pool, communicator: world)
/// ```
public enum DistributedScan {
    /// Solves this rank's segment. `initial` is the state before the whole sequence (read on
    /// the first rank in processing order: rank 0 forward, the last rank reverse); nil means
    /// zeros. Every rank must call it (collective).
    public static func run<S: ScanScalar>(
        _ kind: SegmentScanKind, a: UnsafePointer<S>, b: UnsafePointer<S>, steps: Int,
        initial: UnsafePointer<S>?, output: UnsafeMutablePointer<S>, reverse: Bool,
        pool: WorkerPool, communicator: Communicator
    ) {
        // Callers reach this through generic code (e.g. a `SegmentCoupling` existential): pass
        // on with the concrete type so that the kernels run specialised, not through witnesses.
        if S.self == Float.self {
            runTyped(
                kind, a: a.rebound(Float.self), b: b.rebound(Float.self), steps: steps,
                initial: initial?.rebound(Float.self), output: output.rebound(Float.self),
                reverse: reverse, pool: pool, communicator: communicator)
        } else if S.self == Double.self {
            runTyped(
                kind, a: a.rebound(Double.self), b: b.rebound(Double.self), steps: steps,
                initial: initial?.rebound(Double.self), output: output.rebound(Double.self),
                reverse: reverse, pool: pool, communicator: communicator)
        } else {
            runTyped(
                kind, a: a, b: b, steps: steps, initial: initial, output: output, reverse: reverse,
                pool: pool, communicator: communicator)
        }
    }

    static func runTyped<S: ScanScalar>(
        _ kind: SegmentScanKind, a: UnsafePointer<S>, b: UnsafePointer<S>, steps: Int,
        initial: UnsafePointer<S>?, output: UnsafeMutablePointer<S>, reverse: Bool,
        pool: WorkerPool, communicator: Communicator
    ) {
        let shape = kind.summaryShape
        let segment = SegmentScan(
            kind: kind, a: a, b: b, steps: steps, output: output, reverse: reverse, pool: pool)
        let buffer = UnsafeMutablePointer<S>.allocate(capacity: 2 * shape.count + 2 * shape.stateCount)
        defer { buffer.deallocate() }
        let summary = buffer
        let incoming = buffer + shape.count
        let start = incoming + shape.count
        let carry = start + shape.stateCount
        if let initial {
            start.update(from: initial, count: shape.stateCount)
        } else {
            start.update(repeating: 0, count: shape.stateCount)
        }
        let group = reverse ? communicator.reversed() : communicator
        // The last rank in processing order passes its summary to nobody: with one chunk (whose
        // solve needs no chunk summaries) it skips the reduction pass.
        if group.rank + 1 < group.size || segment.chunks.count > 1 {
            segment.summarize(into: summary)
        } else {
            shape.writeIdentity(summary)
        }
        if group.exclusiveScan(summary, shape: shape, into: incoming) {
            shape.apply(incoming, to: start, output: carry)
        } else {
            carry.update(from: start, count: shape.stateCount)
        }
        segment.finish(carry: carry)
    }
}

/// The in-process model of ``DistributedScan``: the whole sequence in one buffer, split into
/// `segments` ranges as ranks would hold them, the exclusive scan of their summaries folded
/// serially (s_{r−1} ∘ (⋯ ∘ s_0)). For tests and for checking the split's arithmetic.
public enum SegmentedScan {
    public static func run<S: ScanScalar>(
        _ kind: SegmentScanKind, a: UnsafePointer<S>, b: UnsafePointer<S>, steps: Int,
        segments: Int, initial: UnsafePointer<S>?, output: UnsafeMutablePointer<S>,
        reverse: Bool, pool: WorkerPool
    ) {
        let shape = kind.summaryShape
        let rowA = kind.coefficientRow
        let row = kind.stateRow
        let ranges = (0..<segments).map { RankSplit.range(rank: $0, ranks: segments, steps: steps) }
        let order = reverse ? Array(ranges.reversed()) : ranges
        let scans = order.map { r in
            SegmentScan(
                kind: kind, a: a + r.lowerBound * rowA, b: b + r.lowerBound * row, steps: r.count,
                output: output + r.lowerBound * row, reverse: reverse, pool: pool)
        }
        var summaries = [[S]](repeating: [S](repeating: 0, count: shape.count), count: segments)
        for i in 0..<segments {
            summaries[i].withUnsafeMutableBufferPointer { scans[i].summarize(into: $0.baseAddress!) }
        }
        var start = [S](repeating: 0, count: shape.stateCount)
        if let initial { start = Array(UnsafeBufferPointer(start: initial, count: shape.stateCount)) }
        var running = summaries[0]
        var scratch = [S](repeating: 0, count: shape.count)
        var carry = start
        for i in 0..<segments {
            if i == 1 { running = summaries[0] }
            if i >= 2 {
                // running ← s_{i−1} ∘ running, as MPI's operation: inout = s_{i−1}, in = running.
                var next = summaries[i - 1]
                running.withUnsafeBufferPointer { x in
                    next.withUnsafeMutableBufferPointer { y in
                        scratch.withUnsafeMutableBufferPointer { s in
                            shape.compose(first: x.baseAddress!, then: y.baseAddress!, scratch: s.baseAddress!)
                        }
                    }
                }
                running = next
            }
            if i >= 1 {
                running.withUnsafeBufferPointer { p in
                    start.withUnsafeBufferPointer { s in
                        carry.withUnsafeMutableBufferPointer { c in
                            shape.apply(p.baseAddress!, to: s.baseAddress!, output: c.baseAddress!)
                        }
                    }
                }
            }
            carry.withUnsafeBufferPointer { scans[i].finish(carry: $0.baseAddress!) }
        }
    }
}

/// How a sequence of T steps is split over R ranks: contiguous, nearly equal ranges (the
/// first T mod R ranks hold one step more).
public enum RankSplit {
    /// The steps of `rank`.
    public static func range(rank: Int, ranks: Int, steps: Int) -> Range<Int> {
        ChunkPlan.evenRange(index: rank, of: ranks, total: steps)
    }

    /// Throws unless every one of `ranks` ranks gets at least one of `steps` steps.
    public static func check(ranks: Int, steps: Int) throws(MPIError) {
        if ranks > steps {
            throw .invalidSplit(
                "\(ranks) ranks but only \(steps) time steps: every rank needs at least one step (use at most \(steps) ranks)"
            )
        }
    }
}

extension UnsafePointer {
    /// The same address as a pointer to `T` (the caller knows the memory holds `T`s).
    func rebound<T>(_: T.Type) -> UnsafePointer<T> { UnsafeRawPointer(self).assumingMemoryBound(to: T.self) }
}

extension UnsafeMutablePointer {
    /// The same address as a pointer to `T` (the caller knows the memory holds `T`s).
    func rebound<T>(_: T.Type) -> UnsafeMutablePointer<T> {
        UnsafeMutableRawPointer(self).assumingMemoryBound(to: T.self)
    }
}
