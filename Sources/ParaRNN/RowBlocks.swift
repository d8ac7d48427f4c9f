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

    /// A parameter vector of length d repeated over a block: tile[e] = parameter[e mod d].
    func tile(_ parameter: UnsafePointer<S>, count d: Int, into tile: UnsafeMutablePointer<S>) {
        for e in 0..<capacity { tile[e] = parameter[e % d] }
    }

    /// Runs `body(scratch, count)` for each block of rows of `steps`, with gathered inputs.
    @inline(__always)
    func run(
        steps: Range<Int>, previous: UnsafePointer<S>, states: UnsafePointer<S>,
        projections: UnsafePointer<S>, values: UnsafeMutablePointer<S>,
        jacobians: UnsafeMutablePointer<S>?,
        body: (_ scratch: UnsafeMutablePointer<S>, _ count: Int) -> Void
    ) {
        let planes = 2 * statePlanes + gatePlanes + jacobianPlanes
            + (gathersCurrentStates ? statePlanes + 1 : 0)
        let scratch = UnsafeMutablePointer<S>.allocate(capacity: planes * capacity)
        defer { scratch.deallocate() }
        let row = statePlanes * lanes, urow = gatePlanes * lanes, jrow = jacobianPlanes * lanes
        var t = steps.lowerBound
        while t < steps.upperBound {
            let rows = min(rowsPerBlock, steps.upperBound - t)
            for r in 0..<rows {
                let tt = t + r
                let prev = tt == steps.lowerBound ? previous : states + (tt - 1) * row
                for p in 0..<statePlanes {
                    copyLanes(scratch + p * capacity + r * lanes, prev + p * lanes, lanes)
                }
                if gathersCurrentStates {
                    for p in 0..<statePlanes {
                        copyLanes(
                            scratch + currentBase + p * capacity + r * lanes,
                            states + tt * row + p * lanes, lanes)
                    }
                }
                for v in 0..<gatePlanes {
                    copyLanes(
                        scratch + (statePlanes + v) * capacity + r * lanes,
                        projections + tt * urow + v * lanes, lanes)
                }
            }
            body(scratch, rows * lanes)
            let valueBase = scratch + (statePlanes + gatePlanes) * capacity
            let jacobianBase = valueBase + statePlanes * capacity
            for r in 0..<rows {
                let tt = t + r
                for p in 0..<statePlanes {
                    copyLanes(
                        values + tt * row + p * lanes, valueBase + p * capacity + r * lanes,
                        lanes)
                }
                if let jacobians {
                    for e in 0..<jacobianPlanes {
                        copyLanes(
                            jacobians + tt * jrow + e * lanes,
                            jacobianBase + e * capacity + r * lanes, lanes)
                    }
                }
            }
            t += rows
        }
    }
}

/// Copies `count` scalars; short copies use 4-wide vector moves instead of a memmove call.
@inline(__always)
func copyLanes<S: ScanScalar>(_ destination: UnsafeMutablePointer<S>, _ source: UnsafePointer<S>, _ count: Int) {
    if count >= 64 {
        destination.update(from: source, count: count)
        return
    }
    var i = 0
    while i + 4 <= count {
        UnsafeMutableRawPointer(destination + i).storeBytes(
            of: UnsafeRawPointer(source + i).loadUnaligned(as: SIMD4<S>.self), as: SIMD4<S>.self)
        i += 4
    }
    while i < count {
        destination[i] = source[i]
        i += 1
    }
}

/// Copies `count` scalars as raw bytes. Generic code that is not specialised (the solver's
/// orchestration, reached from other modules) would otherwise copy element by element through
/// value witnesses; scalars are trivial types, so a memcpy is exact.
@inlinable @inline(__always)
func copyScalars<S: ScanScalar>(_ destination: UnsafeMutablePointer<S>, _ source: UnsafePointer<S>, count: Int) {
    UnsafeMutableRawPointer(destination).copyMemory(
        from: UnsafeRawPointer(source), byteCount: count * MemoryLayout<S>.stride)
}

/// Fills `count` scalars with +0.0 (all-zero bits) without per-element generic copies.
func zeroFill<S: ScanScalar>(_ pointer: UnsafeMutablePointer<S>, count: Int) {
    UnsafeMutableRawPointer(pointer).initializeMemory(
        as: UInt8.self, repeating: 0, count: count * MemoryLayout<S>.stride)
}

/// An array of `count` scalars left uninitialised (the caller overwrites every element before
/// reading it): skips zeroing, so pages are first touched by the parallel passes that fill them.
func uninitializedArray<S: ScanScalar>(_: S.Type = S.self, count: Int) -> [S] {
    [S](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
}

/// Zero-fills `count` scalars in parallel chunks (first touch of fresh pages spreads over the
/// workers instead of one thread).
func parallelZeroFill<S: ScanScalar>(_ pointer: UnsafeMutablePointer<S>, count: Int, pool: WorkerPool) {
    let parts = max(1, min(pool.threadCount, count / 262_144))
    let base = UnsafeMutableSendable(pointer)
    pool.forEach(parts) { part in
        let range = ChunkPlan.evenRange(index: part, of: parts, total: count)
        zeroFill(base.base + range.lowerBound, count: range.count)
    }
}

/// An array of `count` zeros, filled with memset rather than element by element.
func zeroArray<S: ScanScalar>(_: S.Type = S.self, count: Int) -> [S] {
    [S](unsafeUninitializedCapacity: count) { buffer, initialized in
        if count > 0 { zeroFill(buffer.baseAddress!, count: count) }
        initialized = count
    }
}

/// The largest of `count` residuals, NaN if any is NaN. Residuals are ≥ +0 (never −0), so
/// their bit patterns order like their values, with every NaN above +Inf: an unsigned-integer
/// max, which vectorises (a floating-point max with a NaN flag does not).
@inline(__always)
func maximumResidual<S: ScanScalar>(_ residuals: UnsafePointer<S>, count: Int) -> Double {
    let raw = UnsafeRawPointer(residuals)
    if MemoryLayout<S>.size == 4 {
        var bits: UInt32 = 0
        for i in 0..<count { bits = Swift.max(bits, raw.load(fromByteOffset: 4 * i, as: UInt32.self)) }
        let value = Float(bitPattern: bits)
        return value.isNaN ? .nan : Double(value)
    }
    var bits: UInt64 = 0
    for i in 0..<count { bits = Swift.max(bits, raw.load(fromByteOffset: 8 * i, as: UInt64.self)) }
    let value = Double(bitPattern: bits)
    return value.isNaN ? .nan : value
}

/// Folds a block's residual into a running one, keeping NaN.
@inline(__always)
func combineResiduals(_ running: Double, _ block: Double) -> Double {
    running.isNaN || block.isNaN ? .nan : Swift.max(running, block)
}
