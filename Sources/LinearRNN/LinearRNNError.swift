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
