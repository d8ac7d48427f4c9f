import ParallelScan

/// Evaluation of elementwise cells over blocks of time steps, for vectorisation across time.
///
/// A linearisation is embarrassingly parallel over t, but a state row holds only B·d lanes —
/// for small models (d = 4) too few for SIMD. This gathers the planes of R consecutive rows
/// (R·lanes ≈ 512 elements) into contiguous scratch so the cell's formulas run as one flat,
/// vectorisable loop, then scatters the results back.
///
/// Scratch layout, each plane `capacity` elements: `[k state planes][g gate planes]
/// [k value planes][q Jacobian planes]`, then (with `gathersCurrentStates`) `[k planes of the
/// current states s_t]` and one plane for per-element residuals.
struct RowBlocks<S: ScanScalar> {
    let lanes: Int, statePlanes: Int, gatePlanes: Int, jacobianPlanes: Int
    /// Also gather the current states s_t (for a fused Newton residual).
    let gathersCurrentStates: Bool
    let rowsPerBlock: Int
    var capacity: Int { rowsPerBlock * lanes }

    init(lanes: Int, statePlanes: Int, gatePlanes: Int, jacobianPlanes: Int, gathersCurrentStates: Bool = false) {
        self.lanes = lanes
        self.statePlanes = statePlanes
        self.gatePlanes = gatePlanes
        self.jacobianPlanes = jacobianPlanes
        self.gathersCurrentStates = gathersCurrentStates
        rowsPerBlock = max(1, 512 / max(1, lanes))
    }

    /// Offset of the first current-state plane in the scratch (then the residual plane).
    var currentBase: Int { (2 * statePlanes + gatePlanes + jacobianPlanes) * capacity }

    /// Runs `body(scratch, count)` for each block of rows of `steps`, with gathered inputs.
    @inline(__always)
    func run(
        steps: Range<Int>, previous: UnsafePointer<S>, states: UnsafePointer<S>,
        projections: UnsafePointer<S>, values: UnsafeMutablePointer<S>,
        jacobians: UnsafeMutablePointer<S>?,
        body: (_ scratch: UnsafeMutablePointer<S>, _ count: Int) -> Void
    ) {
        let planes =
            2 * statePlanes + gatePlanes + jacobianPlanes
            + (gathersCurrentStates ? statePlanes + 1 : 0)
        let scratch = UnsafeMutablePointer<S>.allocate(capacity: planes * capacity)
        defer { scratch.deallocate() }
        let row = statePlanes * lanes
        let urow = gatePlanes * lanes
        let jrow = jacobianPlanes * lanes
        var t = steps.lowerBound
        while t < steps.upperBound {
            let rows = min(rowsPerBlock, steps.upperBound - t)
            // Plane by plane over the rows (tight strided copies; a row's first state comes
            // from `previous` at the range's first step).
            let first = t == steps.lowerBound ? 1 : 0
            for p in 0..<statePlanes {
                let target = scratch + p * capacity
                if first == 1 { copyLanes(target, previous + p * lanes, lanes) }
                copyRows(
                    into: target + first * lanes, stride: lanes,
                    from: states + (t + first - 1) * row + p * lanes, stride: row,
                    rows: rows - first, lanes: lanes)
                if gathersCurrentStates {
                    copyRows(
                        into: scratch + currentBase + p * capacity, stride: lanes,
                        from: states + t * row + p * lanes, stride: row, rows: rows, lanes: lanes)
                }
            }
            for v in 0..<gatePlanes {
                copyRows(
                    into: scratch + (statePlanes + v) * capacity, stride: lanes,
                    from: projections + t * urow + v * lanes, stride: urow, rows: rows, lanes: lanes)
            }
            body(scratch, rows * lanes)
            let valueBase = scratch + (statePlanes + gatePlanes) * capacity
            let jacobianBase = valueBase + statePlanes * capacity
            for p in 0..<statePlanes {
                copyRows(
                    into: values + t * row + p * lanes, stride: row,
                    from: valueBase + p * capacity, stride: lanes, rows: rows, lanes: lanes)
            }
            if let jacobians {
                for e in 0..<jacobianPlanes {
                    copyRows(
                        into: jacobians + t * jrow + e * lanes, stride: jrow,
                        from: jacobianBase + e * capacity, stride: lanes, rows: rows, lanes: lanes)
                }
            }
            t += rows
        }
    }
}
