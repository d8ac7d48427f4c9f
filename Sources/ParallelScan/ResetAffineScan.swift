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
/// let h = try AffineScan.solve(.diagonal(lanes: 4), a: a, b: x, boundaries: b)   // a, x: [5][4]
/// ```
extension AffineScan {
    /// The scan with resets for coefficient matrices of any structure (layouts as the plain
    /// scans': ``diagonal(a:b:steps:lanes:initial:output:direction:pool:)``,
    /// ``blockDiagonal(a:b:steps:blocks:blockSize:initial:output:transposed:direction:pool:)``,
    /// ``dense(a:b:steps:batch:dimension:initial:output:transposed:direction:pool:)``, with
    /// T = `boundaries.steps`; `initial`: `[sequences][state]`; `transposed` is ignored by the
    /// diagonal scan).
    ///
    ///     try AffineScan.solve(.diagonal(lanes: 4), a: a, b: x, boundaries: b, output: h)
    ///
    /// - Throws: ``ScanError`` for no lanes, a block size below 1, or a buffer of the wrong size.
    @inlinable
    public static func solve<S: ScanScalar>(
        _ shape: ScanShape, a: UnsafeBufferPointer<S>, b: UnsafeBufferPointer<S>, boundaries: SequenceBoundaries,
        initial: UnsafeBufferPointer<S>? = nil, output: UnsafeMutableBufferPointer<S>, transposed: Bool = false,
        direction: ScanDirection = .forward, pool: WorkerPool = .shared
    ) throws(ScanError) {
        let (a, b, output) = try checkedBuffers(
            shape, a: a, b: b, steps: boundaries.steps, initial: initial,
            initialCount: boundaries.count * shape.statesPerStep, output: output)
        resetScanUnchecked(
            shape, a: a, b: b, boundaries: boundaries, initial: initial?.baseAddress, output: output,
            transposed: transposed, reverse: direction == .reverse, pool: pool)
    }

    /// Array convenience for ``solve(_:a:b:boundaries:initial:output:transposed:direction:pool:)``;
    /// returns the states, `[T][state]`.
    ///
    ///     let h = try AffineScan.solve(.blockDiagonal(blocks: 4, blockSize: 2), a: a, b: x, boundaries: b)
    @inlinable
    public static func solve<S: ScanScalar>(
        _ shape: ScanShape, a: [S], b: [S], boundaries: SequenceBoundaries, initial: [S]? = nil,
        transposed: Bool = false, direction: ScanDirection = .forward, pool: WorkerPool = .shared
    ) throws(ScanError) -> [S] {
        try resetArrays(a, b, initial: initial) { a, b, h0, out throws(ScanError) in
            try solve(
                shape, a: a, b: b, boundaries: boundaries, initial: h0, output: out, transposed: transposed,
                direction: direction, pool: pool)
        }
    }

    /// The scan with resets of any structure without argument checks: the three-phase scan
    /// over ``ScanKernels`` around the resets. Specialised for `Float` and `Double`
    /// (`@_specialize`), so generic callers in other modules run the specialised loops.
    @usableFromInline
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    package static func resetScanUnchecked<S: ScanScalar>(
        _ shape: ScanShape, a: UnsafePointer<S>, b: UnsafePointer<S>,
        boundaries: SequenceBoundaries, initial: UnsafePointer<S>?,
        output: UnsafeMutablePointer<S>, transposed: Bool, reverse: Bool, pool: WorkerPool
    ) {
        let steps = boundaries.steps
        // 1×1 blocks are the diagonal scan (its vector loops).
        var shape = shape
        if case .blockDiagonal(let blocks, 1) = shape { shape = .diagonal(lanes: blocks) }
        let kernels = ScanKernels(shape: shape, a: a, b: b, transposed: transposed, reverse: reverse)
        let state = kernels.state
        let summarySize = kernels.summarySize
        let workers = AffineScan.workers(shape, steps: steps, scalarBytes: MemoryLayout<S>.stride, pool: pool)
        let plan = ChunkPlan(
            steps: steps, workers: workers, reduceCost: kernels.reduceCost(workers: workers, pool: pool),
            reverse: reverse)
        let slots = plan.ranges.count
        let carries = UnsafeMutablePointer<S>.allocate(capacity: slots * state + state)
        carries.initialize(repeating: 0, count: slots * state + state)
        // A padded row per chunk: reductions rewrite their summary at every step.
        let sum = PaddedSlots<S>(slots: slots, count: summarySize, repeating: 0)
        let resetFlags = UnsafeMutablePointer<Bool>.allocate(capacity: slots)
        resetFlags.initialize(repeating: false, count: slots)
        defer {
            carries.deallocate()
            sum.deallocate()
            resetFlags.deallocate()
        }
        // The zero state (for sequences without a given initial state) after the carries.
        let zeros = UnsafePointer(carries + slots * state)
        let out = UnsafeMutableSendable(output)
        let carry = UnsafeMutableSendable(carries)
        let flags = UnsafeMutableSendable(resetFlags)

        func startState(_ sequence: Int) -> UnsafePointer<S> {
            initial.map { $0 + sequence * state } ?? zeros
        }
        /// The plain recurrence over `range` (in the scan's direction) from `carry`.
        func solve(_ range: Range<Int>, _ carry: UnsafePointer<S>) {
            if range.isEmpty { return }
            kernels.solve(range, from: carry, into: out.base)
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
                kernels.reduce(range, into: sum[c])
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
                kernels.apply(UnsafePointer(sum[c]), to: cin, into: cout)
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
