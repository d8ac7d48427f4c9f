import ParallelScan

/// u_t = W x_t + b for a block of rows on the calling thread, with the small-input kernel set
/// up once (``SmallInputProjector``) — what a worker of a fused Newton pass runs just before it
/// linearises the same rows, while they are in cache.
///
/// Rows are independent, so projecting block by block gives the values of one
/// ``RecurrentCell/project(inputs:steps:batch:projections:pool:)`` over all rows.
///
/// ```swift
/// let projector = BlockProjector(cell: cell, batch: 1)
/// projector.project(inputs: x + t * m, rows: 4096, into: u + t * cell.projectionRowSize(batch: 1))
/// ```
struct BlockProjector<Cell: RecurrentCell>: Sendable {
    let cell: Cell
    let batch: Int
    let small: SmallInputProjector<Cell.Scalar>?

    init(cell: Cell, batch: Int) {
        self.cell = cell
        self.batch = batch
        small = SmallInputProjector(cell)
    }

    /// Projection rows `[rows][G][B][d]` of inputs `[rows][B][m]`.
    func project(inputs: UnsafePointer<Cell.Scalar>, rows: Int, into output: UnsafeMutablePointer<Cell.Scalar>) {
        if let small {
            small.project(inputs: inputs, rows: rows, batch: batch, into: output)
        } else {
            cell.project(inputs: inputs, steps: rows, batch: batch, projections: output, pool: .serial)
        }
    }
}
