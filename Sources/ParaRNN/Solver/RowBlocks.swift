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
        let planes = 2 * statePlanes + gatePlanes + jacobianPlanes
            + (gathersCurrentStates ? statePlanes + 1 : 0)
        let scratch = UnsafeMutablePointer<S>.allocate(capacity: planes * capacity)
        defer { scratch.deallocate() }
        let row = statePlanes * lanes, urow = gatePlanes * lanes, jrow = jacobianPlanes * lanes
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

/// Copies `rows` runs of `lanes` scalars between strided rows; runs of 4 or 8 use one vector
/// move per row (the common B = 1 case of small d), others ``copyLanes(_:_:_:)``.
@inline(__always)
func copyRows<S: ScanScalar>(
    into destination: UnsafeMutablePointer<S>, stride destinationStride: Int,
    from source: UnsafePointer<S>, stride sourceStride: Int, rows: Int, lanes: Int
) {
    if rows <= 0 { return }
    let target = UnsafeMutableRawPointer(destination), origin = UnsafeRawPointer(source)
    let size = MemoryLayout<S>.stride
    let targetStep = destinationStride * size, originStep = sourceStride * size
    switch lanes {
    case 4:
        for r in 0..<rows {
            target.storeBytes(
                of: origin.loadUnaligned(fromByteOffset: r * originStep, as: SIMD4<S>.self),
                toByteOffset: r * targetStep, as: SIMD4<S>.self)
        }
    case 8:
        for r in 0..<rows {
            target.storeBytes(
                of: origin.loadUnaligned(fromByteOffset: r * originStep, as: SIMD8<S>.self),
                toByteOffset: r * targetStep, as: SIMD8<S>.self)
        }
    default:
        for r in 0..<rows {
            copyLanes(destination + r * destinationStride, source + r * sourceStride, lanes)
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

/// Fills `total` scalars with `pattern` (`count` values) repeated: one copy, then copies of the
/// filled prefix that double it (memcpy speed; kernels call this per block of rows).
func repeatPattern<S: ScanScalar>(
    _ pattern: UnsafePointer<S>, count: Int, into target: UnsafeMutablePointer<S>, total: Int
) {
    if total <= 0 { return }
    var filled = min(count, total)
    copyScalars(target, pattern, count: filled)
    while filled < total {
        let n = min(filled, total - filled)
        copyScalars(target + filled, UnsafePointer(target), count: n)
        filled += n
    }
}
