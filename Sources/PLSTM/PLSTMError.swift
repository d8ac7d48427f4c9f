/// Why a pLSTM graph, gate set or input was refused.
public enum PLSTMError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The graph has a directed cycle; `node` lies on it.
    case cycle(node: Int)
    /// An edge names a node outside `0..<nodeCount`.
    case edgeOutOfRange(edge: Int, from: Int, to: Int, nodeCount: Int)
    /// A negative node count, or a grid/sequence with a non-positive size.
    case invalidSize(String)
    /// The state size (lanes per node) is below 1.
    case invalidStateSize(Int)
    /// A buffer does not hold the number of elements the shape needs.
    case bufferSize(name: String, expected: Int, actual: Int)

    public var description: String {
        switch self {
        case .cycle(let node):
            return "the graph has a directed cycle through node \(node); pLSTM needs a DAG"
        case .edgeOutOfRange(let edge, let from, let to, let n):
            return "edge \(edge) (\(from) → \(to)) names a node outside 0..<\(n)"
        case .invalidSize(let what):
            return "invalid size: \(what)"
        case .invalidStateSize(let d):
            return "state size \(d) must be at least 1"
        case .bufferSize(let name, let expected, let actual):
            return "buffer '\(name)' holds \(actual) elements, the shape needs \(expected)"
        }
    }
}

@inline(__always)
func checkCount(_ name: String, _ actual: Int, _ expected: Int) throws(PLSTMError) {
    if actual != expected { throw .bufferSize(name: name, expected: expected, actual: actual) }
}
