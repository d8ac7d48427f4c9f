/// Segmented prefix scans: any associative operator over several sequences packed end to end
/// (``SequenceBoundaries``), restarting at every sequence.
///
/// For sequence i spanning steps s…e−1 (one lane): forward inclusive y_t = x_s ⊕ … ⊕ x_t,
/// reverse inclusive y_t = x_t ⊕ … ⊕ x_{e−1}; exclusive variants put `identity` at each
/// sequence's first processed step. A reset is the segmented-scan operator
/// (f₁, x₁) ⊕ (f₂, x₂) = (f₁ ∨ f₂, f₂ ? x₂ : x₁ ⊕ x₂), which is associative, so the chunked
/// three-phase scan applies: a chunk holding a reset summarises only its steps after the last
/// reset, and its carry-out ignores its carry-in.
///
/// ```swift
/// let b = try SequenceBoundaries(lengths: [2, 3])
/// try AssociativeScan.inclusive([1, 2, 3, 4, 5], boundaries: b, combine: +)  // [1, 3, 3, 7, 12]
/// ```
extension AssociativeScan {
    /// Inclusive segmented scan in place over `[T][lanes]` elements, T = `boundaries.steps`.
    public static func inclusive<E>(
        _ elements: UnsafeMutableBufferPointer<E>, lanes: Int = 1, boundaries: SequenceBoundaries,
        direction: ScanDirection = .forward, pool: WorkerPool = .shared,
        combine: (E, E) -> E
    ) throws(ScanError) {
        if lanes <= 0 { throw .noLanes }
        try checkBuffer("elements", elements.count, boundaries.steps * lanes)
        segmentedUnchecked(
            elements.baseAddress!, lanes: lanes, boundaries: boundaries,
            reverse: direction == .reverse, pool: pool, combine: combine)
    }

    /// Exclusive segmented scan in place; `identity` fills each sequence's first output (its
    /// last step in reverse).
    public static func exclusive<E>(
        _ elements: UnsafeMutableBufferPointer<E>, lanes: Int = 1, boundaries: SequenceBoundaries,
        identity: E, direction: ScanDirection = .forward, pool: WorkerPool = .shared,
        combine: (E, E) -> E
    ) throws(ScanError) {
        try inclusive(
            elements, lanes: lanes, boundaries: boundaries, direction: direction, pool: pool,
            combine: combine)
        let x = elements.baseAddress!
        for i in 0..<boundaries.count {
            let r = boundaries.range(of: i)
            if direction == .forward {
                for t in stride(from: r.upperBound - 1, to: r.lowerBound, by: -1) {
                    (x + t * lanes).update(from: x + (t - 1) * lanes, count: lanes)
                }
                (x + r.lowerBound * lanes).update(repeating: identity, count: lanes)
            } else {
                for t in r.lowerBound..<(r.upperBound - 1) {
                    (x + t * lanes).update(from: x + (t + 1) * lanes, count: lanes)
                }
                (x + (r.upperBound - 1) * lanes).update(repeating: identity, count: lanes)
            }
        }
    }

    /// Inclusive segmented scan of an array; returns the scanned copy.
    public static func inclusive<E>(
        _ elements: [E], lanes: Int = 1, boundaries: SequenceBoundaries,
        direction: ScanDirection = .forward, pool: WorkerPool = .shared,
        combine: (E, E) -> E
    ) throws(ScanError) -> [E] {
        var copy = elements
        let result: Result<Void, ScanError> = copy.withUnsafeMutableBufferPointer { buffer in
            Result { () throws(ScanError) in
                try inclusive(
                    buffer, lanes: lanes, boundaries: boundaries, direction: direction, pool: pool,
                    combine: combine)
            }
        }
        try result.get()
        return copy
    }

    /// Exclusive segmented scan of an array; returns the scanned copy.
    public static func exclusive<E>(
        _ elements: [E], lanes: Int = 1, boundaries: SequenceBoundaries, identity: E,
        direction: ScanDirection = .forward, pool: WorkerPool = .shared,
        combine: (E, E) -> E
    ) throws(ScanError) -> [E] {
        var copy = elements
        let result: Result<Void, ScanError> = copy.withUnsafeMutableBufferPointer { buffer in
            Result { () throws(ScanError) in
                try exclusive(
                    buffer, lanes: lanes, boundaries: boundaries, identity: identity,
                    direction: direction, pool: pool, combine: combine)
            }
        }
        try result.get()
        return copy
    }

    static func segmentedUnchecked<E>(
        _ x: UnsafeMutablePointer<E>, lanes: Int, boundaries: SequenceBoundaries, reverse: Bool,
        pool: WorkerPool, combine: (E, E) -> E
    ) {
        let steps = boundaries.steps
        let bytes = Double(lanes * MemoryLayout<E>.stride)
        let workers = workersFor(
            steps: steps, width: lanes,
            cost: .threePhase(
                solveBytes: 3 * bytes, reduceBytes: bytes, solveOperations: 4 * Double(lanes),
                reduceOperations: 4 * Double(lanes)),
            pool: pool)
        let plan = ChunkPlan(steps: steps, workers: workers, reduceCost: 1, reverse: reverse)
        let slots = plan.ranges.count
        let summaries = UnsafeMutablePointer<E>.allocate(capacity: slots * lanes)
        let carries = UnsafeMutablePointer<E>.allocate(capacity: slots * lanes)
        let resetFlags = UnsafeMutablePointer<Bool>.allocate(capacity: slots)
        resetFlags.initialize(repeating: false, count: slots)
        var summaryReady = [Bool](repeating: false, count: slots)
        var carryReady = [Bool](repeating: false, count: slots)
        defer {
            for c in 0..<slots {
                if summaryReady[c] { (summaries + c * lanes).deinitialize(count: lanes) }
                if carryReady[c] { (carries + c * lanes).deinitialize(count: lanes) }
            }
            summaries.deallocate()
            carries.deallocate()
            resetFlags.deallocate()
        }
        for c in 1..<max(1, slots - 1) { summaryReady[c] = true }
        let data = UnsafeMutableSendable(x)
        let sum = UnsafeMutableSendable(summaries)
        let carry = UnsafeMutableSendable(carries)
        let flags = UnsafeMutableSendable(resetFlags)
        @inline(__always) func ordered(_ accumulated: E, _ next: E) -> E {
            reverse ? combine(next, accumulated) : combine(accumulated, next)
        }
        let stride = reverse ? -1 : 1
        /// Scans `range` in place from `carryIn` (nil: the range begins with a reset).
        func solve(_ range: Range<Int>, from carryIn: UnsafePointer<E>?) {
            let resets = boundaries.resets(in: range, reverse: reverse)
            var r = 0
            var previous = carryIn
            var t = reverse ? range.upperBound - 1 : range.lowerBound
            for _ in 0..<range.count {
                let current = data.base + t * lanes
                if r < resets.count, resets[r].step == t {
                    r += 1
                } else if let previous {
                    for j in 0..<lanes { current[j] = ordered(previous[j], current[j]) }
                }
                previous = UnsafePointer(current)
                t += stride
            }
        }
        ThreePhaseScan(plan: plan, pool: pool).run(
            solveFirst: { range in solve(range, from: nil) },
            reduce: { c, range in
                // Fold from the last reset (processing order) if any, else from the chunk start.
                let resets = boundaries.resets(in: range, reverse: reverse)
                var t = reverse ? range.upperBound - 1 : range.lowerBound
                if let last = resets.last {
                    t = last.step
                    flags.base[c] = true
                }
                let end = reverse ? range.lowerBound - 1 : range.upperBound
                let s = sum.base + c * lanes
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
                let s = sum.base + c * lanes
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
