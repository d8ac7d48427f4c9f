/// Affine scans over several sequences packed end to end (``SequenceBoundaries``).
///
/// Sequence i of the packed steps runs h_t = A_t h_{t−1} + b_t from its own initial state
/// h₀ⁱ (forward), or h_t = A_t h_{t+1} + b_t from its own terminal state (reverse, the adjoint
/// direction): in scan terms the element of a reset step becomes (0, A_s h₀ⁱ + b_s), so nothing
/// flows across a boundary in either direction. Layouts, `transposed` and aliasing are those of
/// the plain scans (``AffineScan``); `initial` holds one state per sequence, `[sequences][state]`
/// (zeros if `nil`).
///
/// The chunked three-phase scan runs unchanged around the resets: a chunk is solved segment by
/// segment (each segment from the carry-in or from the initial state of the sequence it
/// starts); a chunk that holds a reset needs no summary: its carry-out does not depend on its
/// carry-in, so its last segment is solved in phase 1 and its carry-out read off the output.
/// A is never modified (no copy, no zeroing), and the plain scans pay nothing.
///
/// ```swift
/// let b = try SequenceBoundaries(lengths: [3, 2])
/// let h = try AffineScan.diagonal(a: a, b: x, lanes: 4, boundaries: b)   // a, x: [5][4]
/// ```
extension AffineScan {
    /// The shape of a reset scan (what the driver dispatches on).
    @usableFromInline
    enum ResetKind: Sendable {
        case diagonal(lanes: Int)
        case block(blocks: Int, k: Int, transposed: Bool)
        case dense(batch: Int, d: Int, transposed: Bool)

        var state: Int {
            switch self {
            case .diagonal(let lanes): return lanes
            case .block(let blocks, let k, _): return k * blocks
            case .dense(let batch, let d, _): return batch * d
            }
        }
    }

    /// Diagonal scan with resets: `a`, `b`, `output` are `[T][lanes]` with T = `boundaries.steps`.
    /// - Throws: ``ScanError`` for no lanes or a buffer of the wrong size.
    @inlinable
    public static func diagonal<S: ScanScalar>(
        a: UnsafeBufferPointer<S>, b: UnsafeBufferPointer<S>, lanes: Int,
        boundaries: SequenceBoundaries, initial: UnsafeBufferPointer<S>? = nil,
        output: UnsafeMutableBufferPointer<S>, direction: ScanDirection = .forward,
        pool: WorkerPool = .shared
    ) throws(ScanError) {
        if lanes <= 0 { throw .noLanes }
        let steps = boundaries.steps
        try checkBuffer("a", a.count, steps * lanes)
        try checkBuffer("b", b.count, steps * lanes)
        try checkBuffer("output", output.count, steps * lanes)
        if let initial { try checkBuffer("initial", initial.count, boundaries.count * lanes) }
        resetScanUnchecked(
            .diagonal(lanes: lanes), a: a.baseAddress!, b: b.baseAddress!, boundaries: boundaries,
            initial: initial?.baseAddress, output: output.baseAddress!,
            reverse: direction == .reverse, pool: pool)
    }

    /// Array convenience for the diagonal scan with resets.
    @inlinable
    public static func diagonal<S: ScanScalar>(
        a: [S], b: [S], lanes: Int, boundaries: SequenceBoundaries, initial: [S]? = nil,
        direction: ScanDirection = .forward, pool: WorkerPool = .shared
    ) throws(ScanError) -> [S] {
        try resetArrays(a, b, initial: initial) { a, b, h0, out throws(ScanError) in
            try diagonal(
                a: a, b: b, lanes: lanes, boundaries: boundaries, initial: h0, output: out,
                direction: direction, pool: pool)
        }
    }

    /// Block-diagonal (k×k) scan with resets; layout as ``blockDiagonal(a:b:steps:blocks:blockSize:initial:output:transposed:direction:pool:)``.
    @inlinable
    public static func blockDiagonal<S: ScanScalar>(
        a: UnsafeBufferPointer<S>, b: UnsafeBufferPointer<S>, blocks: Int, blockSize k: Int,
        boundaries: SequenceBoundaries, initial: UnsafeBufferPointer<S>? = nil,
        output: UnsafeMutableBufferPointer<S>, transposed: Bool = false,
        direction: ScanDirection = .forward, pool: WorkerPool = .shared
    ) throws(ScanError) {
        if blocks <= 0 { throw .noLanes }
        if k < 1 { throw .invalidBlockSize(blockSize: k, stateSize: k * blocks) }
        let steps = boundaries.steps
        try checkBuffer("a", a.count, steps * k * k * blocks)
        try checkBuffer("b", b.count, steps * k * blocks)
        try checkBuffer("output", output.count, steps * k * blocks)
        if let initial { try checkBuffer("initial", initial.count, boundaries.count * k * blocks) }
        resetScanUnchecked(
            .block(blocks: blocks, k: k, transposed: transposed), a: a.baseAddress!,
            b: b.baseAddress!, boundaries: boundaries, initial: initial?.baseAddress,
            output: output.baseAddress!, reverse: direction == .reverse, pool: pool)
    }

    /// Array convenience for the block-diagonal scan with resets.
    @inlinable
    public static func blockDiagonal<S: ScanScalar>(
        a: [S], b: [S], blocks: Int, blockSize k: Int, boundaries: SequenceBoundaries,
        initial: [S]? = nil, transposed: Bool = false, direction: ScanDirection = .forward,
        pool: WorkerPool = .shared
    ) throws(ScanError) -> [S] {
        try resetArrays(a, b, initial: initial) { a, b, h0, out throws(ScanError) in
            try blockDiagonal(
                a: a, b: b, blocks: blocks, blockSize: k, boundaries: boundaries, initial: h0,
                output: out, transposed: transposed, direction: direction, pool: pool)
        }
    }

    /// Dense (d×d per batch entry) scan with resets; layout as ``dense(a:b:steps:batch:dimension:initial:output:transposed:direction:pool:)``.
    @inlinable
    public static func dense<S: ScanScalar>(
        a: UnsafeBufferPointer<S>, b: UnsafeBufferPointer<S>, batch: Int, dimension d: Int,
        boundaries: SequenceBoundaries, initial: UnsafeBufferPointer<S>? = nil,
        output: UnsafeMutableBufferPointer<S>, transposed: Bool = false,
        direction: ScanDirection = .forward, pool: WorkerPool = .shared
    ) throws(ScanError) {
        if batch <= 0 || d <= 0 { throw .noLanes }
        let steps = boundaries.steps
        try checkBuffer("a", a.count, steps * batch * d * d)
        try checkBuffer("b", b.count, steps * batch * d)
        try checkBuffer("output", output.count, steps * batch * d)
        if let initial { try checkBuffer("initial", initial.count, boundaries.count * batch * d) }
        resetScanUnchecked(
            .dense(batch: batch, d: d, transposed: transposed), a: a.baseAddress!,
            b: b.baseAddress!, boundaries: boundaries, initial: initial?.baseAddress,
            output: output.baseAddress!, reverse: direction == .reverse, pool: pool)
    }

    /// Array convenience for the dense scan with resets.
    @inlinable
    public static func dense<S: ScanScalar>(
        a: [S], b: [S], batch: Int, dimension d: Int, boundaries: SequenceBoundaries,
        initial: [S]? = nil, transposed: Bool = false, direction: ScanDirection = .forward,
        pool: WorkerPool = .shared
    ) throws(ScanError) -> [S] {
        try resetArrays(a, b, initial: initial) { a, b, h0, out throws(ScanError) in
            try dense(
                a: a, b: b, batch: batch, dimension: d, boundaries: boundaries, initial: h0,
                output: out, transposed: transposed, direction: direction, pool: pool)
        }
    }

    /// The diagonal scan with resets without argument checks (`initial`: `[sequences][lanes]`).
    @usableFromInline package static func diagonalUnchecked<S: ScanScalar>(
        a: UnsafePointer<S>, b: UnsafePointer<S>, lanes: Int, boundaries: SequenceBoundaries,
        initial: UnsafePointer<S>?, output: UnsafeMutablePointer<S>, reverse: Bool,
        pool: WorkerPool
    ) {
        resetScanUnchecked(
            .diagonal(lanes: lanes), a: a, b: b, boundaries: boundaries, initial: initial,
            output: output, reverse: reverse, pool: pool)
    }

    /// The block-diagonal scan with resets without argument checks (k = 1 is the diagonal scan).
    @usableFromInline package static func blockDiagonalUnchecked<S: ScanScalar>(
        a: UnsafePointer<S>, b: UnsafePointer<S>, blocks: Int, blockSize k: Int,
        boundaries: SequenceBoundaries, initial: UnsafePointer<S>?,
        output: UnsafeMutablePointer<S>, transposed: Bool, reverse: Bool, pool: WorkerPool
    ) {
        let kind: ResetKind = k == 1 ? .diagonal(lanes: blocks) : .block(blocks: blocks, k: k, transposed: transposed)
        resetScanUnchecked(
            kind, a: a, b: b, boundaries: boundaries, initial: initial, output: output,
            reverse: reverse, pool: pool)
    }

    /// The dense scan with resets without argument checks.
    @usableFromInline package static func denseUnchecked<S: ScanScalar>(
        a: UnsafePointer<S>, b: UnsafePointer<S>, batch: Int, dimension d: Int,
        boundaries: SequenceBoundaries, initial: UnsafePointer<S>?,
        output: UnsafeMutablePointer<S>, transposed: Bool, reverse: Bool, pool: WorkerPool
    ) {
        resetScanUnchecked(
            .dense(batch: batch, d: d, transposed: transposed), a: a, b: b, boundaries: boundaries,
            initial: initial, output: output, reverse: reverse, pool: pool)
    }

    /// Dispatches to an implementation specialised for Float or Double.
    @usableFromInline
    static func resetScanUnchecked<S: ScanScalar>(
        _ kind: ResetKind, a: UnsafePointer<S>, b: UnsafePointer<S>,
        boundaries: SequenceBoundaries, initial: UnsafePointer<S>?,
        output: UnsafeMutablePointer<S>, reverse: Bool, pool: WorkerPool
    ) {
        func cast<T>(_ p: UnsafePointer<S>, _: T.Type) -> UnsafePointer<T> {
            UnsafeRawPointer(p).assumingMemoryBound(to: T.self)
        }
        if S.self == Float.self {
            resetImplementation(
                kind, a: cast(a, Float.self), b: cast(b, Float.self), boundaries: boundaries,
                initial: initial.map { cast($0, Float.self) },
                output: UnsafeMutableRawPointer(output).assumingMemoryBound(to: Float.self),
                reverse: reverse, pool: pool)
        } else if S.self == Double.self {
            resetImplementation(
                kind, a: cast(a, Double.self), b: cast(b, Double.self), boundaries: boundaries,
                initial: initial.map { cast($0, Double.self) },
                output: UnsafeMutableRawPointer(output).assumingMemoryBound(to: Double.self),
                reverse: reverse, pool: pool)
        } else {
            resetImplementation(
                kind, a: a, b: b, boundaries: boundaries, initial: initial, output: output,
                reverse: reverse, pool: pool)
        }
    }

    static func resetImplementation<S: ScanScalar>(
        _ kind: ResetKind, a: UnsafePointer<S>, b: UnsafePointer<S>,
        boundaries: SequenceBoundaries, initial: UnsafePointer<S>?,
        output: UnsafeMutablePointer<S>, reverse: Bool, pool: WorkerPool
    ) {
        let steps = boundaries.steps
        let state = kind.state
        let shape: ScanShape
        let reduceCost: Double
        let summarySize: Int
        switch kind {
        case .diagonal(let lanes):
            shape = .diagonal(lanes: lanes)
            reduceCost = 0.8
            summarySize = 2 * lanes
        case .block(let blocks, let k, _):
            shape = .blockDiagonal(blocks: blocks, blockSize: k)
            reduceCost = 1 + 0.25 * Double(k - 1)
            summarySize = 2 * (k * k + k) * blocks  // summary, then scratch
        case .dense(let batch, let d, _):
            shape = .dense(batch: batch, dimension: d)
            reduceCost = Double(d)
            summarySize = 2 * (d * d + d) * batch
        }
        let workers = AffineScan.workers(shape, steps: steps, scalarBytes: MemoryLayout<S>.stride, pool: pool)
        let plan = ChunkPlan(steps: steps, workers: workers, reduceCost: reduceCost, reverse: reverse)
        let slots = plan.ranges.count
        let carries = UnsafeMutablePointer<S>.allocate(capacity: slots * state + state)
        carries.initialize(repeating: 0, count: slots * state + state)
        let summaries = UnsafeMutablePointer<S>.allocate(capacity: slots * summarySize)
        summaries.initialize(repeating: 0, count: slots * summarySize)
        let resetFlags = UnsafeMutablePointer<Bool>.allocate(capacity: slots)
        resetFlags.initialize(repeating: false, count: slots)
        defer {
            carries.deallocate()
            summaries.deallocate()
            resetFlags.deallocate()
        }
        // The zero state (for sequences without a given initial state) after the carries.
        let zeros = UnsafePointer(carries + slots * state)
        let out = UnsafeMutableSendable(output)
        let sum = UnsafeMutableSendable(summaries)
        let carry = UnsafeMutableSendable(carries)
        let flags = UnsafeMutableSendable(resetFlags)

        func startState(_ sequence: Int) -> UnsafePointer<S> {
            initial.map { $0 + sequence * state } ?? zeros
        }
        /// The plain recurrence over `range` (in the scan's direction) from `carry`.
        func solve(_ range: Range<Int>, _ carry: UnsafePointer<S>) {
            if range.isEmpty { return }
            switch kind {
            case .diagonal(let lanes):
                diagonalSolve(
                    a: a, b: b, lanes: lanes, range: range, reverse: reverse, carry: carry,
                    output: out.base)
            case .block(let blocks, let k, let transposed):
                blockSolve(
                    a: a, b: b, k: k, blocks: blocks, range: range, transposed: transposed,
                    reverse: reverse, carry: carry, output: out.base)
            case .dense(let batch, let d, let transposed):
                denseSolve(
                    a: a, b: b, d: d, batch: batch, range: range, transposed: transposed,
                    reverse: reverse, carry: carry, output: out.base)
            }
        }
        /// The segment of `range` after its last reset (processing order), and that reset's
        /// sequence; nil without a reset.
        func tail(_ range: Range<Int>) -> (Range<Int>, Int)? {
            guard let last = boundaries.resets(in: range, reverse: reverse).last else { return nil }
            return reverse
                ? (range.lowerBound..<(last.step + 1), last.sequence)
                : (last.step..<range.upperBound, last.sequence)
        }
        /// Solves `range` segment by segment; with `skipTail`, stops before the segment after
        /// the last reset (already solved by the chunk's reduction).
        func solveSegments(_ range: Range<Int>, from carryIn: UnsafePointer<S>, skipTail: Bool) {
            let resets = boundaries.resets(in: range, reverse: reverse)
            var previous = carryIn
            if reverse {
                var upper = range.upperBound
                for reset in resets {
                    solve((reset.step + 1)..<upper, previous)
                    upper = reset.step + 1
                    previous = startState(reset.sequence)
                }
                if !(skipTail && !resets.isEmpty) { solve(range.lowerBound..<upper, previous) }
            } else {
                var lower = range.lowerBound
                for reset in resets {
                    solve(lower..<reset.step, previous)
                    lower = reset.step
                    previous = startState(reset.sequence)
                }
                if !(skipTail && !resets.isEmpty) { solve(lower..<range.upperBound, previous) }
            }
        }
        ThreePhaseScan(plan: plan, pool: pool).run(
            solveFirst: { range in
                // Chunk 0 begins at step 0 (T − 1 in reverse): a reset.
                solveSegments(range, from: zeros, skipTail: false)
            },
            reduce: { c, range in
                if let (segment, sequence) = tail(range) {
                    solve(segment, startState(sequence))
                    flags.base[c] = true
                    return
                }
                let base = sum.base + c * summarySize
                switch kind {
                case .diagonal(let lanes):
                    diagonalReduce(a: a, b: b, lanes: lanes, range: range, reverse: reverse, summary: base)
                case .block(let blocks, let k, let transposed):
                    blockReduce(
                        a: a, b: b, k: k, blocks: blocks, range: range, transposed: transposed,
                        reverse: reverse, summary: base, scratch: base + summarySize / 2)
                case .dense(let batch, let d, let transposed):
                    denseReduce(
                        a: a, b: b, d: d, batch: batch, range: range, transposed: transposed,
                        reverse: reverse, summary: base, scratch: base + summarySize / 2)
                }
            },
            carryFromFirst: { range in
                let last = reverse ? range.lowerBound : range.upperBound - 1
                (carry.base + state).update(from: out.base + last * state, count: state)
            },
            propagate: { c in
                let cin = UnsafePointer(carry.base + c * state)
                let cout = carry.base + (c + 1) * state
                if flags.base[c] {
                    let range = plan.ranges[c]
                    let last = reverse ? range.lowerBound : range.upperBound - 1
                    cout.update(from: out.base + last * state, count: state)
                    return
                }
                let p = UnsafePointer(sum.base + c * summarySize)
                switch kind {
                case .diagonal(let lanes):
                    let q = p + lanes
                    for j in 0..<lanes { cout[j] = p[j] * cin[j] + q[j] }
                case .block(let blocks, let k, _):
                    blockApply(
                        a: p, b: p + k * k * blocks, previous: cin, output: cout, k: k,
                        blocks: blocks, transposed: false)
                case .dense(let batch, let d, _):
                    let q = p + d * d * batch
                    for n in 0..<batch {
                        (cout + n * d).update(from: q + n * d, count: d)
                        denseMultiplyAdd(transposed: false, d: d, a: p + n * d * d, x: cin + n * d, y: cout + n * d)
                    }
                }
            },
            solveFrom: { c, range in
                solveSegments(range, from: UnsafePointer(carry.base + c * state), skipTail: flags.base[c])
            })
    }

    /// Buffer views of `a`, `b` and the per-sequence initial states (zeros if `nil`), and a fresh
    /// output of `b.count` values.
    @inlinable
    static func resetArrays<S: ScanScalar>(
        _ a: [S], _ b: [S], initial: [S]?,
        _ body: (
            UnsafeBufferPointer<S>, UnsafeBufferPointer<S>, UnsafeBufferPointer<S>?,
            UnsafeMutableBufferPointer<S>
        ) throws(ScanError) -> Void
    ) throws(ScanError) -> [S] {
        var output = [S](repeating: 0, count: b.count)
        let result: Result<Void, ScanError> = a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                output.withUnsafeMutableBufferPointer { out in
                    if let initial {
                        return initial.withUnsafeBufferPointer { h0 in
                            Result { () throws(ScanError) in try body(a, b, h0, out) }
                        }
                    }
                    return Result { () throws(ScanError) in try body(a, b, nil, out) }
                }
            }
        }
        try result.get()
        return output
    }
}
