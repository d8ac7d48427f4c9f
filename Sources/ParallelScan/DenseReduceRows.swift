/// The reduction of a chunk of small dense steps (d ≤ ``AffineScan/smallDenseLimit``, d a
/// multiple of 4): (P, Q) ← (A_t·P, A_t·Q + b_t) over the chunk, with A_t·P formed row by row in
/// whole vectors.
///
/// Row i of A·P is Σ_k a_ik · (row k of P): eight (then four) columns at a time, each summed from
/// zero in k order — the same operations, in the same order, as the scalar column
/// loop of ``AffineScan/denseMultiply(transposed:d:a:p:c:)``, so the summary is bitwise the same,
/// without that loop's per-row aliasing checks and scalar tails. Q keeps the solve's
/// matrix-vector product (``AffineScan/denseMultiplyAdd(transposed:d:a:x:y:)``).
///
/// ```swift
/// denseReduceRows(a: a, b: b, d: 8, batch: 1, range: 0..<T, transposed: false, reverse: false,
///                  summary: summary, scratch: scratch)   // summary: [P (d×d)][Q (d)]
/// ```
@inline(__always)
func denseReduceRows<S: ScanScalar>(
    a: UnsafePointer<S>, b: UnsafePointer<S>, d: Int, batch: Int, range: Range<Int>, transposed: Bool,
    reverse: Bool, summary: UnsafeMutablePointer<S>, scratch: UnsafeMutablePointer<S>
) {
    let state = batch * d
    let matrix = batch * d * d
    var p = summary
    var q = summary + matrix
    var np = scratch
    var nq = scratch + matrix
    p.update(repeating: 0, count: matrix)
    for n in 0..<batch { for i in 0..<d { p[n * d * d + i * d + i] = 1 } }
    q.update(repeating: 0, count: state)
    var t = reverse ? range.upperBound - 1 : range.lowerBound
    let stride = reverse ? -1 : 1
    for _ in 0..<range.count {
        let at = a + t * matrix
        nq.update(from: b + t * state, count: state)
        for n in 0..<batch {
            let an = at + n * d * d
            multiplyRows(transposed: transposed, d: d, a: an, p: p + n * d * d, c: np + n * d * d)
            AffineScan.denseMultiplyAdd(transposed: transposed, d: d, a: an, x: q + n * d, y: nq + n * d)
        }
        swap(&p, &np)
        swap(&q, &nq)
        t += stride
    }
    if p != summary { summary.update(from: p, count: matrix + state) }
}

/// c = op(A)·P for d×d matrices, d a multiple of 4: row i of c is Σ_k op(A)_ik · (row k of P),
/// accumulated from zero in k order, eight or four columns per vector.
@inline(__always)
private func multiplyRows<S: ScanScalar>(
    transposed: Bool, d: Int, a: UnsafePointer<S>, p: UnsafePointer<S>, c: UnsafeMutablePointer<S>
) {
    for i in 0..<d {
        let out = c + i * d
        var j = 0
        while j + 8 <= d {
            var acc = SIMD8<S>()
            for k in 0..<d {
                let aik = transposed ? a[k * d + i] : a[i * d + k]
                acc += SIMD8(repeating: aik) * UnsafeRawPointer(p + k * d + j).loadUnaligned(as: SIMD8<S>.self)
            }
            UnsafeMutableRawPointer(out + j).storeBytes(of: acc, as: SIMD8<S>.self)
            j += 8
        }
        if j + 4 <= d {
            var acc = SIMD4<S>()
            for k in 0..<d {
                let aik = transposed ? a[k * d + i] : a[i * d + k]
                acc += SIMD4(repeating: aik) * loadVector(p + k * d + j)
            }
            storeVector(acc, out + j)
        }
    }
}
