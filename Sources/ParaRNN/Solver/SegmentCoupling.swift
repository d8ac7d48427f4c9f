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
    /// `entry` ← the state entering this segment: the maps `summary` of the segments before it
    /// (each its steps' composed affine map x ↦ P x + Q per k×k block, P as k·k planes of
    /// `blocks` values then Q as k planes; k = 1 diagonal) composed in segment order and applied
    /// to `initial`, the state before the sequence (segment 0: `initial` itself).
    func enterSegment<S: ScanScalar>(
        summary: UnsafePointer<S>, blocks: Int, blockSize: Int, initial: UnsafePointer<S>,
        entry: UnsafeMutablePointer<S>)
    /// H ← the affine scan of (J, b) over the whole sequence, this segment's steps written to
    /// `output`; `initial` is the state before the sequence (the same on every segment).
    func scan<S: ScanScalar>(
        structure: JacobianStructure, jacobians: UnsafePointer<S>, offsets: UnsafePointer<S>,
        steps: Int, batch: Int, stateSize: Int, initial: UnsafePointer<S>,
        output: UnsafeMutablePointer<S>, pool: WorkerPool)
}

/// What the fused Newton passes (``NewtonEngine/iterateFused(tolerance:maxIterations:hasGuess:checkThreshold:link:report:)``)
/// need to run over one segment of a sequence split across processes.
///
/// After each linearising pass the segment's chunk summaries (affine maps x ↦ P x + Q, in
/// ``AffineRows``' layout) are composed in order into the segment's map, and the coupling's
/// exclusive scan of the segments' maps (``SegmentCoupling/enterSegment(summary:blocks:blockSize:initial:entry:)``)
/// gives the state entering this segment under the next iterate, written into `entry`.
///
/// ```swift
/// let link = FusedSegmentLink(coupling: coupling, initial: h0, entry: entry)
/// let engine = NewtonEngine(cell: cell, steps: n, batch: 1, projections: u,
///                           previous: entry, states: h, pool: pool)
/// let attempt = engine.iterateFused(tolerance: 1e-5, maxIterations: 50, hasGuess: false,
///                                   link: link) { _, _ in }
/// ```
struct FusedSegmentLink<Scalar: ScanScalar> {
    let coupling: any SegmentCoupling
    /// The state before the whole sequence (the same on every segment).
    let initial: UnsafePointer<Scalar>
    /// The engine's `previous`: the state entering this segment, rewritten before every solve.
    let entry: UnsafeMutablePointer<Scalar>

    /// Composes `chunks` consecutive chunk summaries (P_c, Q_c) into the segment's map
    /// (P, Q) = (P_{n−1}, Q_{n−1}) ∘ ⋯ ∘ (P_0, Q_0) and hands it to the coupling.
    ///
    /// A summary's P planes and Q planes have the layout of one step's (Â_t, b_t), so composing
    /// summary c onto the running map is ``AffineRows/accumulate(a:b:rows:blocks:blockSize:summary:)``
    /// with that summary as its one step.
    func enterSegment(chunkSummaries: UnsafePointer<Scalar>, chunks: Int, blocks: Int, blockSize k: Int) {
        let count = AffineRows.summaryCount(blocks: blocks, blockSize: k)
        let map = UnsafeMutablePointer<Scalar>.allocate(capacity: count)
        defer { map.deallocate() }
        AffineRows.resetSummary(map, blocks: blocks, blockSize: k)
        withSubnormalsFlushed {
            for c in 0..<chunks {
                let summary = chunkSummaries + c * count
                AffineRows.accumulate(
                    a: summary, b: summary + k * k * blocks, rows: 0..<1, blocks: blocks, blockSize: k,
                    summary: map)
            }
        }
        coupling.enterSegment(summary: UnsafePointer(map), blocks: blocks, blockSize: k, initial: initial, entry: entry)
    }
}
