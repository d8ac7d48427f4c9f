/// Why a scan refused its input.
public enum ScanError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The sequence has no time steps (T = 0).
    case emptySequence
    /// There are no lanes (channels × batch = 0) or no elements per step.
    case noLanes
    /// A buffer does not hold the number of elements the shape needs.
    case bufferSize(name: String, expected: Int, actual: Int)
    /// A block size below 1, or a state size not divisible by it.
    case invalidBlockSize(blockSize: Int, stateSize: Int)
    /// Sequence boundaries that do not describe the packed steps (see ``SequenceBoundaries``).
    case invalidBoundaries(String)

    public var description: String {
        switch self {
        case .emptySequence:
            return "empty input: the sequence has no time steps (T = 0)"
        case .noLanes:
            return "empty input: there are no channels (batch × channels = 0)"
        case .bufferSize(let name, let expected, let actual):
            return "buffer '\(name)' holds \(actual) elements, the shape needs \(expected)"
        case .invalidBlockSize(let k, let n):
            return "block size \(k) does not divide the state size \(n)"
        case .invalidBoundaries(let text):
            return "invalid sequence boundaries: \(text)"
        }
    }
}

/// Direction of a scan in time.
public enum ScanDirection: Sendable, Equatable {
    /// t = 0, 1, …, T−1: h_t = A_t h_{t−1} + b_t with h_{−1} the initial state.
    case forward
    /// t = T−1, …, 0: h_t = A_t h_{t+1} + b_t with h_T the initial (terminal) state.
    case reverse
}
