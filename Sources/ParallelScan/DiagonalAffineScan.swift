/// Affine recurrences h_t = A_t h_{t−1} + b_t solved by the chunked parallel scan.
///
/// ## Memory layout
/// Time-major, one row per step: a step's row holds all *lanes* (batch × channels) contiguously,
/// so every kernel's inner loop runs over lanes with unit stride and vectorises across channels.
/// - diagonal: `a`, `b`, `output` are `[T][lanes]`;
/// - block-diagonal with k×k blocks: `a` is `[T][k][k][blocks]` (entry (r, c) of every block is a
///   contiguous plane), `b` and `output` are `[T][k][blocks]`;
/// - dense: `a` is `[T][batch][d][d]` (row-major matrices), `b` and `output` are `[T][batch][d]`.
///
/// ## Directions
/// `.forward` computes h_t = A_t h_{t−1} + b_t for t = 0…T−1 from h_{−1} = `initial`;
/// `.reverse` computes h_t = A_t h_{t+1} + b_t for t = T−1…0 from h_T = `initial` (the adjoint of
/// a forward recurrence is the reverse scan with A_t = J_{t+1}ᵀ; block and dense scans take
/// `transposed: true` to apply the transposes without copying).
///
/// `initial` defaults to zeros. `output` may be the same memory as `b` (in-place).
/// NaN and Inf propagate as in the sequential loop; they never stop a scan.
public enum AffineScan {}

extension AffineScan {
    /// Solves the diagonal recurrence h_t[j] = a_t[j]·h_{t∓1}[j] + b_t[j] for every lane j.
    ///
    /// - Parameters:
    ///   - a: `[T][lanes]` diagonal coefficients.
    ///   - b: `[T][lanes]` offsets.
    ///   - steps: T (> 0).
    ///   - lanes: batch × channels (> 0).
    ///   - initial: `[lanes]` state before the first processed step; `nil` means zeros.
    ///   - output: `[T][lanes]` states; may alias `b`.
    ///   - direction: forward or reverse in time.
    ///   - pool: the workers; the thread count fixes the chunk plan (reproducible results).
    /// - Throws: ``ScanError`` for an empty sequence, no lanes, or a buffer of the wrong size.
    @inlinable
    public static func diagonal<S: ScanScalar>(
        a: UnsafeBufferPointer<S>, b: UnsafeBufferPointer<S>, steps: Int, lanes: Int,
        initial: UnsafeBufferPointer<S>? = nil, output: UnsafeMutableBufferPointer<S>,
        direction: ScanDirection = .forward, pool: WorkerPool = .shared
    ) throws(ScanError) {
        try solve(
            .diagonal(lanes: lanes), a: a, b: b, steps: steps, initial: initial, output: output,
            direction: direction, pool: pool)
    }

    /// Array convenience for ``diagonal(a:b:steps:lanes:initial:output:direction:pool:)``.
    @inlinable
    public static func diagonal<S: ScanScalar>(
        a: [S], b: [S], steps: Int, lanes: Int, initial: [S]? = nil,
        direction: ScanDirection = .forward, pool: WorkerPool = .shared
    ) throws(ScanError) -> [S] {
        if steps <= 0 { throw .emptySequence }
        if lanes <= 0 { throw .noLanes }
        if let initial { try checkBuffer("initial", initial.count, lanes) }
        return try solve(
            .diagonal(lanes: lanes), a: a, b: b, steps: steps, initial: initial, direction: direction, pool: pool)
    }

    /// Runs the recurrence over `range` from `carry` (the state before the range).
    @inlinable
    static func diagonalSolve<S: ScanScalar>(
        a: UnsafePointer<S>, b: UnsafePointer<S>, lanes: Int, range: Range<Int>, reverse: Bool,
        carry: UnsafePointer<S>, output: UnsafeMutablePointer<S>
    ) {
        var previous = carry
        if reverse {
            for t in range.reversed() {
                diagonalStep(
                    a: a + t * lanes, b: b + t * lanes, previous: previous,
                    output: output + t * lanes, lanes: lanes)
                previous = UnsafePointer(output + t * lanes)
            }
        } else {
            for t in range {
                diagonalStep(
                    a: a + t * lanes, b: b + t * lanes, previous: previous,
                    output: output + t * lanes, lanes: lanes)
                previous = UnsafePointer(output + t * lanes)
            }
        }
    }

    @inlinable @inline(__always)
    static func diagonalStep<S: ScanScalar>(
        a: UnsafePointer<S>, b: UnsafePointer<S>, previous: UnsafePointer<S>,
        output: UnsafeMutablePointer<S>, lanes: Int
    ) {
        for j in 0..<lanes { output[j] = a[j] * previous[j] + b[j] }
    }

    /// Composes the steps of `range` onto (P, Q): P ← a_t·P, Q ← a_t·Q + b_t.
    @inlinable
    static func diagonalAccumulate<S: ScanScalar>(
        a: UnsafePointer<S>, b: UnsafePointer<S>, lanes: Int, range: Range<Int>, reverse: Bool,
        p: UnsafeMutablePointer<S>, q: UnsafeMutablePointer<S>
    ) {
        if reverse {
            for t in range.reversed() {
                let at = a + t * lanes
                let bt = b + t * lanes
                for j in 0..<lanes {
                    p[j] = at[j] * p[j]
                    q[j] = at[j] * q[j] + bt[j]
                }
            }
        } else {
            for t in range {
                let at = a + t * lanes
                let bt = b + t * lanes
                for j in 0..<lanes {
                    p[j] = at[j] * p[j]
                    q[j] = at[j] * q[j] + bt[j]
                }
            }
        }
    }
}

extension AffineScan {
    /// The array conveniences' shared plumbing: buffer views of `a`, `b` and the initial state
    /// (zeros of `stateCount` if `nil`), and a fresh output of `b.count` values that `body`
    /// fills through the pointer variants.
    @inlinable
    static func scanArrays<S: ScanScalar>(
        _ a: [S], _ b: [S], initial: [S]?, stateCount: Int,
        _ body: (
            UnsafeBufferPointer<S>, UnsafeBufferPointer<S>, UnsafeBufferPointer<S>,
            UnsafeMutableBufferPointer<S>
        ) throws(ScanError) -> Void
    ) throws(ScanError) -> [S] {
        var output = [S](repeating: 0, count: b.count)
        let h0 = initial ?? [S](repeating: 0, count: max(0, stateCount))
        let result: Result<Void, ScanError> = a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                h0.withUnsafeBufferPointer { h0 in
                    output.withUnsafeMutableBufferPointer { out in
                        Result { () throws(ScanError) in try body(a, b, h0, out) }
                    }
                }
            }
        }
        try result.get()
        return output
    }
}
