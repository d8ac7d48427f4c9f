import ParaRNN
import ParallelScan

/// ``SegmentCoupling`` over an MPI communicator: segment = rank, the boundary exchange by
/// `MPI_Sendrecv`, the residual by `MPI_Allreduce` (max), the scan by ``DistributedScan``.
///
/// ```swift
/// let world = try MPIRuntime.world()
/// var options = SolverOptions(method: .newton)
/// options.coupling = MPICoupling(world)
/// ```
public struct MPICoupling: SegmentCoupling {
    public let communicator: Communicator

    public init(_ communicator: Communicator) { self.communicator = communicator }

    public var segment: Int { communicator.rank }
    public var segments: Int { communicator.size }

    public func maxResidual(_ local: Double) -> Double { communicator.allreduceMax(local) }
    public func sum(_ local: Int) -> Int { communicator.allreduceSum(local) }
    public func allAgree(_ flag: Bool) -> Bool { communicator.allAgree(flag) }

    public func shiftBoundary<S: ScanScalar>(last: UnsafePointer<S>, previous: UnsafeMutablePointer<S>, count: Int) {
        communicator.shiftUp(send: last, receive: previous, count: count)
    }

    public func receiveFromPrevious<S: ScanScalar>(into row: UnsafeMutablePointer<S>, count: Int) {
        if communicator.rank > 0 { communicator.receive(into: row, count: count, from: communicator.rank - 1, tag: 2) }
    }

    public func sendToNext<S: ScanScalar>(_ row: UnsafePointer<S>, count: Int) {
        if communicator.rank + 1 < communicator.size {
            communicator.send(row, count: count, to: communicator.rank + 1, tag: 2)
        }
    }

    /// One `MPI_Exscan` of the segments' maps (``Communicator/exclusiveScan(_:shape:into:)``),
    /// then rank r > 0 applies the composition of ranks 0…r−1 to `initial`.
    public func enterSegment<S: ScanScalar>(
        summary: UnsafePointer<S>, blocks: Int, blockSize: Int, initial: UnsafePointer<S>,
        entry: UnsafeMutablePointer<S>
    ) {
        let shape = SummaryShape.planes(blockSize: blockSize, blocks: blocks)
        let incoming = UnsafeMutablePointer<S>.allocate(capacity: shape.count)
        defer { incoming.deallocate() }
        if communicator.exclusiveScan(summary, shape: shape, into: incoming) {
            shape.apply(UnsafePointer(incoming), to: initial, output: entry)
        } else {
            entry.update(from: initial, count: shape.stateCount)
        }
    }

    public func scan<S: ScanScalar>(
        structure: JacobianStructure, jacobians: UnsafePointer<S>, offsets: UnsafePointer<S>,
        steps: Int, batch: Int, stateSize: Int, initial: UnsafePointer<S>,
        output: UnsafeMutablePointer<S>, pool: WorkerPool
    ) {
        let kind: SegmentScanKind
        switch structure {
        case .diagonal: kind = .diagonal(lanes: batch * stateSize)
        case .blockDiagonal(let k):
            kind = .blockDiagonal(blocks: batch * stateSize / k, blockSize: k, transposed: false)
        case .dense: kind = .dense(batch: batch, dimension: stateSize, transposed: false)
        }
        DistributedScan.run(
            kind, a: jacobians, b: offsets, steps: steps, initial: initial, output: output,
            reverse: false, pool: pool, communicator: communicator)
    }
}
