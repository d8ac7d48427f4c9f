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
        guard let x = elements.baseAddress else { throw .emptySequence }
        inclusiveUnchecked(
            x, steps: steps, lanes: lanes, reverse: direction == .reverse,
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
        guard let x = elements.baseAddress else { return }
        shiftToExclusive(x, range: 0..<steps, lanes: lanes, identity: identity, reverse: direction == .reverse)
    }

    /// Turns the inclusive scan of `range` into the exclusive one in place: every row moves one
    /// step later in processing order and `identity` fills the range's first processed row.
    @inlinable
    static func shiftToExclusive<E>(
        _ x: UnsafeMutablePointer<E>, range: Range<Int>, lanes: Int, identity: E, reverse: Bool
    ) {
        if reverse {
            for t in range.lowerBound..<(range.upperBound - 1) {
                (x + t * lanes).update(from: x + (t + 1) * lanes, count: lanes)
            }
            (x + (range.upperBound - 1) * lanes).update(repeating: identity, count: lanes)
        } else {
            for t in stride(from: range.upperBound - 1, to: range.lowerBound, by: -1) {
                (x + t * lanes).update(from: x + (t - 1) * lanes, count: lanes)
            }
            (x + range.lowerBound * lanes).update(repeating: identity, count: lanes)
        }
    }

    /// Inclusive scan of an array; returns the scanned copy.
    @inlinable
    public static func inclusive<E>(
        _ elements: [E], steps: Int? = nil, lanes: Int = 1, direction: ScanDirection = .forward,
        pool: WorkerPool = .shared, combine: (E, E) -> E
    ) throws(ScanError) -> [E] {
        let t = steps ?? (lanes > 0 ? elements.count / lanes : 0)
        return try scanningCopy(of: elements) { buffer throws(ScanError) in
            try inclusive(buffer, steps: t, lanes: lanes, direction: direction, pool: pool, combine: combine)
        }
    }

    /// Exclusive scan of an array; returns the scanned copy.
    @inlinable
    public static func exclusive<E>(
        _ elements: [E], steps: Int? = nil, lanes: Int = 1, identity: E,
        direction: ScanDirection = .forward, pool: WorkerPool = .shared,
        combine: (E, E) -> E
    ) throws(ScanError) -> [E] {
        let t = steps ?? (lanes > 0 ? elements.count / lanes : 0)
        return try scanningCopy(of: elements) { buffer throws(ScanError) in
            try exclusive(
                buffer, steps: t, lanes: lanes, identity: identity, direction: direction, pool: pool, combine: combine)
        }
    }

    /// A copy of `elements` scanned in place by `body` (the array conveniences' plumbing).
    @inlinable
    static func scanningCopy<E>(
        of elements: [E], _ body: (UnsafeMutableBufferPointer<E>) throws(ScanError) -> Void
    ) throws(ScanError) -> [E] {
        var copy = elements
        let result: Result<Void, ScanError> = copy.withUnsafeMutableBufferPointer { buffer in
            Result { () throws(ScanError) in try body(buffer) }
        }
        try result.get()
        return copy
    }

    @inlinable
    static func inclusiveUnchecked<E>(
        _ x: UnsafeMutablePointer<E>, steps: Int, lanes: Int, reverse: Bool, pool: WorkerPool,
        combine: (E, E) -> E
    ) {
        foldUnchecked(x, steps: steps, lanes: lanes, boundaries: nil, reverse: reverse, pool: pool, combine: combine)
    }

    /// The inclusive scan in place, restarting at every sequence start of `boundaries` (`nil`:
    /// one sequence, no resets): the chunked three-phase scan shared by the plain and the
    /// segmented scans. A chunk holding a reset summarises only its steps after the last reset
    /// (processing order), and its carry-out ignores its carry-in.
    @inlinable
    static func foldUnchecked<E>(
        _ x: UnsafeMutablePointer<E>, steps: Int, lanes: Int, boundaries: SequenceBoundaries?, reverse: Bool,
        pool: WorkerPool, combine: (E, E) -> E
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
        // Summaries (a padded row per chunk: a reduction rewrites its row at every step) and
        // carries, one lane row per chunk; slots are initialised before use.
        let summaries = PaddedSlots<E>(slots: slots, count: lanes)
        let carries = UnsafeMutablePointer<E>.allocate(capacity: slots * lanes)
        let resetFlags = UnsafeMutablePointer<Bool>.allocate(capacity: slots)
        resetFlags.initialize(repeating: false, count: slots)
        var summaryReady = [Bool](repeating: false, count: slots)
        var carryReady = [Bool](repeating: false, count: slots)
        defer {
            for c in 0..<slots {
                if summaryReady[c] { summaries[c].deinitialize(count: lanes) }
                if carryReady[c] { (carries + c * lanes).deinitialize(count: lanes) }
            }
            summaries.deallocate()
            carries.deallocate()
            resetFlags.deallocate()
        }
        // Chunks 1..<slots-1 are reduced; marked up front since workers write them.
        for c in 1..<max(1, slots - 1) { summaryReady[c] = true }
        let data = UnsafeMutableSendable(x)
        let sum = summaries
        let carry = UnsafeMutableSendable(carries)
        let flags = UnsafeMutableSendable(resetFlags)
        // Combines in time order: in a reverse scan the later element is processed first.
        @inline(__always) func ordered(_ accumulated: E, _ next: E) -> E {
            reverse ? combine(next, accumulated) : combine(accumulated, next)
        }
        let stride = reverse ? -1 : 1
        /// The reset steps inside `range`, processing order.
        func resets(in range: Range<Int>) -> [(step: Int, sequence: Int)] {
            boundaries?.resets(in: range, reverse: reverse) ?? []
        }
        /// Scans `range` in place from `carryIn` (nil: the range begins with a reset).
        func solve(_ range: Range<Int>, from carryIn: UnsafePointer<E>?) {
            let resets = resets(in: range)
            var r = 0
            var previous = carryIn
            forEachStep(of: range, reverse: reverse) { t in
                let current = data.base + t * lanes
                if r < resets.count, resets[r].step == t {
                    r += 1
                } else if let previous {
                    for j in 0..<lanes { current[j] = ordered(previous[j], current[j]) }
                }
                previous = UnsafePointer(current)
            }
        }
        ThreePhaseScan(plan: plan, pool: pool).run(
            solveFirst: { range in solve(range, from: nil) },
            reduce: { c, range in
                // Fold from the last reset (processing order) if any, else from the chunk start.
                var t = reverse ? range.upperBound - 1 : range.lowerBound
                if let last = resets(in: range).last {
                    t = last.step
                    flags.base[c] = true
                }
                let end = reverse ? range.lowerBound - 1 : range.upperBound
                let s = sum[c]
                s.initialize(from: data.base + t * lanes, count: lanes)
                t += stride
                while t != end {
                    let current = data.base + t * lanes
                    for j in 0..<lanes { s[j] = ordered(s[j], current[j]) }
                    t += stride
                }
            },
            carryFromFirst: { range in
                let last = reverse ? range.lowerBound : range.upperBound - 1
                (carry.base + lanes).initialize(from: data.base + last * lanes, count: lanes)
            },
            propagate: { c in
                let s = sum[c]
                let cin = carry.base + c * lanes
                let cout = cin + lanes
                if flags.base[c] {
                    cout.initialize(from: s, count: lanes)
                } else {
                    for j in 0..<lanes { (cout + j).initialize(to: ordered(cin[j], s[j])) }
                }
            },
            solveFrom: { c, range in solve(range, from: UnsafePointer(carry.base + c * lanes)) })
        if slots > 1 { for c in 1..<slots { carryReady[c] = true } }
    }
}
