import CBLAS
import CVectorMath

/// The floating-point types the scans and solvers run in: `Float` and `Double`.
///
/// Besides arithmetic it gives the few BLAS level-2/3 routines the dense scans need
/// (``gemv(transposed:rows:cols:alpha:a:x:beta:y:)``, ``gemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``),
/// written once over the precision's CBLAS entry points, which the underscored requirements
/// name (only a concrete type can: `cblas_sgemv`, `cblas_dgemm`, …).
///
///     Float.gemv(transposed: false, rows: 2, cols: 3, alpha: 1, a: a, x: x, beta: 0, y: y)  // y ← A x
public protocol ScanScalar: BinaryFloatingPoint, SIMDScalar, Codable, Sendable, CustomStringConvertible {
    /// `cblas_sgemv` / `cblas_dgemv`.
    static var _cblasGemv: CBLASGemv<Self> { get }
    /// `cblas_sgemm` / `cblas_dgemm`.
    static var _cblasGemm: CBLASGemm<Self> { get }
    /// A name for reports: "float" or "double".
    static var precisionName: String { get }
}

/// The signature of CBLAS's `?gemv` for scalars `S`.
public typealias CBLASGemv<S> = (
    CBLAS_ORDER, CBLAS_TRANSPOSE, Int32, Int32, S, UnsafePointer<S>?, Int32, UnsafePointer<S>?, Int32, S,
    UnsafeMutablePointer<S>?, Int32
) -> Void

/// The signature of CBLAS's `?gemm` for scalars `S`.
public typealias CBLASGemm<S> = (
    CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, Int32, Int32, Int32, S, UnsafePointer<S>?, Int32,
    UnsafePointer<S>?, Int32, S, UnsafeMutablePointer<S>?, Int32
) -> Void

extension ScanScalar {
    /// y ← α·op(A)·x + β·y for a row-major `rows`×`cols` matrix A.
    @inlinable
    public static func gemv(
        transposed: Bool, rows: Int, cols: Int, alpha: Self, a: UnsafePointer<Self>,
        x: UnsafePointer<Self>, beta: Self, y: UnsafeMutablePointer<Self>
    ) {
        _cblasGemv(
            CblasRowMajor, transposed ? CblasTrans : CblasNoTrans, Int32(rows), Int32(cols), alpha,
            a, Int32(cols), x, 1, beta, y, 1)
    }

    /// C ← α·op(A)·B + β·C for row-major matrices; op(A) is m×k, B is k×n, C is m×n.
    @inlinable
    public static func gemm(
        transposeA: Bool, m: Int, n: Int, k: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int,
        b: UnsafePointer<Self>, ldb: Int, beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int
    ) {
        gemm(
            transposeA: transposeA, transposeB: false, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
            ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    /// C ← α·op(A)·op(B) + β·C for row-major matrices; op(A) is m×k, op(B) is k×n.
    @inlinable
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Self,
        a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int, beta: Self,
        c: UnsafeMutablePointer<Self>, ldc: Int
    ) {
        _cblasGemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

extension Float: ScanScalar {
    @inlinable public static var _cblasGemv: CBLASGemv<Float> { cblas_sgemv }
    @inlinable public static var _cblasGemm: CBLASGemm<Float> { cblas_sgemm }
    public static var precisionName: String { "float" }
}

extension Double: ScanScalar {
    @inlinable public static var _cblasGemv: CBLASGemv<Double> { cblas_dgemv }
    @inlinable public static var _cblasGemm: CBLASGemm<Double> { cblas_dgemm }
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
        if let fused = wholeVectorFMA(a, b, c, eightLanes: false) { return fused }
        return c.addingProduct(a, b)
    #else
        return a * b + c
    #endif
}

/// a·b + c through CVectorMath's whole-vector fused multiply-add (one instruction) when the
/// build has `-DPARARNN_FMA` and `T` is 4 lanes of Float or Double, or 8 lanes with
/// `eightLanes`; nil otherwise. The type tests fold away once the caller is specialised.
///
///     if let fused = wholeVectorFMA(a, b, c, eightLanes: true) { return fused }
@inlinable @inline(__always)
package func wholeVectorFMA<T: SIMD>(_ a: T, _ b: T, _ c: T, eightLanes: Bool) -> T? {
    #if PARARNN_FMA
        if T.self == SIMD4<Float>.self {
            return reinterpret(pararnn_fma_float4(reinterpret(a), reinterpret(b), reinterpret(c))) as T
        }
        if T.self == SIMD4<Double>.self {
            return reinterpret(pararnn_fma_double4(reinterpret(a), reinterpret(b), reinterpret(c))) as T
        }
        if eightLanes && T.self == SIMD8<Float>.self {
            return reinterpret(pararnn_fma_float8(reinterpret(a), reinterpret(b), reinterpret(c))) as T
        }
        if eightLanes && T.self == SIMD8<Double>.self {
            return reinterpret(pararnn_fma_double8(reinterpret(a), reinterpret(b), reinterpret(c))) as T
        }
    #endif
    return nil
}

/// `x` reinterpreted as a type of the same layout (a vector or scalar type the caller's type
/// test matched), inferred from the context.
@inlinable @inline(__always)
package func reinterpret<T, U>(_ x: T) -> U { unsafeBitCast(x, to: U.self) }

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
