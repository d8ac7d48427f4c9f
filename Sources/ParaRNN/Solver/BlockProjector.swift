import ParallelScan

/// u_t = W x_t + b for a block of rows on the calling thread (an ``InputProjection`` built
/// once) — what a worker of a fused Newton pass runs just before it linearises the same rows,
/// while they are in cache.
///
/// Rows are independent, so projecting block by block gives the values of one
/// ``RecurrentCell/project(inputs:steps:batch:projections:pool:)`` over all rows.
///
/// ```swift
/// let projector = BlockProjector(cell: cell, batch: 1)
/// projector.project(inputs: x + t * m, rows: 4096, into: u + t * cell.projectionRowSize(batch: 1))
/// ```
struct BlockProjector<Scalar: ScanScalar>: Sendable {
    let projection: InputProjection<Scalar>
    let batch: Int

    init<Cell: RecurrentCell>(cell: Cell, batch: Int) where Cell.Scalar == Scalar {
        projection = InputProjection(cell)
        self.batch = batch
    }

    /// Projection rows `[rows][G][B][d]` of inputs `[rows][B][m]`.
    func project(inputs: UnsafePointer<Scalar>, rows: Int, into output: UnsafeMutablePointer<Scalar>) {
        projection.project(inputs: inputs, rows: 0..<rows, batch: batch, into: output)
    }
}
