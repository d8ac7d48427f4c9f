/// Row-range pieces of a forward block-diagonal affine scan, for callers that fuse the scan into
/// their own passes over memory (the Newton engine solves, linearises and reduces each block of
/// rows while it is in cache, instead of making separate passes).
///
/// Layout as in ``AffineScan``'s block-diagonal scan, with k = 1 the diagonal scan: per step,
/// `a` is `[k][k][blocks]` and `b`, states and carries are `[k][blocks]`. A *summary* of a run of
/// steps is the composed affine map x ↦ P·x + Q per block: P as k·k planes of `blocks`, then Q as
/// k planes (``summaryCount(blocks:blockSize:)`` values).
///
/// ``solve(a:b:rows:blocks:blockSize:carry:output:)`` and
/// ``accumulate(a:b:rows:blocks:blockSize:summary:)`` are specialised for `Float` and `Double`
/// (`@_specialize`), so generic callers in other modules run the specialised loops. Package
/// access: the Newton engine's fused passes are its only users.
package enum AffineRows {
    /// The number of values in one summary.
    @inlinable
    package static func summaryCount(blocks: Int, blockSize k: Int) -> Int { (k * k + k) * blocks }

    /// Sets a summary to the identity map (P = I, Q = 0).
    package static func resetSummary<S: ScanScalar>(
        _ summary: UnsafeMutablePointer<S>, blocks: Int, blockSize k: Int
    ) {
        let matrix = k * k * blocks
        summary.update(repeating: 0, count: matrix + k * blocks)
        for r in 0..<k { (summary + (r * k + r) * blocks).update(repeating: 1, count: blocks) }
    }

    /// output = P·input + Q for a summary (output must not alias input).
    package static func applySummary<S: ScanScalar>(
        _ summary: UnsafePointer<S>, blocks: Int, blockSize k: Int, input: UnsafePointer<S>,
        output: UnsafeMutablePointer<S>
    ) {
        AffineScan.blockApply(
            a: summary, b: summary + k * k * blocks, previous: input, output: output, k: k,
            blocks: blocks, transposed: false)
    }

    /// Solves the steps `rows` (forward) from `carry`, the state before the first of them:
    /// output_t = Â_t·output_{t−1} + b_t. `carry` must not lie inside the rows' outputs;
    /// `output` may alias `b`.
    @usableFromInline
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    package static func solve<S: ScanScalar>(
        a: UnsafePointer<S>, b: UnsafePointer<S>, rows: Range<Int>, blocks: Int, blockSize k: Int,
        carry: UnsafePointer<S>, output: UnsafeMutablePointer<S>
    ) {
        if rows.isEmpty { return }
        if k <= 2, blocks % 4 == 0, blocks <= 16 {
            narrowSolve(a: a, b: b, rows: rows, groups: blocks / 4, k: k, carry: carry, output: output)
            return
        }
        if k == 1 {
            AffineScan.diagonalSolve(
                a: a, b: b, lanes: blocks, range: rows, reverse: false, carry: carry,
                output: output)
        } else {
            AffineScan.blockSolve(
                a: a, b: b, k: k, blocks: blocks, range: rows, transposed: false,
                reverse: false, carry: carry, output: output)
        }
    }

    /// Composes the steps `rows` (in order) onto `summary`: P ← Â_t·P, Q ← Â_t·Q + b_t.
    @usableFromInline
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    package static func accumulate<S: ScanScalar>(
        a: UnsafePointer<S>, b: UnsafePointer<S>, rows: Range<Int>, blocks: Int, blockSize k: Int,
        summary: UnsafeMutablePointer<S>
    ) {
        if rows.isEmpty { return }
        let p = summary
        let q = p + k * k * blocks
        if k <= 2, blocks % 4 == 0, blocks <= 16 {
            narrowAccumulate(a: a, b: b, rows: rows, groups: blocks / 4, k: k, summary: p)
            return
        }
        if k == 1 {
            AffineScan.diagonalAccumulate(a: a, b: b, lanes: blocks, range: rows, reverse: false, p: p, q: q)
            return
        }
        switch k {
        case 2: AffineScan.blockReduceFused(a, b, 2, blocks, rows, false, false, p, q)
        case 3: AffineScan.blockReduceFused(a, b, 3, blocks, rows, false, false, p, q)
        case 4: AffineScan.blockReduceFused(a, b, 4, blocks, rows, false, false, p, q)
        default:
            // Larger blocks: compose through scratch (P and Q are read before written).
            let count = summaryCount(blocks: blocks, blockSize: k)
            let scratch = UnsafeMutablePointer<S>.allocate(capacity: count)
            defer { scratch.deallocate() }
            for t in rows {
                let at = a + t * k * k * blocks
                for col in 0..<k {
                    AffineScan.blockMatrixColumn(
                        a: at, p: UnsafePointer(p), col: col, output: scratch, k: k,
                        blocks: blocks, transposed: false)
                }
                AffineScan.blockApply(
                    a: at, b: b + t * k * blocks, previous: UnsafePointer(q),
                    output: scratch + k * k * blocks, k: k, blocks: blocks, transposed: false)
                p.update(from: scratch, count: count)
            }
        }
    }

    // MARK: narrow rows (k ≤ 2, at most 16 blocks, a multiple of 4)

    // With few lanes per step the plain loops run scalar and one dependency chain long (a
    // Newton step of a B = 1, d = 4 sequence has 4 lanes). These keep each group of 4 blocks in
    // one SIMD4 register, and the reduction runs 4 independent segments of the rows in the same
    // loop so that their chains overlap; the segments' maps are composed at the end.

    /// A summary of at most 16 blocks held in registers: P entries then Q entries, per group of
    /// 4 blocks ([group][k·k + k] of SIMD4).
    @usableFromInline
    struct NarrowSummary<S: ScanScalar> {
        var values: [SIMD4<S>]
        let k: Int, groups: Int
        init(identityFor k: Int, groups: Int) {
            self.k = k
            self.groups = groups
            values = [SIMD4<S>](repeating: .zero, count: groups * (k * k + k))
            for g in 0..<groups {
                for r in 0..<k { values[g * (k * k + k) + r * k + r] = SIMD4(repeating: 1) }
            }
        }
    }

    static func narrowSolve<S: ScanScalar>(
        a: UnsafePointer<S>, b: UnsafePointer<S>, rows: Range<Int>, groups: Int, k: Int,
        carry: UnsafePointer<S>, output: UnsafeMutablePointer<S>
    ) {
        let blocks = 4 * groups
        let state = k * blocks
        let rowA = k * state
        for g in 0..<groups {
            let o = 4 * g
            if k == 1 {
                var h = loadVector(carry + o)
                for t in rows {
                    h = multiplyAdd(loadVector(a + t * rowA + o), h, loadVector(b + t * state + o))
                    storeVector(h, output + t * state + o)
                }
            } else {
                var h0 = loadVector(carry + o)
                var h1 = loadVector(carry + blocks + o)
                for t in rows {
                    let at = a + t * rowA + o
                    let bt = b + t * state + o
                    let n0 = multiplyAdd(loadVector(at), h0, multiplyAdd(loadVector(at + blocks), h1, loadVector(bt)))
                    let n1 = multiplyAdd(
                        loadVector(at + 2 * blocks), h0,
                        multiplyAdd(loadVector(at + 3 * blocks), h1, loadVector(bt + blocks)))
                    (h0, h1) = (n0, n1)
                    storeVector(h0, output + t * state + o)
                    storeVector(h1, output + t * state + blocks + o)
                }
            }
        }
    }

    static func narrowAccumulate<S: ScanScalar>(
        a: UnsafePointer<S>, b: UnsafePointer<S>, rows: Range<Int>, groups: Int, k: Int,
        summary: UnsafeMutablePointer<S>
    ) {
        let blocks = 4 * groups
        let state = k * blocks
        let rowA = k * state
        let segment = rows.count / 4
        for g in 0..<groups {
            let o = 4 * g
            // Four segments s (rows lower + s·segment …), then the leftover rows onto segment 3.
            if k == 1 {
                var p = (SIMD4<S>(repeating: 1), SIMD4<S>(repeating: 1), SIMD4<S>(repeating: 1), SIMD4<S>(repeating: 1))
                var q = (SIMD4<S>.zero, SIMD4<S>.zero, SIMD4<S>.zero, SIMD4<S>.zero)
                var t = rows.lowerBound
                for _ in 0..<segment {
                    let a0 = loadVector(a + t * rowA + o)
                    let a1 = loadVector(a + (t + segment) * rowA + o)
                    let a2 = loadVector(a + (t + 2 * segment) * rowA + o)
                    let a3 = loadVector(a + (t + 3 * segment) * rowA + o)
                    p = (a0 * p.0, a1 * p.1, a2 * p.2, a3 * p.3)
                    q = (
                        multiplyAdd(a0, q.0, loadVector(b + t * state + o)),
                        multiplyAdd(a1, q.1, loadVector(b + (t + segment) * state + o)),
                        multiplyAdd(a2, q.2, loadVector(b + (t + 2 * segment) * state + o)),
                        multiplyAdd(a3, q.3, loadVector(b + (t + 3 * segment) * state + o))
                    )
                    t += 1
                }
                for t in (rows.lowerBound + 4 * segment)..<rows.upperBound {
                    let at = loadVector(a + t * rowA + o)
                    p.3 = at * p.3
                    q.3 = multiplyAdd(at, q.3, loadVector(b + t * state + o))
                }
                // summary ← S3 ∘ S2 ∘ S1 ∘ S0 ∘ summary: (P, Q) ↦ (P_s·P, P_s·Q + Q_s).
                var sp = loadVector(UnsafePointer(summary) + o)
                var sq = loadVector(UnsafePointer(summary) + blocks + o)
                for (ps, qs) in [(p.0, q.0), (p.1, q.1), (p.2, q.2), (p.3, q.3)] {
                    sp = ps * sp
                    sq = ps * sq + qs
                }
                storeVector(sp, summary + o)
                storeVector(sq, summary + blocks + o)
            } else {
                // 2×2 blocks: per segment P (4 planes) and Q (2 planes).
                var ps = [[SIMD4<S>]](repeating: [SIMD4(repeating: 1), .zero, .zero, SIMD4(repeating: 1)], count: 4)
                var qs = [[SIMD4<S>]](repeating: [.zero, .zero], count: 4)
                func step(
                    _ s: Int, _ t: Int, _ p: inout (SIMD4<S>, SIMD4<S>, SIMD4<S>, SIMD4<S>),
                    _ q: inout (SIMD4<S>, SIMD4<S>)
                ) {
                    let at = a + t * rowA + o
                    let bt = b + t * state + o
                    let m00 = loadVector(at)
                    let m01 = loadVector(at + blocks)
                    let m10 = loadVector(at + 2 * blocks)
                    let m11 = loadVector(at + 3 * blocks)
                    p = (m00 * p.0 + m01 * p.2, m00 * p.1 + m01 * p.3, m10 * p.0 + m11 * p.2, m10 * p.1 + m11 * p.3)
                    q = (m00 * q.0 + m01 * q.1 + loadVector(bt), m10 * q.0 + m11 * q.1 + loadVector(bt + blocks))
                }
                let one = SIMD4<S>(repeating: 1)
                var p0 = (one, SIMD4<S>.zero, SIMD4<S>.zero, one)
                var p1 = p0
                var p2 = p0
                var p3 = p0
                var q0 = (SIMD4<S>.zero, SIMD4<S>.zero)
                var q1 = q0
                var q2 = q0
                var q3 = q0
                var t = rows.lowerBound
                for _ in 0..<segment {
                    step(0, t, &p0, &q0)
                    step(1, t + segment, &p1, &q1)
                    step(2, t + 2 * segment, &p2, &q2)
                    step(3, t + 3 * segment, &p3, &q3)
                    t += 1
                }
                for t in (rows.lowerBound + 4 * segment)..<rows.upperBound { step(3, t, &p3, &q3) }
                ps[0] = [p0.0, p0.1, p0.2, p0.3]
                ps[1] = [p1.0, p1.1, p1.2, p1.3]
                ps[2] = [p2.0, p2.1, p2.2, p2.3]
                ps[3] = [p3.0, p3.1, p3.2, p3.3]
                qs[0] = [q0.0, q0.1]
                qs[1] = [q1.0, q1.1]
                qs[2] = [q2.0, q2.1]
                qs[3] = [q3.0, q3.1]
                // summary ← S3 ∘ S2 ∘ S1 ∘ S0 ∘ summary.
                var sp = (0..<4).map { loadVector(UnsafePointer(summary) + $0 * blocks + o) }
                var sq = (0..<2).map { loadVector(UnsafePointer(summary) + 4 * blocks + $0 * blocks + o) }
                for s in 0..<4 {
                    let m = ps[s]
                    let c = qs[s]
                    sp = [
                        m[0] * sp[0] + m[1] * sp[2], m[0] * sp[1] + m[1] * sp[3],
                        m[2] * sp[0] + m[3] * sp[2], m[2] * sp[1] + m[3] * sp[3],
                    ]
                    sq = [m[0] * sq[0] + m[1] * sq[1] + c[0], m[2] * sq[0] + m[3] * sq[1] + c[1]]
                }
                for e in 0..<4 { storeVector(sp[e], summary + e * blocks + o) }
                for e in 0..<2 { storeVector(sq[e], summary + 4 * blocks + e * blocks + o) }
            }
        }
    }
}
