import CFFTW
import Foundation
import ParallelScan

/// Returns the smallest n ≥ `atLeast` of the form 2^a·3^b·5^c·7^d (FFTW's fastest sizes).
///
/// For `atLeast` ≤ 1 the answer is 1.
public func fastFFTLength(atLeast target: Int) -> Int {
    if target <= 1 { return 1 }
    var n = target
    while true {
        var m = n
        for p in [2, 3, 5, 7] { while m % p == 0 { m /= p } }
        if m == 1 { return n }
        n += 1
    }
}

/// How FFTW plans are created.
public enum FFTPlanner: Sendable, Equatable {
    /// `FFTW_ESTIMATE`: heuristics only, plans in microseconds; arrays are not touched.
    case estimate
    /// `FFTW_MEASURE`: times candidate algorithms (slow to plan, sometimes faster to run).
    case measure

    var flags: UInt32 { self == .estimate ? UInt32(FFTW_ESTIMATE) : UInt32(FFTW_MEASURE) }
}

/// The precisions the FFT convolver runs in: `Float` (FFTW `fftwf_*`) and `Double` (`fftw_*`).
///
/// The underscored requirements are the precision-specific FFTW entry points, which only a
/// concrete implementation per precision can name. The element-wise loops of the hot path are
/// generic functions (``multiplySpectra(_:_:bins:conjugate:)`` and its neighbours), compiled
/// specialised through the `@_specialize` attributes of the public entry points.
/// Complex data is interleaved (re, im) in arrays of `Self`.
public protocol FFTScalar: ScanScalar {
    /// Creates an r2c and a c2r plan of length `n` (on temporary `fftw_malloc` arrays).
    static func _makePlans(length n: Int, flags: UInt32) -> (r2c: OpaquePointer, c2r: OpaquePointer)?
    /// `fftw_destroy_plan` / `fftwf_destroy_plan`.
    static func _destroyPlan(_ plan: OpaquePointer)
    /// `fftw_malloc` of `count` elements (SIMD-aligned like the planning arrays).
    static func _allocate(_ count: Int) -> UnsafeMutablePointer<Self>
    /// `fftw_free`.
    static func _free(_ pointer: UnsafeMutablePointer<Self>)
    /// New-array r2c execution: n reals → n/2+1 interleaved complex.
    static func _executeR2C(
        _ plan: OpaquePointer, _ input: UnsafeMutablePointer<Self>, _ output: UnsafeMutablePointer<Self>)
    /// New-array c2r execution: n/2+1 interleaved complex → n reals (destroys the input).
    static func _executeC2R(
        _ plan: OpaquePointer, _ input: UnsafeMutablePointer<Self>, _ output: UnsafeMutablePointer<Self>)
    /// Rounds an array of Double to this precision.
    static func _convert(_ x: [Double]) -> [Self]
}

/// x ← x ⊙ k (or x ⊙ conj(k)) for `bins` interleaved complex numbers.
@inline(__always)
func multiplySpectra<T: FFTScalar>(_ x: UnsafeMutablePointer<T>, _ k: UnsafePointer<T>, bins: Int, conjugate: Bool) {
    let s: T = conjugate ? -1 : 1
    for j in 0..<bins {
        let xr = x[2 * j]
        let xi = x[2 * j + 1]
        let kr = k[2 * j]
        let ki = s * k[2 * j + 1]
        x[2 * j] = xr * kr - xi * ki
        x[2 * j + 1] = xr * ki + xi * kr
    }
}

/// acc ← acc + conj(a) ⊙ b for `bins` interleaved complex numbers.
@inline(__always)
func accumulateConjugateProduct<T: FFTScalar>(
    _ acc: UnsafeMutablePointer<T>, _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, bins: Int
) {
    for j in 0..<bins {
        let ar = a[2 * j]
        let ai = a[2 * j + 1]
        let br = b[2 * j]
        let bi = b[2 * j + 1]
        acc[2 * j] += ar * br + ai * bi
        acc[2 * j + 1] += ar * bi - ai * br
    }
}

/// y ← y + α·x over `n` elements.
@inline(__always)
func axpy<T: FFTScalar>(_ n: Int, _ alpha: T, _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>) {
    for i in 0..<n { y[i] += alpha * x[i] }
}

/// dst[i] ← α·src[i] over `count` elements.
@inline(__always)
func scaledCopy<T: FFTScalar>(_ count: Int, _ alpha: T, _ src: UnsafePointer<T>, _ dst: UnsafeMutablePointer<T>) {
    for i in 0..<count { dst[i] = alpha * src[i] }
}

/// dst[count−1−i] ← src[i] over `count` elements.
@inline(__always)
func copyReversed<T: FFTScalar>(_ count: Int, _ src: UnsafePointer<T>, _ dst: UnsafeMutablePointer<T>) {
    for i in 0..<count { dst[count - 1 - i] = src[i] }
}

/// Σ x_i y_i accumulated in Double.
@inline(__always)
func dotInDouble<T: FFTScalar>(_ count: Int, _ x: UnsafePointer<T>, _ y: UnsafePointer<T>) -> Double {
    var s = 0.0
    for i in 0..<count { s += Double(x[i]) * Double(y[i]) }
    return s
}

extension Double: FFTScalar {
    public static func _makePlans(length n: Int, flags: UInt32) -> (r2c: OpaquePointer, c2r: OpaquePointer)? {
        let real = fftw_alloc_real(n)!
        let complex = fftw_alloc_complex(n / 2 + 1)!
        defer {
            fftw_free(real)
            fftw_free(complex)
        }
        guard let f = fftw_plan_dft_r2c_1d(Int32(n), real, complex, flags) else { return nil }
        guard let b = fftw_plan_dft_c2r_1d(Int32(n), complex, real, flags) else {
            fftw_destroy_plan(f)
            return nil
        }
        return (f, b)
    }
    public static func _destroyPlan(_ plan: OpaquePointer) { fftw_destroy_plan(plan) }
    public static func _allocate(_ count: Int) -> UnsafeMutablePointer<Double> {
        fftw_malloc(max(1, count) * MemoryLayout<Double>.stride)!.bindMemory(to: Double.self, capacity: max(1, count))
    }
    public static func _free(_ pointer: UnsafeMutablePointer<Double>) { fftw_free(pointer) }
    public static func _executeR2C(
        _ plan: OpaquePointer, _ input: UnsafeMutablePointer<Double>, _ output: UnsafeMutablePointer<Double>
    ) {
        fftw_execute_dft_r2c(plan, input, UnsafeMutablePointer<fftw_complex>(OpaquePointer(output)))
    }
    public static func _executeC2R(
        _ plan: OpaquePointer, _ input: UnsafeMutablePointer<Double>, _ output: UnsafeMutablePointer<Double>
    ) {
        fftw_execute_dft_c2r(plan, UnsafeMutablePointer<fftw_complex>(OpaquePointer(input)), output)
    }
    public static func _convert(_ x: [Double]) -> [Double] { x }
}

extension Float: FFTScalar {
    public static func _makePlans(length n: Int, flags: UInt32) -> (r2c: OpaquePointer, c2r: OpaquePointer)? {
        let real = fftwf_alloc_real(n)!
        let complex = fftwf_alloc_complex(n / 2 + 1)!
        defer {
            fftwf_free(real)
            fftwf_free(complex)
        }
        guard let f = fftwf_plan_dft_r2c_1d(Int32(n), real, complex, flags) else { return nil }
        guard let b = fftwf_plan_dft_c2r_1d(Int32(n), complex, real, flags) else {
            fftwf_destroy_plan(f)
            return nil
        }
        return (f, b)
    }
    public static func _destroyPlan(_ plan: OpaquePointer) { fftwf_destroy_plan(plan) }
    public static func _allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        fftwf_malloc(max(1, count) * MemoryLayout<Float>.stride)!.bindMemory(to: Float.self, capacity: max(1, count))
    }
    public static func _free(_ pointer: UnsafeMutablePointer<Float>) { fftwf_free(pointer) }
    public static func _executeR2C(
        _ plan: OpaquePointer, _ input: UnsafeMutablePointer<Float>, _ output: UnsafeMutablePointer<Float>
    ) {
        fftwf_execute_dft_r2c(plan, input, UnsafeMutablePointer<fftwf_complex>(OpaquePointer(output)))
    }
    public static func _executeC2R(
        _ plan: OpaquePointer, _ input: UnsafeMutablePointer<Float>, _ output: UnsafeMutablePointer<Float>
    ) {
        fftwf_execute_dft_c2r(plan, UnsafeMutablePointer<fftwf_complex>(OpaquePointer(input)), output)
    }
    public static func _convert(_ x: [Double]) -> [Float] { x.map { Float($0) } }
}

/// The r2c and c2r FFTW plans of one transform length and precision.
///
/// FFTW plans are raw C pointers, so the class is `@unchecked Sendable`: it is immutable after
/// creation, FFTW guarantees that *executing* a plan (with the new-array functions) is
/// thread-safe, and creation and destruction — which touch FFTW's global planner state — happen
/// only under ``FFTPlanCache/plannerLock``.
public final class FFTPlan<S: FFTScalar>: @unchecked Sendable {
    /// The transform length n.
    public let length: Int
    /// n/2 + 1: the number of complex bins of the real transform.
    public var bins: Int { length / 2 + 1 }
    let r2c: OpaquePointer
    let c2r: OpaquePointer

    init(length: Int, planner: FFTPlanner) throws(LongConvError) {
        let made = FFTPlanCache.plannerLock.withLock { S._makePlans(length: length, flags: planner.flags) }
        guard let made else { throw .planCreationFailed(length: length) }
        self.length = length
        r2c = made.r2c
        c2r = made.c2r
    }

    deinit {
        let (f, b) = (r2c, c2r)
        FFTPlanCache.plannerLock.withLock {
            S._destroyPlan(f)
            S._destroyPlan(b)
        }
    }

    /// Executes the forward transform on `fftw_malloc`-ed arrays (n reals → n/2+1 complex).
    func forward(_ input: UnsafeMutablePointer<S>, _ output: UnsafeMutablePointer<S>) {
        S._executeR2C(r2c, input, output)
    }
    /// Executes the unnormalised inverse transform (destroys `input`).
    func inverse(_ input: UnsafeMutablePointer<S>, _ output: UnsafeMutablePointer<S>) {
        S._executeC2R(c2r, input, output)
    }
}

/// A cache of FFTW plans keyed by length and precision; a plan is created once and reused.
///
/// `@unchecked Sendable`: the dictionary is only read or written under `lock`, and FFTW's
/// planner (not thread-safe) only runs under the process-wide ``plannerLock``.
public final class FFTPlanCache: @unchecked Sendable {
    /// The process-wide cache.
    public static let shared = FFTPlanCache()
    /// Serialises every FFTW plan creation and destruction in the process (both precisions).
    static let plannerLock = NSLock()

    /// How new plans are created (default ``FFTPlanner/estimate``).
    public let planner: FFTPlanner
    private let lock = NSLock()
    private var plans: [Key: AnyObject] = [:]

    private struct Key: Hashable {
        let length: Int
        let precision: String
    }

    /// Creates an empty cache.
    public init(planner: FFTPlanner = .estimate) { self.planner = planner }

    /// The number of cached plans.
    public var count: Int { lock.withLock { plans.count } }

    /// Returns the plan of length `length` in precision `S`, creating it on first use.
    /// - Throws: ``LongConvError/emptyLength`` for length < 1, or a plan-creation failure.
    public func plan<S: FFTScalar>(length: Int, scalar: S.Type = S.self) throws(LongConvError) -> FFTPlan<S> {
        if length < 1 { throw .emptyLength }
        let key = Key(length: length, precision: S.precisionName)
        lock.lock()
        defer { lock.unlock() }
        if let existing = plans[key] as? FFTPlan<S> { return existing }
        let plan = try FFTPlan<S>(length: length, planner: planner)
        plans[key] = plan
        return plan
    }
}

/// fftw_malloc-ed scratch arrays of one worker: one real array of n and three complex arrays.
final class FFTScratch<S: FFTScalar> {
    let real: UnsafeMutablePointer<S>
    let c0: UnsafeMutablePointer<S>
    let c1: UnsafeMutablePointer<S>
    let c2: UnsafeMutablePointer<S>
    let n: Int
    init(n: Int) {
        self.n = n
        let cb = 2 * (n / 2 + 1)
        real = S._allocate(n)
        c0 = S._allocate(cb)
        c1 = S._allocate(cb)
        c2 = S._allocate(cb)
    }
    deinit {
        S._free(real)
        S._free(c0)
        S._free(c1)
        S._free(c2)
    }
    /// Zeroes `count` elements at `p`.
    func zero(_ p: UnsafeMutablePointer<S>, _ count: Int) {
        if count > 0 { memset(p, 0, count * MemoryLayout<S>.stride) }
    }
    /// real ← x[0..<count] zero-padded to n.
    func loadPadded(_ x: UnsafePointer<S>, count: Int) {
        UnsafeMutableRawPointer(real).copyMemory(from: x, byteCount: count * MemoryLayout<S>.stride)
        if n > count {
            memset(real + count, 0, (n - count) * MemoryLayout<S>.stride)
        }
    }
}

/// Runs `count` items on the pool in contiguous groups; each worker gets its own scratch.
/// The result of an item never depends on which worker ran it, so any thread count gives
/// bitwise identical results.
func forEachWithScratch<S: FFTScalar>(
    pool: WorkerPool, count: Int, n: Int, _ body: (Int, FFTScratch<S>) -> Void
) {
    let workers = min(count, pool.threadCount)
    pool.forEach(workers) { w in
        let scratch = FFTScratch<S>(n: n)
        for i in ChunkPlan.evenRange(index: w, of: workers, total: count) { body(i, scratch) }
    }
}
