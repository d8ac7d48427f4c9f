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
        guard let x = elements.baseAddress else { throw .emptySequence }
        segmentedUnchecked(
            x, lanes: lanes, boundaries: boundaries,
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
        guard let x = elements.baseAddress else { return }
        for i in 0..<boundaries.count {
            shiftToExclusive(
                x, range: boundaries.range(of: i), lanes: lanes, identity: identity, reverse: direction == .reverse)
        }
    }

    /// Inclusive segmented scan of an array; returns the scanned copy.
    public static func inclusive<E>(
        _ elements: [E], lanes: Int = 1, boundaries: SequenceBoundaries,
        direction: ScanDirection = .forward, pool: WorkerPool = .shared,
        combine: (E, E) -> E
    ) throws(ScanError) -> [E] {
        try scanningCopy(of: elements) { buffer throws(ScanError) in
            try inclusive(
                buffer, lanes: lanes, boundaries: boundaries, direction: direction, pool: pool, combine: combine)
        }
    }

    /// Exclusive segmented scan of an array; returns the scanned copy.
    public static func exclusive<E>(
        _ elements: [E], lanes: Int = 1, boundaries: SequenceBoundaries, identity: E,
        direction: ScanDirection = .forward, pool: WorkerPool = .shared,
        combine: (E, E) -> E
    ) throws(ScanError) -> [E] {
        try scanningCopy(of: elements) { buffer throws(ScanError) in
            try exclusive(
                buffer, lanes: lanes, boundaries: boundaries, identity: identity, direction: direction, pool: pool,
                combine: combine)
        }
    }

    static func segmentedUnchecked<E>(
        _ x: UnsafeMutablePointer<E>, lanes: Int, boundaries: SequenceBoundaries, reverse: Bool,
        pool: WorkerPool, combine: (E, E) -> E
    ) {
        foldUnchecked(
            x, steps: boundaries.steps, lanes: lanes, boundaries: boundaries, reverse: reverse, pool: pool,
            combine: combine)
    }
}
