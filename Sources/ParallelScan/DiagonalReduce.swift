/// The reduction of a chunk of a diagonal scan: (P, Q) ← (a_t ⊙ P, a_t ⊙ Q + b_t) over the chunk,
/// eight (then four, then one) lanes at a time in explicit vectors.
///
/// The same operations in the same order as ``AffineScan/diagonalAccumulate(a:b:lanes:range:reverse:p:q:)``,
/// so the summary is bitwise the same; that loop writes two running rows that may alias its
/// inputs as far as the compiler knows and measured twice a solve step on the 2-core VM, where a
/// reduction should cost about half (it streams a and b and writes nothing per step).
///
/// ```swift
/// diagonalReduceVectors(a: a, b: b, lanes: 64, range: 0..<T, reverse: false, summary: pq)  // [P][Q]
/// ```
@inline(__always)
func diagonalReduceVectors<S: ScanScalar>(
    a: UnsafePointer<S>, b: UnsafePointer<S>, lanes: Int, range: Range<Int>, reverse: Bool,
    summary: UnsafeMutablePointer<S>
) {
    let p = summary
    let q = summary + lanes
    p.update(repeating: 1, count: lanes)
    q.update(repeating: 0, count: lanes)
    forEachStep(of: range, reverse: reverse) { t in
        let at = a + t * lanes
        let bt = b + t * lanes
        var j = 0
        while j + 8 <= lanes {
            let av = UnsafeRawPointer(at + j).loadUnaligned(as: SIMD8<S>.self)
            let bv = UnsafeRawPointer(bt + j).loadUnaligned(as: SIMD8<S>.self)
            let pv = UnsafeRawPointer(p + j).loadUnaligned(as: SIMD8<S>.self)
            let qv = UnsafeRawPointer(q + j).loadUnaligned(as: SIMD8<S>.self)
            UnsafeMutableRawPointer(p + j).storeBytes(of: av * pv, as: SIMD8<S>.self)
            UnsafeMutableRawPointer(q + j).storeBytes(of: av * qv + bv, as: SIMD8<S>.self)
            j += 8
        }
        if j + 4 <= lanes {
            let av = loadVector(at + j)
            storeVector(av * loadVector(p + j), p + j)
            storeVector(av * loadVector(q + j) + loadVector(bt + j), q + j)
            j += 4
        }
        while j < lanes {
            p[j] = at[j] * p[j]
            q[j] = at[j] * q[j] + bt[j]
            j += 1
        }
    }
}
