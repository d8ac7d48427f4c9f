import CBLAS
import CVectorMath

/// The floating-point types the scans and solvers run in: `Float` and `Double`.
///
/// Besides arithmetic it gives the few BLAS level-2/3 routines the dense scans need, so generic
/// code reaches the precision-specific OpenBLAS entry points.
public protocol ScanScalar: BinaryFloatingPoint, SIMDScalar, Codable, Sendable, CustomStringConvertible {
    /// y ← α·op(A)·x + β·y for a row-major `rows`×`cols` matrix A.
    static func gemv(
        transposed: Bool, rows: Int, cols: Int, alpha: Self, a: UnsafePointer<Self>,
        x: UnsafePointer<Self>, beta: Self, y: UnsafeMutablePointer<Self>)

    /// C ← α·op(A)·B + β·C for row-major matrices; op(A) is m×k, B is k×n, C is m×n.
    static func gemm(
        transposeA: Bool, m: Int, n: Int, k: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int,
        b: UnsafePointer<Self>, ldb: Int, beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)

    /// C ← α·op(A)·op(B) + β·C for row-major matrices; op(A) is m×k, op(B) is k×n.
    static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Self,
        a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int, beta: Self,
        c: UnsafeMutablePointer<Self>, ldc: Int)

    /// A name for reports: "float" or "double".
    static var precisionName: String { get }
}

extension Float: ScanScalar {
    @inlinable
    public static func gemv(
        transposed: Bool, rows: Int, cols: Int, alpha: Float, a: UnsafePointer<Float>,
        x: UnsafePointer<Float>, beta: Float, y: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemv(
            CblasRowMajor, transposed ? CblasTrans : CblasNoTrans, Int32(rows), Int32(cols), alpha,
            a, Int32(cols), x, 1, beta, y, 1)
    }

    @inlinable
    public static func gemm(
        transposeA: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>,
        lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>,
        ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, CblasNoTrans, Int32(m),
            Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    @inlinable
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k), alpha, a,
            Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    public static var precisionName: String { "float" }
}

extension Double: ScanScalar {
    @inlinable
    public static func gemv(
        transposed: Bool, rows: Int, cols: Int, alpha: Double, a: UnsafePointer<Double>,
        x: UnsafePointer<Double>, beta: Double, y: UnsafeMutablePointer<Double>
    ) {
        cblas_dgemv(
            CblasRowMajor, transposed ? CblasTrans : CblasNoTrans, Int32(rows), Int32(cols), alpha,
            a, Int32(cols), x, 1, beta, y, 1)
    }

    @inlinable
    public static func gemm(
        transposeA: Bool, m: Int, n: Int, k: Int, alpha: Double, a: UnsafePointer<Double>,
        lda: Int, b: UnsafePointer<Double>, ldb: Int, beta: Double,
        c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, CblasNoTrans, Int32(m),
            Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    @inlinable
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Double,
        a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int, beta: Double,
        c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k), alpha, a,
            Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    public static var precisionName: String { "double" }
}

/// a·b + c, fused into one rounding when the build targets a CPU with FMA (`-DPARARNN_FMA`, set
/// by the Makefile's release flags together with `-target-cpu`); two roundings otherwise, so a
/// generic build never calls a software fma.
@inlinable @inline(__always)
public func multiplyAdd<T: FloatingPoint>(_ a: T, _ b: T, _ c: T) -> T {
    #if PARARNN_FMA
        return c.addingProduct(a, b)
    #else
        return a * b + c
    #endif
}

/// Lane-wise a·b + c (see the scalar `multiplyAdd`).
///
/// With `-DPARARNN_FMA`, 4-lane Float and Double vectors (the gate math) go through
/// CVectorMath's whole-vector fused multiply-add (one instruction; the type tests fold away when
/// the caller is specialised): Swift's generic `addingProduct` is a loop of scalar fmas that the
/// vectoriser splits 3 + 1 there. 8-lane vectors keep `addingProduct`, which vectorises whole
/// and schedules the register-tiled products better (measured: B = 16, d = 256 rollouts 0.8–0.9×
/// through the C function).
@inlinable @inline(__always)
public func multiplyAdd<T: SIMD>(_ a: T, _ b: T, _ c: T) -> T where T.Scalar: FloatingPoint {
    #if PARARNN_FMA
        if T.self == SIMD4<Float>.self {
            return unsafeBitCast(
                pararnn_fma_float4(
                    unsafeBitCast(a, to: SIMD4<Float>.self), unsafeBitCast(b, to: SIMD4<Float>.self),
                    unsafeBitCast(c, to: SIMD4<Float>.self)), to: T.self)
        }
        if T.self == SIMD4<Double>.self {
            return unsafeBitCast(
                pararnn_fma_double4(
                    unsafeBitCast(a, to: SIMD4<Double>.self), unsafeBitCast(b, to: SIMD4<Double>.self),
                    unsafeBitCast(c, to: SIMD4<Double>.self)), to: T.self)
        }
        return c.addingProduct(a, b)
    #else
        return a * b + c
    #endif
}

/// Four scalars from `pointer` as one vector (unaligned).
@inlinable @inline(__always)
package func loadVector<S: ScanScalar>(_ pointer: UnsafePointer<S>) -> SIMD4<S> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD4<S>.self)
}

/// Stores four scalars at `pointer` (unaligned).
@inlinable @inline(__always)
package func storeVector<S: ScanScalar>(_ value: SIMD4<S>, _ pointer: UnsafeMutablePointer<S>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD4<S>.self)
}
