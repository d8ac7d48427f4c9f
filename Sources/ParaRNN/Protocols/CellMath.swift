import CVectorMath
import ParallelScan

/// Elementwise functions the cells are made of, written branch-free so that loops over lanes
/// vectorise (no libm calls in hot loops), in Float and Double.
///
/// `exp` uses Cody–Waite range reduction x = n·ln2 + r, |r| ≤ ln2/2, a Taylor polynomial of
/// degree 6 (Float) or 13 (Double) for e^r, and builds 2^n from the rounding constant's bits.
/// Relative error ≤ 2 ulp on the clamped range; inputs are clamped to [−87, 88] (Float) and
/// [−708, 709] (Double), so results never overflow to Inf. NaN inputs give NaN (the clamp
/// passes NaN through, so no extra test is needed).
/// `sigmoid(x) = 1/(1 + e^{−x})`; `tanh(x) = 2·sigmoid(2x) − 1`, accurate to a few ε in absolute
/// terms (not relative near 0), which is what the recurrences need.
///
/// Specialisation: the hot kernels of the cells and the Newton engine carry
/// `@_specialize(where Scalar == Float)` / `(… == Double)`, so a generic caller (the solver, the
/// trainer, another module) entering them once per chunk runs code specialised for the
/// precision (one type check at the entry), not unspecialised loops.
public protocol CellMath: ScanScalar, CellNumber where Base == Self {
    /// e^x (see ``CellMath``).
    static func cellExp(_ x: Self) -> Self
    /// e^x lane-wise, the same formula as the scalar ``cellExp(_:)`` in one SIMD register (the
    /// rollouts' step is a short vector, not a loop the compiler can vectorise).
    static func cellExp<V: SIMD>(_ x: V) -> V where V.Scalar == Self
}

/// The arguments of ``DifferentiableCell/vectorJacobianProducts(steps:batch:previous:states:projections:adjoints:projectionGradients:parameterGradients:)``.
public struct VJPArguments<Scalar> {
    public var steps: Range<Int>
    public var batch: Int
    public var previous: UnsafePointer<Scalar>
    public var states: UnsafePointer<Scalar>
    public var projections: UnsafePointer<Scalar>
    public var adjoints: UnsafePointer<Scalar>
    public var projectionGradients: UnsafeMutablePointer<Scalar>
    public var parameterGradients: UnsafeMutablePointer<Scalar>

    public init(
        steps: Range<Int>, batch: Int, previous: UnsafePointer<Scalar>, states: UnsafePointer<Scalar>,
        projections: UnsafePointer<Scalar>, adjoints: UnsafePointer<Scalar>,
        projectionGradients: UnsafeMutablePointer<Scalar>, parameterGradients: UnsafeMutablePointer<Scalar>
    ) {
        (self.steps, self.batch, self.previous, self.states) = (steps, batch, previous, states)
        (self.projections, self.adjoints) = (projections, adjoints)
        (self.projectionGradients, self.parameterGradients) = (projectionGradients, parameterGradients)
    }
}

extension VJPArguments {
    /// Step t's rows for a cell whose state rows hold `stateRow` values and projection rows
    /// `projectionRow`: s_{t−1} (``previous`` at the range's first step), u_t, ∂L/∂u_t and λ_t.
    ///
    ///     let (prev, u, du, lambda) = arguments.rows(at: t, stateRow: 2 * lanes, projectionRow: 3 * lanes)
    @inline(__always)
    public func rows(at t: Int, stateRow: Int, projectionRow: Int) -> (
        previous: UnsafePointer<Scalar>, projections: UnsafePointer<Scalar>,
        projectionGradients: UnsafeMutablePointer<Scalar>, adjoints: UnsafePointer<Scalar>
    ) {
        (
            t == steps.lowerBound ? previous : states + (t - 1) * stateRow, projections + t * projectionRow,
            projectionGradients + t * projectionRow, adjoints + t * stateRow
        )
    }
}

/// The arguments of ``RecurrentCell/linearize(steps:batch:previous:states:projections:values:jacobians:request:)``.
public struct LinearizeArguments<Scalar> {
    public var steps: Range<Int>
    public var batch: Int
    public var previous: UnsafePointer<Scalar>
    public var states: UnsafePointer<Scalar>
    public var projections: UnsafePointer<Scalar>
    public var values: UnsafeMutablePointer<Scalar>
    public var jacobians: UnsafeMutablePointer<Scalar>?
    public var request: JacobianRequest
    /// A sequential rollout: `values` is `states`, so step t must see step t − 1's result.
    public var inPlace: Bool = false
    /// For an in-place rollout of a cell whose ``RecurrentCell/rollsOutEntriesIndependently``
    /// is true: roll out only these batch entries (all pointers still address full-batch
    /// buffers); `nil` means the whole batch.
    public var batchEntries: Range<Int>? = nil
    /// If set (only for cells whose ``RecurrentCell/fusesNewtonOffsets`` is true, with
    /// Jacobians): write b_t = f − J_t s_{t−1} instead of f into `values`, and store the largest
    /// relative residual |s_t − f| / max(1, |f|) of the range here (NaN if any is NaN).
    public var fusedResidual: UnsafeMutablePointer<Double>? = nil
    /// Every s_{t−1} is zero: write f(0, u_t) into `values` (no Jacobians); `previous` and
    /// `states` are not read. Only for cells whose ``RecurrentCell/evaluatesFromZeroState`` is
    /// true.
    public var previousStatesAreZero: Bool = false
    /// For an in-place rollout of a cell with a ``RecurrentCell/recurrentTapeStride``: where
    /// the rollout also writes each step's recurrent pre-activations g_t = W_hh h_{t−1} + b_hh,
    /// `[T][B][stride]` in the frame of `states`, as its gate math leaves them (the dense cells'
    /// two-pass gates write their σ / tanh values over the gates' entries); the fused BPTT reads
    /// them back instead of recomputing them. `nil`: not recorded.
    public var recurrentTape: UnsafeMutablePointer<Scalar>? = nil
}

extension CellMath {
    /// The logistic function 1/(1 + e^{−x}).
    @inlinable @inline(__always)
    public static func sigmoid(_ x: Self) -> Self { 1 / (1 + cellExp(-x)) }

    /// The hyperbolic tangent, 2σ(2x) − 1.
    @inlinable @inline(__always)
    public static func tanh(_ x: Self) -> Self { 2 / (1 + cellExp(-2 * x)) - 1 }

    /// The logistic function, lane-wise (4 or 8 lanes: the same formula as the scalar one).
    @inlinable @inline(__always)
    public static func sigmoid<V: SIMD>(_ x: V) -> V where V.Scalar == Self { 1 / (1 + cellExp(-x)) }

    /// The hyperbolic tangent, lane-wise.
    @inlinable @inline(__always)
    public static func tanh<V: SIMD>(_ x: V) -> V where V.Scalar == Self { 2 / (1 + cellExp(-2 * x)) - 1 }
}

extension Float: CellMath {
    @inlinable @inline(__always)
    public static func cellExp(_ x: Float) -> Float {
        let xc = Swift.min(Swift.max(x, -87), 88)
        let magic: Float = 12_582_912  // 1.5·2^23: adding it rounds to an integer
        let k = multiplyAdd(xc, 1.442_695_04, magic)
        let n = k - magic
        let r = multiplyAdd(n, -1.428_606_765_330_187e-06, multiplyAdd(n, -0.693_145_751_953_125, xc))
        var p: Float = 1.0 / 720
        p = multiplyAdd(p, r, 1.0 / 120)
        p = multiplyAdd(p, r, 1.0 / 24)
        p = multiplyAdd(p, r, 1.0 / 6)
        p = multiplyAdd(p, r, 0.5)
        p = multiplyAdd(p, r, 1)
        p = multiplyAdd(p, r, 1)
        // The low mantissa bits of k hold n (two's complement): 2^n from them.
        let scale = Float(bitPattern: (k.bitPattern &- 0x4B40_0000 &+ 127) &<< 23)
        // NaN needs no test: the clamp keeps it (Swift's min/max return their first argument
        // when a comparison fails), and NaN times any scale is NaN.
        return p * scale
    }
}

/// x clamped to [lo, hi] lane-wise, NaN kept (a comparison with NaN is false), by bitwise
/// blends of the comparison masks: `replacing(with:where:)` can lower to one branch per lane.
@inlinable @inline(__always)
func clamp<V: SIMD>(_ x: V, _ lo: V.Scalar, _ hi: V.Scalar) -> V where V.Scalar: ScanScalar {
    // One vector compare and blend per bound through CVectorMath for the widths the kernels use
    // (the type tests fold away once specialised); the generic form below for the others.
    if V.self == SIMD8<Float>.self {
        return reinterpret(pararnn_clamp_float8(reinterpret(x), reinterpret(lo), reinterpret(hi)))
    }
    if V.self == SIMD4<Float>.self {
        return reinterpret(pararnn_clamp_float4(reinterpret(x), reinterpret(lo), reinterpret(hi)))
    }
    if V.self == SIMD8<Double>.self {
        return reinterpret(pararnn_clamp_double8(reinterpret(x), reinterpret(lo), reinterpret(hi)))
    }
    if V.self == SIMD4<Double>.self {
        return reinterpret(pararnn_clamp_double4(reinterpret(x), reinterpret(lo), reinterpret(hi)))
    }
    let low = V(repeating: lo)
    let high = V(repeating: hi)
    return blend(blend(x, low, x .< low), high, x .> high)
}

/// `value` where `mask` is set, `x` elsewhere, as integer bit operations.
@inlinable @inline(__always)
func blend<V: SIMD>(_ x: V, _ value: V, _ mask: SIMDMask<V.MaskStorage>) -> V where V.Scalar: ScanScalar {
    let m = unsafeBitCast(mask, to: V.MaskStorage.self)
    let a = unsafeBitCast(x, to: V.MaskStorage.self)
    let b = unsafeBitCast(value, to: V.MaskStorage.self)
    return unsafeBitCast((a & ~m) | (b & m), to: V.self)
}

/// a·b + c lane-wise for the gate math: one whole-vector fused multiply-add through
/// CVectorMath for 4 and 8 lanes of Float and Double under `-DPARARNN_FMA`
/// (`wholeVectorFMA`; the type tests fold away once specialised), ``multiplyAdd(_:_:_:)``
/// otherwise.
@inlinable @inline(__always)
func gateMultiplyAdd<V: SIMD>(_ a: V, _ b: V, _ c: V) -> V where V.Scalar: FloatingPoint {
    if let fused = wholeVectorFMA(a, b, c, eightLanes: true) { return fused }
    return multiplyAdd(a, b, c)
}

extension Float {
    @inlinable @inline(__always)
    public static func cellExp<V: SIMD>(_ x: V) -> V where V.Scalar == Float {
        let xc = clamp(x, -87, 88)
        let magic = V(repeating: 12_582_912)
        let k = gateMultiplyAdd(xc, V(repeating: 1.442_695_04), magic)
        let n = k - magic
        let r = gateMultiplyAdd(
            n, V(repeating: -1.428_606_765_330_187e-06),
            gateMultiplyAdd(n, V(repeating: -0.693_145_751_953_125), xc))
        var p = V(repeating: 1.0 / 720)
        p = gateMultiplyAdd(p, r, V(repeating: 1.0 / 120))
        p = gateMultiplyAdd(p, r, V(repeating: 1.0 / 24))
        p = gateMultiplyAdd(p, r, V(repeating: 1.0 / 6))
        p = gateMultiplyAdd(p, r, V(repeating: 0.5))
        p = gateMultiplyAdd(p, r, V(repeating: 1))
        p = gateMultiplyAdd(p, r, V(repeating: 1))
        // The low mantissa bits of k hold n (two's complement): 2^n from them.
        let bits = unsafeBitCast(k, to: V.MaskStorage.self)
        let offset = V.MaskStorage(repeating: V.MaskStorage.Scalar(truncatingIfNeeded: 0x4B40_0000 - 127))
        let scale = unsafeBitCast((bits &- offset) &<< 23, to: V.self)
        return p * scale
    }
}

extension Double {
    @inlinable @inline(__always)
    public static func cellExp<V: SIMD>(_ x: V) -> V where V.Scalar == Double {
        let xc = clamp(x, -708, 709)
        let magic = V(repeating: 6_755_399_441_055_744)
        let k = gateMultiplyAdd(xc, V(repeating: 1.442_695_040_888_963_4), magic)
        let n = k - magic
        let r = gateMultiplyAdd(
            n, V(repeating: -1.908_214_929_270_587_7e-10),
            gateMultiplyAdd(n, V(repeating: -0.693_147_180_369_123_816_49), xc))
        var p = V(repeating: 1.0 / 6_227_020_800)
        p = gateMultiplyAdd(p, r, V(repeating: 1.0 / 479_001_600))
        p = gateMultiplyAdd(p, r, V(repeating: 1.0 / 39_916_800))
        p = gateMultiplyAdd(p, r, V(repeating: 1.0 / 3_628_800))
        p = gateMultiplyAdd(p, r, V(repeating: 1.0 / 362_880))
        p = gateMultiplyAdd(p, r, V(repeating: 1.0 / 40_320))
        p = gateMultiplyAdd(p, r, V(repeating: 1.0 / 5040))
        p = gateMultiplyAdd(p, r, V(repeating: 1.0 / 720))
        p = gateMultiplyAdd(p, r, V(repeating: 1.0 / 120))
        p = gateMultiplyAdd(p, r, V(repeating: 1.0 / 24))
        p = gateMultiplyAdd(p, r, V(repeating: 1.0 / 6))
        p = gateMultiplyAdd(p, r, V(repeating: 0.5))
        p = gateMultiplyAdd(p, r, V(repeating: 1))
        p = gateMultiplyAdd(p, r, V(repeating: 1))
        let bits = unsafeBitCast(k, to: V.MaskStorage.self)
        let offset = V.MaskStorage(
            repeating: V.MaskStorage.Scalar(truncatingIfNeeded: Int64(0x4338_0000_0000_0000 - 1023)))
        let scale = unsafeBitCast((bits &- offset) &<< 52, to: V.self)
        return p * scale
    }
}

extension Double: CellMath {
    @inlinable @inline(__always)
    public static func cellExp(_ x: Double) -> Double {
        let xc = Swift.min(Swift.max(x, -708), 709)
        let magic: Double = 6_755_399_441_055_744  // 1.5·2^52
        let k = multiplyAdd(xc, 1.442_695_040_888_963_4, magic)
        let n = k - magic
        let r = multiplyAdd(
            n, -1.908_214_929_270_587_7e-10, multiplyAdd(n, -0.693_147_180_369_123_816_49, xc))
        var p: Double = 1.0 / 6_227_020_800
        p = multiplyAdd(p, r, 1.0 / 479_001_600)
        p = multiplyAdd(p, r, 1.0 / 39_916_800)
        p = multiplyAdd(p, r, 1.0 / 3_628_800)
        p = multiplyAdd(p, r, 1.0 / 362_880)
        p = multiplyAdd(p, r, 1.0 / 40_320)
        p = multiplyAdd(p, r, 1.0 / 5040)
        p = multiplyAdd(p, r, 1.0 / 720)
        p = multiplyAdd(p, r, 1.0 / 120)
        p = multiplyAdd(p, r, 1.0 / 24)
        p = multiplyAdd(p, r, 1.0 / 6)
        p = multiplyAdd(p, r, 0.5)
        p = multiplyAdd(p, r, 1)
        p = multiplyAdd(p, r, 1)
        let scale = Double(
            bitPattern: (k.bitPattern &- 0x4338_0000_0000_0000 &+ 1023) &<< 52)
        // NaN needs no test: the clamp keeps it (Swift's min/max return their first argument
        // when a comparison fails), and NaN times any scale is NaN.
        return p * scale
    }
}

/// Index of the first NaN or Inf in `values`, if any: blocks of a branch-free SIMD pass
/// (x·0 is 0 for finite x and NaN otherwise, and NaN survives the sums), then a scalar search
/// only in the block that holds one. About the cost of reading the values once.
@_specialize(where S == Float)
@_specialize(where S == Double)
package func firstNonFinite<S: BinaryFloatingPoint & SIMDScalar>(_ values: UnsafeBufferPointer<S>) -> Int? {
    guard let base = values.baseAddress else { return nil }
    let count = values.count
    let block = 4096
    var start = 0
    while start < count {
        let end = min(count, start + block)
        var i = start
        var sum = SIMD8<S>(repeating: 0)
        let raw = UnsafeRawPointer(base)
        while i + 8 <= end {
            sum += raw.loadUnaligned(fromByteOffset: i * MemoryLayout<S>.stride, as: SIMD8<S>.self) * 0
            i += 8
        }
        var tail: S = 0
        while i < end {
            tail += base[i] * 0
            i += 1
        }
        if !(sum.sum() + tail).isFinite {
            for j in start..<end where !base[j].isFinite { return j }
        }
        start = end
    }
    return nil
}

/// ``firstNonFinite(_:)`` split over the pool in contiguous chunks (each at least 64 Ki values,
/// tens of microseconds of scanning against a few of fork and join): the smallest index any
/// chunk finds, so the same answer as the one-thread scan.
package func firstNonFinite<S: BinaryFloatingPoint & SIMDScalar>(
    _ values: UnsafeBufferPointer<S>, pool: WorkerPool
) -> Int? {
    let parts = max(1, min(pool.threadCount, values.count / 65_536))
    if parts == 1 { return firstNonFinite(values) }
    let found = UnsafeMutablePointer<Int>.allocate(capacity: parts)
    defer { found.deallocate() }
    let (base, marks) = (UnsafeSendable(values.baseAddress!), UnsafeMutableSendable(found))
    pool.forEach(parts) { part in
        let range = ChunkPlan.evenRange(index: part, of: parts, total: values.count)
        let chunk = UnsafeBufferPointer(start: base.base + range.lowerBound, count: range.count)
        marks.base[part] = firstNonFinite(chunk).map { $0 + range.lowerBound } ?? Int.max
    }
    let first = (0..<parts).map { found[$0] }.min() ?? Int.max
    return first == Int.max ? nil : first
}
