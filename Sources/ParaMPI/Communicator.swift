import CMPI
import Foundation
import ParallelScan

/// An MPI communicator: rank, size and the collectives pararnn uses.
///
/// Every call is collective over the communicator unless said otherwise, and must be made from
/// the thread that initialised MPI. MPI's default error handler (errors are fatal) stays in
/// force: a failing call ends the whole job with MPI's message, so these calls do not throw.
///
/// ```swift
/// let world = try MPIRuntime.world()
/// let worst = world.allreduceMax(localResidual)   // the same value on every rank
/// world.barrier()
/// ```
public struct Communicator: @unchecked Sendable {
    /// Open MPI's handle.
    let handle: UnsafeMutableRawPointer
    /// This process's rank, 0 ..< ``size``.
    public let rank: Int
    /// The number of ranks.
    public let size: Int

    init(handle: UnsafeMutableRawPointer) {
        self.handle = handle
        var rank: Int32 = 0
        var size: Int32 = 0
        Self.require(cmpi_comm_rank(handle, &rank), "MPI_Comm_rank")
        Self.require(cmpi_comm_size(handle, &size), "MPI_Comm_size")
        self.rank = Int(rank)
        self.size = Int(size)
    }

    /// Ends the job if an MPI call failed (only reached with a non-fatal error handler).
    static func require(_ code: Int32, _ name: String) {
        if code == 0 { return }
        FileHandle.standardError.write(Data("error: \(name) failed: \(MPIRuntime.errorText(code))\n".utf8))
        _ = cmpi_abort(cmpi_comm_world(), 1)
        exit(1)
    }

    /// Waits until every rank has called it.
    public func barrier() {
        Self.require(cmpi_barrier(handle), "MPI_Barrier")
    }

    /// The maximum of `value` over all ranks, NaN if any rank's value is NaN (MPI_MAX alone
    /// would drop it).
    public func allreduceMax(_ value: Double) -> Double {
        var local: [Double] = [value.isNaN ? -.infinity : value, value.isNaN ? 1 : 0]
        var global: [Double] = [0, 0]
        Self.require(
            cmpi_allreduce(&local, &global, 2, cmpi_double(), cmpi_op_max(), handle), "MPI_Allreduce")
        return global[1] > 0 ? .nan : global[0]
    }

    /// The sum of `value` over all ranks.
    public func allreduceSum(_ value: Int) -> Int { allreduce(value, cmpi_op_sum()) }

    /// The element-wise maximum and minimum of `values` over all ranks (two `MPI_Allreduce`
    /// calls; `values` must have the same length everywhere), e.g. per-phase times.
    ///
    /// ```swift
    /// let (slowest, fastest) = world.allreduceMaxMin([readSeconds, solveSeconds])
    /// ```
    public func allreduceMaxMin(_ values: [Double]) -> (max: [Double], min: [Double]) {
        var high = [Double](repeating: 0, count: values.count)
        var low = high
        let count = Int32(values.count)
        Self.require(cmpi_allreduce(values, &high, count, cmpi_double(), cmpi_op_max(), handle), "MPI_Allreduce")
        Self.require(cmpi_allreduce(values, &low, count, cmpi_double(), cmpi_op_min(), handle), "MPI_Allreduce")
        return (high, low)
    }

    /// The minimum of `value` over all ranks.
    public func allreduceMin(_ value: Int) -> Int { allreduce(value, cmpi_op_min()) }

    /// `value` reduced over all ranks by the MPI operation `op` (as a 64-bit integer).
    private func allreduce(_ value: Int, _ op: UnsafeMutableRawPointer?) -> Int {
        var local = Int64(value)
        var global: Int64 = 0
        Self.require(cmpi_allreduce(&local, &global, 1, cmpi_int64(), op, handle), "MPI_Allreduce")
        return Int(global)
    }

    /// Whether `flag` holds on every rank (a logical AND by MPI_MIN).
    public func allAgree(_ flag: Bool) -> Bool { allreduceMin(flag ? 1 : 0) == 1 }

    /// Rank `root`'s bytes on every rank; `bytes` must have the same length everywhere.
    public func broadcast(_ bytes: inout [UInt8], root: Int = 0) {
        let count = Int32(bytes.count)
        bytes.withUnsafeMutableBytes { raw in
            Self.require(
                cmpi_bcast(raw.baseAddress, count, cmpi_byte(), Int32(root), handle), "MPI_Bcast")
        }
    }

    /// Rank `root`'s values on every rank; `values` must have the same length everywhere.
    public func broadcast(_ values: inout [Double], root: Int = 0) {
        let count = Int32(values.count)
        values.withUnsafeMutableBufferPointer { buffer in
            Self.require(
                cmpi_bcast(buffer.baseAddress, count, cmpi_double(), Int32(root), handle), "MPI_Bcast")
        }
    }

    /// Sends `count` scalars to `destination` (point to point, blocking).
    public func send<S: ScanScalar>(_ values: UnsafePointer<S>, count: Int, to destination: Int, tag: Int = 0) {
        Self.require(
            cmpi_send(values, Int32(count), mpiDatatype(S.self), Int32(destination), Int32(tag), handle), "MPI_Send")
    }

    /// Receives `count` scalars from `source` (point to point, blocking).
    public func receive<S: ScanScalar>(
        into values: UnsafeMutablePointer<S>, count: Int, from source: Int, tag: Int = 0
    ) {
        Self.require(
            cmpi_recv(values, Int32(count), mpiDatatype(S.self), Int32(source), Int32(tag), handle), "MPI_Recv")
    }

    /// Every rank sends `send` to rank + 1 and receives rank − 1's into `receive` (rank 0
    /// receives nothing and `receive` is left as it is; the last rank sends nothing): one
    /// halo exchange along the sequence.
    public func shiftUp<S: ScanScalar>(
        send: UnsafePointer<S>, receive: UnsafeMutablePointer<S>, count: Int, tag: Int = 1
    ) {
        let up = rank + 1 < size ? Int32(rank + 1) : cmpi_proc_null()
        let down = rank > 0 ? Int32(rank - 1) : cmpi_proc_null()
        Self.require(
            cmpi_sendrecv(
                send, Int32(count), mpiDatatype(S.self), up, Int32(tag), receive, Int32(count), mpiDatatype(S.self),
                down, Int32(tag), handle),
            "MPI_Sendrecv")
    }

    /// The communicator with ranks in reverse order (rank r here is rank size − 1 − r there):
    /// exclusive scans over it run from the last rank down, for reverse-time scans.
    /// Made once per communicator (the first call is collective: every rank must make it).
    public func reversed() -> Communicator {
        Self.reversedLock.lock()
        defer { Self.reversedLock.unlock() }
        if let cached = Self.reversedCache[handle] { return cached }
        var result: UnsafeMutableRawPointer? = nil
        Self.require(
            cmpi_comm_split(handle, 0, Int32(size - 1 - rank), &result), "MPI_Comm_split")
        let reversed = Communicator(handle: result!)
        Self.reversedCache[handle] = reversed
        return reversed
    }

    nonisolated(unsafe) private static var reversedCache: [UnsafeMutableRawPointer: Communicator] = [:]
    private static let reversedLock = NSLock()

    /// Ends every rank of the job with exit status `code` (MPI_Abort); for failures that the
    /// other ranks cannot learn about through a collective.
    public func abort(_ code: Int32) -> Never {
        _ = cmpi_abort(handle, code)
        exit(code)
    }
}

/// The predefined MPI datatype of a scan scalar (Float: MPI_FLOAT, Double: MPI_DOUBLE).
func mpiDatatype<S: ScanScalar>(_: S.Type) -> UnsafeMutableRawPointer? {
    MemoryLayout<S>.size == 4 ? cmpi_float() : cmpi_double()
}
