/// Why MPI could not be used.
public enum MPIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Open MPI's library could not be loaded (the message says which and why).
    case unavailable(String)
    /// An MPI call returned an error code (MPI's own text of it).
    case call(String, code: Int32, message: String)
    /// The split of the sequence over ranks is impossible (e.g. more ranks than steps).
    case invalidSplit(String)

    public var description: String {
        switch self {
        case .unavailable(let why): return "MPI unavailable: \(why)"
        case .call(let name, let code, let message): return "\(name) failed (error \(code)): \(message)"
        case .invalidSplit(let why): return why
        }
    }
}
