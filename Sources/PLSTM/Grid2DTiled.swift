import ParallelScan
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

extension GridGates {
    /// Parallel wavefront in row bands: the fastest exact evaluation on a multicore CPU.
    ///
    /// The rows are cut into bands of `blockRows` rows and the columns into blocks of `blockColumns`;
    /// tile (K, B) (band K, column block B) needs the right-edge states leaving tile (K, B−1) and
    /// the down-edge states leaving tile (K−1, B). Workers take the bands in order, one at a time
    /// as they come free, and sweep a band block by block from the left, each block as soon as
    /// the band above has published that it finished that block: a pipeline in which every band
    /// runs at least one block behind the band above. Boundary states live in one buffer per grid
    /// row (R entering from the left, private to the band sweeping that row) and one per grid
    /// column (D entering from above, handed from band to band down the grid), updated in place.
    ///
    /// Why bands of whole rows and not one column strip per worker: each node reads nine gate
    /// planes, x and y at `[H][W]` strides, so a sweep along a narrow strip starts eleven memory
    /// streams (and their pages) again every few nodes; measured, 32-column strips cost 4–8× a
    /// full-width sweep per node (88 vs 23 ns on the 16-core VM). A band sweeps its rows across the
    /// whole width, as the sequential wavefront does, and only the column boundary buffer moves
    /// between cores.
    ///
    /// Work is the wavefront's O(H·W·d): every node is swept once, by the same kernel, so the
    /// result is bitwise that of ``wavefront(input:stateSize:)`` whatever the bands, blocks and
    /// workers. The depth is H/`blockRows` + p − 1 band blocks, not logarithmic (contrast
    /// ``hierarchical(input:stateSize:leafSize:pool:)``, whose transfer operators cost
    /// O(H·W·max(H, W)) work); a band needs W/`blockColumns` ≥ p so that the band p rows further
    /// down never waits at the start of its sweep.
    ///
    /// Bands are taken in increasing order and each depends only on the band above, which was
    /// taken earlier and is being swept: the evaluation never deadlocks, however few of the
    /// pool's threads run at once. Workers wait by spinning on an atomic counter (yielding the
    /// core after a while), so the pool's threads should not outnumber the cores.
    ///
    /// ```swift
    /// let y = try gates.tiledWavefront(input: x, stateSize: 16, pool: WorkerPool(threadCount: 16))
    /// ```
    ///
    /// - Parameters:
    ///   - input: x, `[H][W][d]`.
    ///   - stateSize: d.
    ///   - blockRows: rows per band (≥ 1); nil: one.
    ///   - blockColumns: columns per pipeline block (≥ 1); nil: W/(2·workers), 16…256.
    ///   - pool: the workers (``tiledWavefrontWorkers(stateSize:pool:)`` of them).
    /// - Returns: y, `[H][W][d]`.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func tiledWavefront(
        input: [S], stateSize d: Int, blockRows: Int? = nil, blockColumns: Int? = nil, pool: WorkerPool = .shared
    ) throws(PLSTMError) -> [S] {
        try check()
        if d < 1 { throw .invalidStateSize(d) }
        if let blockRows, blockRows < 1 { throw .invalidSize("block of \(blockRows) rows") }
        if let blockColumns, blockColumns < 1 { throw .invalidSize("block of \(blockColumns) columns") }
        try checkCount("input", input.count, height * width * d)
        let (height, width) = (self.height, self.width)
        let workers = tiledWavefrontWorkers(stateSize: d, pool: pool)
        // One worker is the plain wavefront: no bands, no progress counters.
        if workers == 1 && blockRows == nil && blockColumns == nil {
            return try wavefront(input: input, stateSize: d)
        }
        let band = min(height, blockRows ?? 1)
        let bands = (height + band - 1) / band
        let columns = min(width, blockColumns ?? max(16, min(256, width / (2 * workers))))
        let blocks = (width + columns - 1) / columns
        // Every node's output is written by a sweep: no zero-filling pass.
        var y = [S](unsafeUninitializedCapacity: height * width * d) { _, count in count = height * width * d }
        // R entering each grid row from the left, D entering each grid column from above.
        let boundary = UnsafeMutablePointer<S>.allocate(capacity: (height + width) * d)
        boundary.initialize(repeating: 0, count: (height + width) * d)
        defer { boundary.deallocate() }
        let rowsIn = UnsafeMutableSendable(boundary)
        let columnsIn = UnsafeMutableSendable(boundary + height * d)
        let progress = BandProgress(slots: 2 * workers + 1)
        defer { progress.free() }
        withGatePointers { gp in
            input.withUnsafeBufferPointer { xb in
                y.withUnsafeMutableBufferPointer { yb in
                    let x = UnsafeSendable(xb.baseAddress!)
                    let out = UnsafeMutableSendable(yb.baseAddress!)
                    pool.forEach(workers) { _ in
                        while true {
                            let k = progress.claim()
                            if k >= bands { break }
                            let rows = (k * band)..<min(height, (k + 1) * band)
                            let left = rowsIn.base + rows.lowerBound * d
                            var known = 0
                            for b in 0..<blocks {
                                // Band k − 1 must have finished block b: its counter reads
                                // (k − 1)·blocks + (blocks finished), monotone across the bands
                                // that share its slot.
                                if k > 0 && known < b + 1 {
                                    known = progress.wait(band: k - 1, blocks: blocks, reaches: b + 1)
                                }
                                let cols = (b * columns)..<min(width, (b + 1) * columns)
                                let top = columnsIn.base + cols.lowerBound * d
                                gp.sweep(
                                    rows: rows, cols: cols, lanes: d, leftIn: UnsafePointer(left),
                                    topIn: UnsafePointer(top), x: x.base, rightOut: left,
                                    bottomOut: top, y: out.base)
                                progress.publish(band: k, blocks: blocks, finished: b + 1)
                            }
                        }
                    }
                }
            }
        }
        return y
    }
}

extension GridGates {
    /// The number of workers ``tiledWavefront(input:stateSize:blockRows:blockColumns:pool:)``
    /// uses: at most one per row and per 8 columns, and what ``WorkerCount``'s model says
    /// pays for a node that streams nine gate scalars, x and y (d each) and does about 15·d lane
    /// operations (vectorised over the d lanes); 1 means the plain wavefront.
    public func tiledWavefrontWorkers(stateSize d: Int, pool: WorkerPool) -> Int {
        let size = Double(MemoryLayout<S>.stride)
        let lanes = Double(max(1, d))
        let cost = ParallelCost.split(
            bytes: (9 + 3 * lanes) * size, operations: 15 * lanes * size / 32, stages: 8 * pool.threadCount)
        return WorkerCount.workers(
            steps: height * width, cost: cost, pool: pool, limit: min(height, width / 8))
    }
}

/// The bands' progress: which band comes next, and for each band in flight how many column
/// blocks it has finished — in a ring of padded slots, band k in slot k mod `slots`, holding
/// k·blocks + (blocks finished) so that values only grow. With `slots` greater than the number of
/// workers, a band is finished before the band `slots` further down can start (at most one band
/// per worker is in flight, and a band never finishes before the band above it).
struct BandProgress: @unchecked Sendable {
    /// Counters 128 bytes apart (no two on one cache line or adjacent-line prefetch pair).
    static let stride = 16
    let slots: Int
    let counters: UnsafeMutablePointer<Atomic<Int>>
    let next: UnsafeMutablePointer<Atomic<Int>>

    init(slots: Int) {
        self.slots = slots
        counters = .allocate(capacity: slots * Self.stride)
        for i in 0..<(slots * Self.stride) { (counters + i).initialize(to: Atomic(0)) }
        next = .allocate(capacity: 1)
        next.initialize(to: Atomic(0))
    }

    func free() {
        _ = counters.deinitialize(count: slots * Self.stride)
        counters.deallocate()
        _ = next.deinitialize(count: 1)
        next.deallocate()
    }

    /// The next band to sweep (bands are handed out in increasing order).
    @inline(__always)
    func claim() -> Int { next.pointee.wrappingAdd(1, ordering: .relaxed).oldValue }

    /// Publishes (release) that `band` finished `finished` of its `blocks` column blocks.
    @inline(__always)
    func publish(band: Int, blocks: Int, finished: Int) {
        counters[(band % slots) * Self.stride].store(band * blocks + finished, ordering: .releasing)
    }

    /// Spins until `band` has finished `target` blocks (acquire); returns how many it had finished
    /// when seen, so a worker that lags far behind reads the counter once for many blocks.
    @inline(__always)
    func wait(band: Int, blocks: Int, reaches target: Int) -> Int {
        let counter = counters + (band % slots) * Self.stride
        let base = band * blocks
        var spins = 0
        while true {
            let seen = counter.pointee.load(ordering: .acquiring) - base
            if seen >= target { return min(seen, blocks) }
            spins += 1
            if spins > 2_000 {
                #if canImport(Glibc)
                    sched_yield()
                #endif
                spins = 0
            }
        }
    }
}
