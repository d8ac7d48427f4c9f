import Foundation

/// Why a long-convolution routine refused its input.
public enum LongConvError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The sequence length L is 0 (or negative).
    case emptyLength
    /// There are no channels or no batch entries.
    case noChannels
    /// A buffer does not hold the number of elements its shape needs.
    case shapeMismatch(name: String, expected: Int, actual: Int)
    /// The SSM state size N must be even (N/2 complex conjugate modes).
    case oddStateSize(Int)
    /// A parameter is outside its valid range.
    case invalidParameter(String)
    /// FFTW returned no plan for this transform length.
    case planCreationFailed(length: Int)
    /// A LAPACK routine reported an error.
    case lapackFailure(routine: String, info: Int)

    public var description: String {
        switch self {
        case .emptyLength: return "empty input: the sequence length L is 0"
        case .noChannels: return "empty input: there are no channels or no batch entries"
        case .shapeMismatch(let name, let expected, let actual):
            return "buffer '\(name)' holds \(actual) elements, the shape needs \(expected)"
        case .oddStateSize(let n): return "state size N = \(n) is odd; it must be even (N/2 complex modes)"
        case .invalidParameter(let text): return "invalid parameter: \(text)"
        case .planCreationFailed(let n): return "FFTW could not create a plan of length \(n)"
        case .lapackFailure(let routine, let info): return "\(routine) failed with info = \(info)"
        }
    }
}

@inline(__always)
func checkShape(_ name: String, _ actual: Int, _ expected: Int) throws(LongConvError) {
    if actual != expected { throw .shapeMismatch(name: name, expected: expected, actual: actual) }
}

@inline(__always) func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Foundation.cos(x) }
