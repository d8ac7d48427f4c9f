/// Prefix scans with any associative operator, over `[T][lanes]` elements.
///
/// For elements x_0 … x_{T−1} of one lane and an associative `combine` (⊕, applied with the
/// earlier element on the left):
/// - forward inclusive: y_t = x_0 ⊕ … ⊕ x_t;
/// - forward exclusive: y_0 = identity, y_t = x_0 ⊕ … ⊕ x_{t−1};
/// - reverse inclusive: y_t = x_t ⊕ … ⊕ x_{T−1};
/// - reverse exclusive: y_{T−1} = identity, y_t = x_{t+1} ⊕ … ⊕ x_{T−1}.
///
/// The operator need not be commutative; only associativity is used (results equal the
/// sequential fold up to the rounding of a different bracketing). Runs the chunked three-phase
/// scan on the pool; the chunk plan depends only on T, lanes and the thread count, so results are
/// reproducible.
public enum AssociativeScan {
    /// Inclusive scan in place over `[T][lanes]` elements.
    @inlinable
    public static func inclusive<E>(
        _ elements: UnsafeMutableBufferPointer<E>, steps: Int, lanes: Int = 1,
        direction: ScanDirection = .forward, pool: WorkerPool = .shared,
        combine: (E, E) -> E
    ) throws(ScanError) {
        if steps <= 0 { throw .emptySequence }
        if lanes <= 0 { throw .noLanes }
        try checkBuffer("elements", elements.count, steps * lanes)
        inclusiveUnchecked(
            elements.baseAddress!, steps: steps, lanes: lanes, reverse: direction == .reverse,
            pool: pool, combine: combine)
    }

    /// Exclusive scan in place over `[T][lanes]` elements; `identity` fills the first output.
    @inlinable
    public static func exclusive<E>(
        _ elements: UnsafeMutableBufferPointer<E>, steps: Int, lanes: Int = 1, identity: E,
        direction: ScanDirection = .forward, pool: WorkerPool = .shared,
        combine: (E, E) -> E
    ) throws(ScanError) {
        try inclusive(
            elements, steps: steps, lanes: lanes, direction: direction, pool: pool,
            combine: combine)
        let x = elements.baseAddress!
        if direction == .forward {
            for t in stride(from: steps - 1, to: 0, by: -1) {
                (x + t * lanes).update(from: x + (t - 1) * lanes, count: lanes)
            }
            x.update(repeating: identity, count: lanes)
        } else {
            for t in 0..<(steps - 1) {
                (x + t * lanes).update(from: x + (t + 1) * lanes, count: lanes)
            }
            (x + (steps - 1) * lanes).update(repeating: identity, count: lanes)
        }
    }

    /// Inclusive scan of an array; returns the scanned copy.
    @inlinable
    public static func inclusive<E>(
        _ elements: [E], steps: Int? = nil, lanes: Int = 1, direction: ScanDirection = .forward,
        pool: WorkerPool = .shared, combine: (E, E) -> E
    ) throws(ScanError) -> [E] {
        var copy = elements
        let t = steps ?? (lanes > 0 ? elements.count / lanes : 0)
        let result: Result<Void, ScanError> = copy.withUnsafeMutableBufferPointer { buffer in
            Result { () throws(ScanError) in
                try inclusive(
                    buffer, steps: t, lanes: lanes, direction: direction, pool: pool,
                    combine: combine)
            }
        }
        try result.get()
        return copy
    }

    /// Exclusive scan of an array; returns the scanned copy.
    @inlinable
    public static func exclusive<E>(
        _ elements: [E], steps: Int? = nil, lanes: Int = 1, identity: E,
        direction: ScanDirection = .forward, pool: WorkerPool = .shared,
        combine: (E, E) -> E
    ) throws(ScanError) -> [E] {
        var copy = elements
        let t = steps ?? (lanes > 0 ? elements.count / lanes : 0)
        let result: Result<Void, ScanError> = copy.withUnsafeMutableBufferPointer { buffer in
            Result { () throws(ScanError) in
                try exclusive(
                    buffer, steps: t, lanes: lanes, identity: identity, direction: direction,
                    pool: pool, combine: combine)
            }
        }
        try result.get()
        return copy
    }

    @inlinable
    static func inclusiveUnchecked<E>(
        _ x: UnsafeMutablePointer<E>, steps: Int, lanes: Int, reverse: Bool, pool: WorkerPool,
        combine: (E, E) -> E
    ) {
        // A generic operator: assume a few operations per element; the loop reads and writes each
        // element, a reduction reads it.
        let bytes = Double(lanes * MemoryLayout<E>.stride)
        let workers = workersFor(
            steps: steps, width: lanes,
            cost: .threePhase(
                solveBytes: 3 * bytes, reduceBytes: bytes, solveOperations: 4 * Double(lanes),
                reduceOperations: 4 * Double(lanes)),
            pool: pool)
        let plan = ChunkPlan(steps: steps, workers: workers, reduceCost: 1, reverse: reverse)
        let slots = plan.ranges.count
        // Summaries and carries, one lane row per chunk; slots are initialised before use.
        let summaries = UnsafeMutablePointer<E>.allocate(capacity: slots * lanes)
        let carries = UnsafeMutablePointer<E>.allocate(capacity: slots * lanes)
        var summaryReady = [Bool](repeating: false, count: slots)
        var carryReady = [Bool](repeating: false, count: slots)
        defer {
            for c in 0..<slots {
                if summaryReady[c] { (summaries + c * lanes).deinitialize(count: lanes) }
                if carryReady[c] { (carries + c * lanes).deinitialize(count: lanes) }
            }
            summaries.deallocate()
            carries.deallocate()
        }
        // Chunks 1..<slots-1 are reduced; marked up front since workers write them.
        for c in 1..<max(1, slots - 1) { summaryReady[c] = true }
        let data = UnsafeMutableSendable(x)
        let sum = UnsafeMutableSendable(summaries)
        let carry = UnsafeMutableSendable(carries)
        // Combines in time order: in a reverse scan the later element is processed first.
        @inline(__always) func ordered(_ accumulated: E, _ next: E) -> E {
            reverse ? combine(next, accumulated) : combine(accumulated, next)
        }
        ThreePhaseScan(plan: plan, pool: pool).run(
            solveFirst: { range in
                var t = reverse ? range.upperBound - 1 : range.lowerBound
                let stride = reverse ? -1 : 1
                for _ in 1..<range.count {
                    let prev = data.base + t * lanes
                    t += stride
                    let cur = data.base + t * lanes
                    for j in 0..<lanes { cur[j] = ordered(prev[j], cur[j]) }
                }
            },
            reduce: { c, range in
                let s = sum.base + c * lanes
                var t = reverse ? range.upperBound - 1 : range.lowerBound
                let stride = reverse ? -1 : 1
                s.initialize(from: data.base + t * lanes, count: lanes)
                for _ in 1..<range.count {
                    t += stride
                    let cur = data.base + t * lanes
                    for j in 0..<lanes { s[j] = ordered(s[j], cur[j]) }
                }
            },
            carryFromFirst: { range in
                let last = reverse ? range.lowerBound : range.upperBound - 1
                (carry.base + lanes).initialize(from: data.base + last * lanes, count: lanes)
            },
            propagate: { c in
                let s = sum.base + c * lanes
                let cin = carry.base + c * lanes
                let cout = cin + lanes
                for j in 0..<lanes { (cout + j).initialize(to: ordered(cin[j], s[j])) }
            },
            solveFrom: { c, range in
                let cin = carry.base + c * lanes
                var t = reverse ? range.upperBound - 1 : range.lowerBound
                let stride = reverse ? -1 : 1
                var prev = UnsafePointer(cin)
                for _ in 0..<range.count {
                    let cur = data.base + t * lanes
                    for j in 0..<lanes { cur[j] = ordered(prev[j], cur[j]) }
                    prev = UnsafePointer(cur)
                    t += stride
                }
            })
        if slots > 1 { for c in 1..<slots { carryReady[c] = true } }
    }
}
