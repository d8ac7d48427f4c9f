import ParallelScan
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

extension GridGates {
    /// Parallel wavefront in column strips: the fastest exact evaluation on a multicore CPU.
    ///
    /// The columns are split into one strip per worker, the rows into blocks of `blockRows`.
    /// Tile (I, J) (row block I of strip J) needs the right-edge states leaving tile (I, J−1)
    /// and the down-edge states leaving tile (I−1, J), so worker J sweeps its strip block by
    /// block, each block as soon as worker J−1 has published that it finished the same block: a
    /// pipeline, J blocks behind the first worker. Boundary states live in one buffer per grid
    /// row (R entering from the left, handed from strip to strip) and one per grid column (D
    /// entering from above, private to its strip), updated in place; each row block's and each
    /// strip's boundary sits on its own cache lines.
    ///
    /// Work is the wavefront's O(H·W·d): every node is swept once, by the same kernel, so the
    /// result is bitwise that of ``wavefront(input:stateSize:)``. The depth is H/b + p − 1
    /// blocks, not logarithmic (contrast ``hierarchical(input:stateSize:leafSize:pool:)``,
    /// whose transfer operators cost O(H·W·max(H, W)) work); the speedup approaches p when the
    /// strips are wide and H/b ≫ p. Strips stay as wide as possible because each node reads nine
    /// gate planes and x, y: long contiguous runs per row keep those streams prefetched.
    ///
    /// Workers wait for their left neighbour by spinning on an atomic counter (PAUSE between
    /// reads, yielding the core after a while), so the pool's threads should not outnumber the
    /// cores. A worker keeps the last count it read and looks again only once it has caught up,
    /// so with 4 or more strips the blocks are single rows (``TiledWavefrontSchedule``): the
    /// pipeline fills in p − 1 rows of a strip instead of p − 1 blocks.
    ///
    /// - Parameters:
    ///   - input: x, `[H][W][d]`.
    ///   - stateSize: d.
    ///   - blockRows: rows per pipeline block (≥ 1); nil picks one row for 4 or more strips,
    ///     H/(8·strips) rows (at least 4) for 2 or 3.
    ///   - pool: the workers (one strip each, at most W/16 strips).
    /// - Returns: y, `[H][W][d]`.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func tiledWavefront(
        input: [S], stateSize d: Int, blockRows: Int? = nil, pool: WorkerPool = .shared
    ) throws(PLSTMError) -> [S] {
        var schedule = TiledWavefrontSchedule.standard
        schedule.blockRows = blockRows
        return try tiledWavefront(input: input, stateSize: d, schedule: schedule, pool: pool)
    }

    /// ``tiledWavefront(input:stateSize:blockRows:pool:)`` on an explicit schedule, optionally
    /// timing each strip's worker (`trace`).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    package func tiledWavefront(
        input: [S], stateSize d: Int, schedule: TiledWavefrontSchedule, pool: WorkerPool,
        trace: TiledWavefrontTrace? = nil
    ) throws(PLSTMError) -> [S] {
        try check()
        if d < 1 { throw .invalidStateSize(d) }
        if let blockRows = schedule.blockRows, blockRows < 1 { throw .invalidSize("block of \(blockRows) rows") }
        if let strips = schedule.strips, strips < 1 { throw .invalidSize("\(strips) strips") }
        try checkCount("input", input.count, height * width * d)
        let (height, width) = (self.height, self.width)
        let strips = min(width, schedule.strips ?? tiledWavefrontWorkers(stateSize: d, pool: pool))
        // One strip is the plain wavefront: no row blocks, no progress counters.
        if strips == 1 && schedule.blockRows == nil && trace == nil {
            return try wavefront(input: input, stateSize: d)
        }
        let block = schedule.rows(height: height, strips: strips)
        let blocks = (height + block - 1) / block
        let (pause, ahead) = (schedule.pause, schedule.prefetchRows)
        // Every node's output is written by a sweep: no zero-filling pass.
        var y = [S](unsafeUninitializedCapacity: height * width * d) { _, count in count = height * width * d }
        // R entering each grid row from the left, a padded row per block of grid rows (strip J
        // updates block b at every node while strip J + 1 updates block b − 1); D entering each
        // grid column from above, a padded row per strip. Neighbouring strips never write one
        // cache line (``PaddedSlots``).
        let rowsIn = PaddedSlots<S>(slots: blocks, count: block * d, repeating: 0)
        let columnsIn = PaddedSlots<S>(slots: strips, count: (width + strips - 1) / strips * d, repeating: 0)
        defer {
            rowsIn.deallocate()
            columnsIn.deallocate()
        }
        // done[J] = row blocks strip J has finished, each counter on its own cache lines.
        let done = ProgressCounters(strips: strips)
        defer { done.free() }
        if let trace {
            trace.strips = strips
            trace.origin = TiledWavefrontTrace.now()
        }
        withGatePointers { gp in
            input.withUnsafeBufferPointer { xb in
                y.withUnsafeMutableBufferPointer { yb in
                    let x = UnsafeSendable(xb.baseAddress!)
                    let out = UnsafeMutableSendable(yb.baseAddress!)
                    pool.forEach(strips) { j in
                        let record = trace.flatMap { j < $0.capacity ? $0.slots[j] : nil }
                        let origin = trace?.origin ?? 0
                        if let record { record[0] = TiledWavefrontTrace.now() &- origin }
                        let cols = ChunkPlan.evenRange(index: j, of: strips, total: width)
                        let top = columnsIn[j]
                        // Blocks strip J − 1 is known to have finished: the counter is read
                        // again only when strip J has caught up with the last value seen.
                        var seen = j == 0 ? blocks : 0
                        var waited: UInt64 = 0
                        for b in 0..<blocks {
                            if seen <= b {
                                let since = record == nil ? 0 : TiledWavefrontTrace.now()
                                seen = waitUntil(done[j - 1].pointee, exceeds: b, pause: pause)
                                if record != nil { waited &+= TiledWavefrontTrace.now() &- since }
                            }
                            let rows = (b * block)..<min(height, (b + 1) * block)
                            if ahead > 0 {
                                let last = min(height, rows.upperBound + ahead)
                                gp.prefetchTile(
                                    rows: min(last, rows.lowerBound + ahead)..<last, cols: cols, lanes: d, x: x.base,
                                    y: out.base)
                            }
                            if let record, b == 0 { record[1] = TiledWavefrontTrace.now() &- origin }
                            let left = rowsIn[b]
                            gp.sweep(
                                rows: rows, cols: cols, lanes: d, leftIn: UnsafePointer(left),
                                topIn: UnsafePointer(top), x: x.base, rightOut: left,
                                bottomOut: top, y: out.base)
                            done[j].pointee.store(b + 1, ordering: .releasing)
                        }
                        if let record {
                            record[2] = waited
                            record[3] = TiledWavefrontTrace.now() &- origin
                        }
                    }
                }
            }
        }
        return y
    }
}

extension GridGates {
    /// The number of column strips (workers) ``tiledWavefront(input:stateSize:blockRows:pool:)``
    /// uses: at most one per 16 columns, and what ``WorkerCount``'s model says pays for a node
    /// that streams nine gate scalars, x and y (d each) and does about 15·d lane operations
    /// (vectorised over the d lanes); 1 means
    /// the plain wavefront.
    public func tiledWavefrontWorkers(stateSize d: Int, pool: WorkerPool) -> Int {
        let size = Double(MemoryLayout<S>.stride)
        let lanes = Double(max(1, d))
        let cost = ParallelCost.split(
            bytes: (9 + 3 * lanes) * size, operations: 15 * lanes * size / 32, stages: 8 * pool.threadCount)
        return WorkerCount.workers(steps: height * width, cost: cost, pool: pool, limit: width / 16)
    }
}

/// Spins until `counter` > `target` (acquire) and returns the value read, with PAUSE between
/// reads when `pause`, yielding the core after a while (more waiters than cores still progress).
@inline(__always)
func waitUntil(_ counter: borrowing Atomic<Int>, exceeds target: Int, pause: Bool) -> Int {
    var spins = 0
    while true {
        let value = counter.load(ordering: .acquiring)
        if value > target { return value }
        if pause { spinPause() }
        spins += 1
        if spins > (pause ? 500 : 2_000) {
            #if canImport(Glibc)
                sched_yield()
            #endif
            spins = 0
        }
    }
}

/// The strips' progress counters, shared by the workers of one evaluation: one per 128 bytes
/// (two cache lines), so a strip publishing its progress does not disturb the neighbour spinning
/// on another strip's counter.
struct ProgressCounters: @unchecked Sendable {
    /// Counters between one strip's and the next's.
    static var stride: Int { 128 / MemoryLayout<Atomic<Int>>.stride }
    let base: UnsafeMutablePointer<Atomic<Int>>
    let strips: Int

    /// `strips` counters at zero.
    init(strips: Int) {
        self.strips = strips
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: max(1, strips) * Self.stride * MemoryLayout<Atomic<Int>>.stride, alignment: 128)
        base = raw.bindMemory(to: Atomic<Int>.self, capacity: max(1, strips) * Self.stride)
        for j in 0..<strips { (base + j * Self.stride).initialize(to: Atomic(0)) }
    }

    /// Strip `j`'s counter.
    subscript(j: Int) -> UnsafeMutablePointer<Atomic<Int>> { base + j * Self.stride }

    func free() {
        for j in 0..<strips { _ = (base + j * Self.stride).deinitialize(count: 1) }
        UnsafeMutableRawPointer(base).deallocate()
    }
}

extension GridGatePointers {
    /// Prefetches the lines of the block `rows × cols`: x and the nine gate planes for reading,
    /// y for writing (`lanes` scalars per node in x and y).
    @inline(__always)
    func prefetchTile(
        rows: Range<Int>, cols: Range<Int>, lanes L: Int, x: UnsafePointer<S>, y: UnsafeMutablePointer<S>
    ) {
        let size = MemoryLayout<S>.stride
        let gateBytes = cols.count * size
        let nodeBytes = cols.count * L * size
        @inline(__always) func read(_ start: UnsafeRawPointer, _ bytes: Int) {
            var offset = 0
            while offset < bytes {
                prefetchForRead(start + offset)
                offset += 64
            }
            prefetchForRead(start + (bytes - 1))
        }
        for i in rows {
            let first = i * width + cols.lowerBound
            read(UnsafeRawPointer(x + first * L), nodeBytes)
            let target = UnsafeRawPointer(y + first * L)
            var offset = 0
            while offset < nodeBytes {
                prefetchForWrite(target + offset)
                offset += 64
            }
            prefetchForWrite(target + (nodeBytes - 1))
            read(UnsafeRawPointer(sr + first), gateBytes)
            read(UnsafeRawPointer(sd + first), gateBytes)
            read(UnsafeRawPointer(rl + first), gateBytes)
            read(UnsafeRawPointer(ru + first), gateBytes)
            read(UnsafeRawPointer(dl + first), gateBytes)
            read(UnsafeRawPointer(du + first), gateBytes)
            read(UnsafeRawPointer(ml + first), gateBytes)
            read(UnsafeRawPointer(mu + first), gateBytes)
            read(UnsafeRawPointer(dd + first), gateBytes)
        }
    }
}
