/// The element type of a ``Tensor``.
public enum ScalarType: String, Sendable, CaseIterable {
    /// IEEE 754 binary32 (`Float`).
    case float32
    /// IEEE 754 binary64 (`Double`).
    case float64

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .float32: return 4
        case .float64: return 8
        }
    }
}

/// A dense tensor read from a file: row-major (C order) values, converted to Double or Float on request.
public struct Tensor: Sendable, Equatable {
    /// The element storage of a ``Tensor``, in its native precision.
    public enum Storage: Sendable, Equatable {
        /// Single-precision values.
        case float32([Float])
        /// Double-precision values.
        case float64([Double])
    }

    /// The extent of each dimension, outermost first. An empty shape is a scalar (one element).
    public var shape: [Int]
    /// The values in row-major order; `storage` holds exactly `shape.reduce(1, *)` elements.
    public var storage: Storage

    /// The element type of ``storage``.
    public var scalarType: ScalarType {
        switch storage {
        case .float32: return .float32
        case .float64: return .float64
        }
    }

    /// The number of stored elements.
    public var count: Int {
        switch storage {
        case .float32(let v): return v.count
        case .float64(let v): return v.count
        }
    }

    /// The number of dimensions (`shape.count`).
    public var rank: Int { shape.count }

    /// Whether `shape` is valid (no negative extents, no overflow) and its product equals ``count``.
    public var isConsistent: Bool { Tensor.elementCount(of: shape) == count }

    /// The values as `Float` (float64 values are rounded to nearest).
    public func asFloat() -> [Float] {
        switch storage {
        case .float32(let v): return v
        case .float64(let v): return v.map { Float($0) }
        }
    }

    /// The values as `Double` (float32 values are widened exactly).
    public func asDouble() -> [Double] {
        switch storage {
        case .float32(let v): return v.map { Double($0) }
        case .float64(let v): return v
        }
    }

    /// Creates a tensor. Precondition: the product of `shape` equals the number of stored values.
    ///
    ///     let t = Tensor(shape: [2, 3], storage: .float32([1, 2, 3, 4, 5, 6]))
    public init(shape: [Int], storage: Storage) {
        self.shape = shape
        self.storage = storage
        precondition(isConsistent, "Tensor shape \(shape) does not match \(count) values")
    }

    /// Creates a float32 tensor. Precondition: the product of `shape` equals `values.count`.
    public init(shape: [Int], float32 values: [Float]) { self.init(shape: shape, storage: .float32(values)) }

    /// Creates a float64 tensor. Precondition: the product of `shape` equals `values.count`.
    public init(shape: [Int], float64 values: [Double]) { self.init(shape: shape, storage: .float64(values)) }

    /// The product of `shape`, or `nil` when an extent is negative or the product overflows `Int`.
    public static func elementCount(of shape: [Int]) -> Int? {
        var product = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = product.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            product = p
        }
        return product
    }

    /// The row-major multi-index of flat element `flat` for `shape`.
    static func multiIndex(of flat: Int, shape: [Int]) -> [Int] {
        var index = [Int](repeating: 0, count: shape.count)
        var rest = flat
        for axis in stride(from: shape.count - 1, through: 0, by: -1) where shape[axis] > 0 {
            index[axis] = rest % shape[axis]
            rest /= shape[axis]
        }
        return index
    }
}

/// Formats a shape the way NumPy prints it: `(3, 4)`, `(5,)`, `()`.
func describeShape(_ shape: [Int]) -> String {
    shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
}
