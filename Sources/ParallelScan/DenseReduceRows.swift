/// The small dense chunk reduction's matrix product (see ``AffineScan/denseReduce``): row i of
/// A·P is Σ_k a_ik · (row k of P), eight (then four) columns at a time, each summed from zero in k
/// order — the same operations, in the same order, as the scalar column loop of
/// ``AffineScan/denseMultiply(transposed:d:a:p:c:)``, so the summary is bitwise the same.
extension AffineScan {
    /// c = op(A)·P for d×d matrices, d a multiple of 4: row i of c is Σ_k op(A)_ik · (row k of P),
    /// accumulated from zero in k order, eight or four columns per vector.
    @inlinable @inline(__always)
    static func multiplyRows<S: ScanScalar>(
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
}
