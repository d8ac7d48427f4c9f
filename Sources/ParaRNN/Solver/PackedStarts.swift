import ParallelScan

/// Several sequences packed end to end in one Newton solve: their boundaries and each one's
/// initial state, for the engine's passes (linearisations start each sequence from its own
/// initial state; scans restart there; ELK's filter variance restarts at zero there).
///
/// ```swift
/// engine.packing = PackedStarts(boundaries: try SequenceBoundaries(lengths: [500, 20]),
///                               initials: h0s, row: row)   // h0s: [2][row]
/// ```
struct PackedStarts<Scalar: ScanScalar>: @unchecked Sendable {
    let boundaries: SequenceBoundaries
    /// `[sequences][row]`.
    let initials: UnsafePointer<Scalar>
    let row: Int

    /// The initial state of sequence `i`.
    @inline(__always)
    func initial(of i: Int) -> UnsafePointer<Scalar> { initials + i * row }

    /// The initial state of the sequence that starts at step `t`, or nil if none starts there.
    @inline(__always)
    func initialIfStart(_ t: Int) -> UnsafePointer<Scalar>? {
        let i = boundaries.firstStart(atLeast: t)
        return i < boundaries.count && boundaries.starts[i] == t ? initials + i * row : nil
    }
}

extension NewtonEngine {
    /// Pass 2 for packed sequences: H ← the scan of (J, b) with a reset at every sequence start
    /// (each sequence from its own initial state).
    func scanPacked(structure: JacobianStructure, packing: PackedStarts<Scalar>) {
        guard let jacobians else { preconditionFailure("scanPacked needs the Jacobians of pass 1") }
        AffineScan.resetScanUnchecked(
            structure.scanShape(batch: batch, stateSize: cell.stateSize), a: jacobians, b: offsets,
            boundaries: packing.boundaries, initial: packing.initials, output: states, transposed: false,
            reverse: false, pool: pool)
    }
}

extension AffineRows {
    /// Sets a summary to the constant map x ↦ `value` (P = 0, Q = value): a sequence restarts
    /// from its initial state whatever came before.
    static func setConstantSummary<S: ScanScalar>(
        _ summary: UnsafeMutablePointer<S>, blocks: Int, blockSize k: Int, value: UnsafePointer<S>
    ) {
        summary.update(repeating: 0, count: k * k * blocks)
        (summary + k * k * blocks).update(from: value, count: k * blocks)
    }
}
