import CMPI
import Foundation

/// The process's MPI session: Open MPI loaded on demand, initialised once with
/// `MPI_THREAD_FUNNELED` (only the thread that initialised calls MPI; pararnn's workers never
/// do), finalised at exit.
///
/// Nothing here runs unless asked: a process that never calls ``world()`` neither loads libmpi
/// nor needs `mpirun`.
///
/// ```swift
/// let world = try MPIRuntime.world()      // loads libmpi, MPI_Init_thread on first use
/// print("rank \(world.rank) of \(world.size)")
/// ```
public enum MPIRuntime {
    /// Whether this process was started by an MPI launcher (Open MPI's `mpirun` sets
    /// `OMPI_COMM_WORLD_SIZE`; PMIx launchers set `PMIX_RANK`).
    public static var isLaunchedByMPI: Bool {
        let environment = ProcessInfo.processInfo.environment
        return environment["OMPI_COMM_WORLD_SIZE"] != nil || environment["PMIX_RANK"] != nil
    }

    nonisolated(unsafe) private static var cachedWorld: Communicator? = nil
    private static let lock = NSLock()

    /// The world communicator, initialising MPI on first use (singleton mode without `mpirun`:
    /// one rank). Call it from the main thread.
    public static func world() throws(MPIError) -> Communicator {
        lock.lock()
        defer { lock.unlock() }
        if let cachedWorld { return cachedWorld }
        var message = [CChar](repeating: 0, count: 512)
        if cmpi_load(&message, Int32(message.count)) != 0 {
            throw .unavailable(cString(message))
        }
        var initialized: Int32 = 0
        try check(cmpi_initialized(&initialized), "MPI_Initialized")
        if initialized == 0 {
            var provided: Int32 = 0
            try check(cmpi_init_thread_funneled(&provided), "MPI_Init_thread")
            atexit { MPIRuntime.finalize() }
        }
        let world = Communicator(handle: cmpi_comm_world()!)
        cachedWorld = world
        return world
    }

    /// Finalises MPI if it was initialised and not yet finalised (registered with `atexit`).
    public static func finalize() {
        guard cmpi_loaded() != 0 else { return }
        var initialized: Int32 = 0
        var finalized: Int32 = 0
        _ = cmpi_initialized(&initialized)
        _ = cmpi_finalized(&finalized)
        if initialized != 0, finalized == 0 { _ = cmpi_finalize() }
    }

    /// MPI's text for an error code.
    static func errorText(_ code: Int32) -> String {
        var text = [CChar](repeating: 0, count: 512)
        var length: Int32 = 0
        if cmpi_error_string(code, &text, &length) != 0 { return "unknown error" }
        return cString(text)
    }

    /// The text of a NUL-terminated C buffer.
    static func cString(_ buffer: [CChar]) -> String {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Throws ``MPIError/call(_:code:message:)`` unless `code` is MPI_SUCCESS (0).
    static func check(_ code: Int32, _ name: String) throws(MPIError) {
        if code != 0 { throw .call(name, code: code, message: errorText(code)) }
    }
}
