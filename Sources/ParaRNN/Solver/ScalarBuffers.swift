import ParallelScan

/// Copies `rows` runs of `lanes` scalars between strided rows (strides in scalars): the Newton
/// kernels' plane gathers and scatters, by ``copyStridedRows(into:stride:from:stride:rowBytes:rows:)``
/// (runs of 4 or 8 values move as one vector per row).
@inline(__always)
func copyRows<S: ScanScalar>(
    into destination: UnsafeMutablePointer<S>, stride destinationStride: Int,
    from source: UnsafePointer<S>, stride sourceStride: Int, rows: Int, lanes: Int
) {
    let size = MemoryLayout<S>.stride
    copyStridedRows(
        into: destination, stride: destinationStride * size, from: source, stride: sourceStride * size,
        rowBytes: lanes * size, rows: rows)
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

/// Touches each 4 KiB page of `count` scalars once (stores a zero at its first scalar), the
/// pages split over the workers in contiguous runs. For a buffer that many workers then fill in
/// interleaved pieces (a batch-split rollout writes each step row in B slices): otherwise every
/// fresh page is first touched by all of them at once, and the concurrent faults on one page
/// serialise in the kernel (16 workers on a B = 16, d = 64 GRU: 126 k faults, 1.2 s of system
/// time, against 11 k for one worker). The caller overwrites every value afterwards.
func prefaultPages<S: ScanScalar>(_ pointer: UnsafeMutablePointer<S>, count: Int, pool: WorkerPool) {
    let perPage = max(1, 4096 / MemoryLayout<S>.stride)
    let pages = (count + perPage - 1) / perPage
    let parts = max(1, min(pool.threadCount, pages / 64))
    let base = UnsafeMutableSendable(pointer)
    pool.forEach(parts) { part in
        for page in ChunkPlan.evenRange(index: part, of: parts, total: pages) {
            base.base[page * perPage] = 0
        }
    }
}

/// An array of `count` zeros, filled with memset rather than element by element.
func zeroArray<S: ScanScalar>(_: S.Type = S.self, count: Int) -> [S] {
    [S](unsafeUninitializedCapacity: count) { buffer, initialized in
        if count > 0 { zeroFill(buffer.baseAddress!, count: count) }
        initialized = count
    }
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

/// Copies `rows` rows of `count` scalars, rows `sourceStride` apart in `source` and
/// `destinationStride` apart in `destination` (a batch entry range gathered from or scattered
/// into full-batch rows), by ``copyStridedRows(into:stride:from:stride:rowBytes:rows:)``.
@inline(__always)
func copyRows<S: ScanScalar>(
    _ destination: UnsafeMutablePointer<S>, stride destinationStride: Int, _ source: UnsafePointer<S>,
    stride sourceStride: Int, count: Int, rows: Int
) {
    copyRows(into: destination, stride: destinationStride, from: source, stride: sourceStride, rows: rows, lanes: count)
}

/// Scratch arrays of one scalar type carved from one allocation and freed together: array i
/// holds `counts[i]` scalars and starts on a 64-byte line (no two share a cache line). For the
/// per-worker buffers of a kernel, where one `allocate`/`deallocate` pair per array was written
/// out each time.
///
///     let scratch = ScratchBuffers<Float>(counts: [4 * d, d])
///     defer { scratch.deallocate() }
///     let (carry, extra) = (scratch[0], scratch[1])
struct ScratchBuffers<S: ScanScalar> {
    private let base: UnsafeMutableRawPointer
    private let offsets: [Int]

    /// Allocates the arrays (uninitialised; an empty one still gets a distinct pointer).
    init(counts: [Int]) {
        let line = 64
        var offsets: [Int] = []
        var bytes = 0
        for count in counts {
            offsets.append(bytes)
            bytes += (max(1, count) * MemoryLayout<S>.stride + line - 1) / line * line
        }
        base = .allocate(byteCount: max(line, bytes), alignment: line)
        self.offsets = offsets
    }

    /// Array `i`.
    subscript(i: Int) -> UnsafeMutablePointer<S> {
        (base + offsets[i]).assumingMemoryBound(to: S.self)
    }

    /// Frees every array.
    func deallocate() { base.deallocate() }
}
