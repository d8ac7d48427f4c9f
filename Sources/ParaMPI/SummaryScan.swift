import CMPI
import Foundation
import ParallelScan

/// The exclusive scan of affine summaries across ranks, by `MPI_Exscan` with a user-defined,
/// non-commutative operation (`MPI_Op_create(…, commute = 0, …)`: MPI combines in rank order).
///
/// One summary travels as one element of a contiguous derived datatype of ``SummaryShape/count``
/// scalars, so MPI never splits a summary; the operation finds the summary's shape from the
/// datatype it is called with.
extension Communicator {
    /// Rank r receives s_{r−1} ∘ ⋯ ∘ s_0 (rank 0 applied first) in `result`; returns false on
    /// rank 0, whose `result` is left as it is (MPI leaves it undefined).
    ///
    /// ```swift
    /// // each rank: its segment's (P, Q); then the state entering the segment:
    /// if world.exclusiveScan(summary, shape: shape, into: incoming) {
    ///     shape.apply(incoming, to: h0, output: carry)
    /// }
    /// ```
    @discardableResult
    public func exclusiveScan<S: ScanScalar>(
        _ summary: UnsafePointer<S>, shape: SummaryShape, into result: UnsafeMutablePointer<S>
    ) -> Bool {
        let (datatype, op) = SummaryOperations.handles(S.self, shape)
        Self.require(cmpi_exscan(summary, result, 1, datatype, op, handle), "MPI_Exscan")
        return rank > 0
    }
}

/// The derived datatypes and the one user operation, made once per process.
enum SummaryOperations {
    /// Composes `count` summaries: inout[i] ← inout[i] ∘ in[i] (in from the lower ranks).
    typealias Composer = (UnsafeMutableRawPointer, UnsafeMutableRawPointer, Int) -> Void

    struct Key: Hashable {
        let scalar: ObjectIdentifier
        let shape: SummaryShape
    }

    nonisolated(unsafe) static var datatypes: [Key: UnsafeMutableRawPointer] = [:]
    nonisolated(unsafe) static var composers: [UnsafeMutableRawPointer: Composer] = [:]
    nonisolated(unsafe) static var operation: UnsafeMutableRawPointer? = nil
    static let lock = NSLock()

    /// The datatype of one `S` summary of `shape`, and the composition operation.
    static func handles<S: ScanScalar>(_: S.Type, _ shape: SummaryShape)
        -> (UnsafeMutableRawPointer, UnsafeMutableRawPointer)
    {
        lock.lock()
        defer { lock.unlock() }
        if operation == nil {
            var op: UnsafeMutableRawPointer? = nil
            Communicator.require(cmpi_op_create(composeCallback, 0, &op), "MPI_Op_create")
            operation = op
        }
        let key = Key(scalar: ObjectIdentifier(S.self), shape: shape)
        if let datatype = datatypes[key] { return (datatype, operation!) }
        var datatype: UnsafeMutableRawPointer? = nil
        Communicator.require(
            cmpi_type_contiguous(Int32(shape.count), mpiDatatype(S.self), &datatype), "MPI_Type_contiguous")
        Communicator.require(cmpi_type_commit(&datatype), "MPI_Type_commit")
        let scratch = UnsafeMutablePointer<S>.allocate(capacity: shape.count)
        composers[datatype!] = { input, inout_, count in
            let x = input.assumingMemoryBound(to: S.self)
            let y = inout_.assumingMemoryBound(to: S.self)
            for i in 0..<count {
                shape.compose(
                    first: UnsafePointer(x + i * shape.count), then: y + i * shape.count, scratch: scratch)
            }
        }
        datatypes[key] = datatype!
        return (datatype!, operation!)
    }

    /// The C entry point MPI calls (on the thread that called MPI_Exscan).
    static let composeCallback: cmpi_user_function = { input, inout_, count, datatype in
        guard let input, let inout_, let count, let datatype, let type = datatype.pointee,
            let composer = SummaryOperations.composers[type]
        else {
            FileHandle.standardError.write(
                Data("error: MPI called the summary operation with an unknown datatype\n".utf8))
            _ = cmpi_abort(cmpi_comm_world(), 1)
            exit(1)
        }
        composer(input, inout_, Int(count.pointee))
    }
}
