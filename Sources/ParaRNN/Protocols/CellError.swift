/// Why a cell could not be built from the given parameters.
public enum CellError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A parameter array has the wrong number of values.
    case parameterSize(name: String, expected: [Int], actual: Int)
    /// Sizes that must be positive or must divide each other do not.
    case invalidShape(String)
    /// A parameter holds NaN or Inf.
    case nonFiniteParameter(name: String, index: Int)

    public var description: String {
        switch self {
        case .parameterSize(let name, let expected, let actual):
            let shape = expected.map(String.init).joined(separator: "×")
            return "parameter '\(name)' has \(actual) values; shape [\(shape)] needs \(expected.reduce(1, *))"
        case .invalidShape(let text):
            return "invalid cell shape: \(text)"
        case .nonFiniteParameter(let name, let index):
            return "parameter '\(name)' holds a non-finite value at index \(index)"
        }
    }
}

@inlinable
func checkParameter<S: BinaryFloatingPoint>(_ name: String, _ values: [S], _ shape: [Int])
    throws(CellError)
{
    if values.count != shape.reduce(1, *) {
        throw .parameterSize(name: name, expected: shape, actual: values.count)
    }
    if let bad = values.firstIndex(where: { !$0.isFinite }) {
        throw .nonFiniteParameter(name: name, index: bad)
    }
}
