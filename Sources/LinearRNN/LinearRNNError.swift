import ParallelScan

/// Why a LinearRNN layer refused its input or parameters.
public enum LinearRNNError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The sequence has no time steps (T = 0).
    case emptySequence
    /// A size that must be positive (batch, channels, state size, …) is zero or negative.
    case emptyDimension(name: String, value: Int)
    /// An array does not hold the number of elements its shape needs.
    case shapeMismatch(name: String, expected: Int, actual: Int)
    /// A parameter or input value is outside its valid range.
    case invalidValue(String)

    public var description: String {
        switch self {
        case .emptySequence:
            return "empty input: the sequence has no time steps (T = 0)"
        case .emptyDimension(let name, let value):
            return "dimension '\(name)' is \(value); it must be at least 1"
        case .shapeMismatch(let name, let expected, let actual):
            return "'\(name)' holds \(actual) elements, the shape needs \(expected)"
        case .invalidValue(let message):
            return "invalid value: \(message)"
        }
    }
}

/// The result of a forward pass.
///
/// `output` is `[T][batch][outputs]` (time-major). `states` holds the hidden states the backward
/// pass needs, in the layer's documented layout; it is empty when the forward pass ran with
/// `keepStates: false` (inference), and such a trace cannot be passed to `backward`.
public struct LinearRNNTrace<S: ScanScalar>: Sendable {
    /// Sequence length T.
    public let steps: Int
    /// Batch size.
    public let batch: Int
    /// `[T][batch][outputs]`.
    public let output: [S]
    /// Hidden states (layer-specific layout), or empty.
    public let states: [S]

    public init(steps: Int, batch: Int, output: [S], states: [S]) {
        self.steps = steps
        self.batch = batch
        self.output = output
        self.states = states
    }
}

@inline(__always)
func check(_ name: String, _ actual: Int, _ expected: Int) throws(LinearRNNError) {
    if actual != expected { throw .shapeMismatch(name: name, expected: expected, actual: actual) }
}

@inline(__always)
func checkPositive(_ name: String, _ value: Int) throws(LinearRNNError) {
    if value < 1 { throw .emptyDimension(name: name, value: value) }
}

@inline(__always)
func checkSequence(steps: Int, batch: Int) throws(LinearRNNError) {
    if steps <= 0 { throw .emptySequence }
    try checkPositive("batch", batch)
}

/// A heap copy of a small array (parameters), freed by `free()`; lets hot loops index a raw
/// pointer without nesting `withUnsafeBufferPointer` closures.
struct Copied<S>: @unchecked Sendable {
    let p: UnsafeMutablePointer<S>
    init(_ array: [S]) {
        p = .allocate(capacity: max(1, array.count))
        array.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { p.initialize(from: base, count: src.count) }
        }
    }
    init(zeros count: Int) where S: ScanScalar {
        p = .allocate(capacity: max(1, count))
        p.initialize(repeating: 0, count: max(1, count))
    }
    func free() { p.deallocate() }
}

/// A raw pointer that workers write at disjoint offsets.
struct Shared<S>: @unchecked Sendable {
    let p: UnsafeMutablePointer<S>
    init(_ p: UnsafeMutablePointer<S>) { self.p = p }
}

/// Builds an array of `count` elements by letting `body` write its (zeroed) storage.
@inline(__always)
func makeArray<S: ScanScalar>(_ count: Int, _ body: (UnsafeMutablePointer<S>) -> Void) -> [S] {
    [S](unsafeUninitializedCapacity: count) { buffer, initialized in
        buffer.baseAddress!.initialize(repeating: 0, count: count)
        body(buffer.baseAddress!)
        initialized = count
    }
}

/// Numerically stable scalar functions shared by the layers.
enum Fn {
    /// softplus(x) = log(1 + eˣ), computed as max(x, 0) + log1p(e^{−|x|}) in S's precision.
    @inline(__always) static func softplus<S: ScanScalar>(_ x: S) -> S {
        if S.self == Float.self {
            let f = Float(x)
            return S(max(f, 0) + Foundation_log1pf(Foundation_expf(-abs(f))))
        }
        let d = Double(x)
        return S(max(d, 0) + Foundation_log1p(Foundation_exp(-abs(d))))
    }
    /// σ(x) = 1 / (1 + e^{−x}), evaluated without overflow for either sign.
    @inline(__always) static func sigmoid<S: ScanScalar>(_ x: S) -> S {
        if x >= 0 { return 1 / (1 + exp(-x)) }
        let e = exp(x)
        return e / (1 + e)
    }
    @inline(__always) static func exp<S: ScanScalar>(_ x: S) -> S {
        if S.self == Float.self { return S(Foundation_expf(Float(x))) }
        return S(Foundation_exp(Double(x)))
    }
}

#if canImport(Glibc)
    import Glibc
    @inline(__always) func Foundation_expf(_ x: Float) -> Float { Glibc.expf(x) }
    @inline(__always) func Foundation_exp(_ x: Double) -> Double { Glibc.exp(x) }
    @inline(__always) func Foundation_log1pf(_ x: Float) -> Float { Glibc.log1pf(x) }
    @inline(__always) func Foundation_log1p(_ x: Double) -> Double { Glibc.log1p(x) }
#elseif canImport(Darwin)
    import Darwin
    @inline(__always) func Foundation_expf(_ x: Float) -> Float { Darwin.expf(x) }
    @inline(__always) func Foundation_exp(_ x: Double) -> Double { Darwin.exp(x) }
    @inline(__always) func Foundation_log1pf(_ x: Float) -> Float { Darwin.log1pf(x) }
    @inline(__always) func Foundation_log1p(_ x: Double) -> Double { Darwin.log1p(x) }
#endif
