import ParallelScan

/// What a solve of one contiguous segment of a sequence needs from the processes holding the
/// other segments (e.g. MPI ranks; see the `ParaMPI` module's `MPICoupling`).
///
/// Segment `segment` of `segments` holds consecutive time steps; segment 0 starts the
/// sequence. Every method is collective: all segments call it, in the same order.
///
/// ```swift
/// var options = SolverOptions(method: .newton)
/// options.coupling = MPICoupling(world)        // this rank's inputs are its slice of x
/// let mine = try SequenceSolver(cell: cell, options: options)
///     .solve(inputs: mySlice, steps: mySteps, batch: 1, initialState: h0)
/// ```
public protocol SegmentCoupling: Sendable {
    /// This process's segment (0-based).
    var segment: Int { get }
    /// The number of segments.
    var segments: Int { get }
    /// The maximum of `local` over all segments (NaN if any is NaN).
    func maxResidual(_ local: Double) -> Double
    /// The sum of `local` over all segments.
    func sum(_ local: Int) -> Int
    /// Whether `flag` holds on every segment.
    func allAgree(_ flag: Bool) -> Bool
    /// Sends `last` (this segment's last state row) to the next segment and writes the previous
    /// segment's into `previous` (segment 0: `previous` is left as it is).
    func shiftBoundary<S: ScanScalar>(last: UnsafePointer<S>, previous: UnsafeMutablePointer<S>, count: Int)
    /// Blocks until the previous segment sends its last state row (segment 0: returns at once).
    func receiveFromPrevious<S: ScanScalar>(into row: UnsafeMutablePointer<S>, count: Int)
    /// Sends this segment's last state row to the next segment (the last segment: nothing).
    func sendToNext<S: ScanScalar>(_ row: UnsafePointer<S>, count: Int)
    /// H ← the affine scan of (J, b) over the whole sequence, this segment's steps written to
    /// `output`; `initial` is the state before the sequence (the same on every segment).
    func scan<S: ScanScalar>(
        structure: JacobianStructure, jacobians: UnsafePointer<S>, offsets: UnsafePointer<S>,
        steps: Int, batch: Int, stateSize: Int, initial: UnsafePointer<S>,
        output: UnsafeMutablePointer<S>, pool: WorkerPool)
}
