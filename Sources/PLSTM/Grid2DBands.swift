import ParallelScan
import Synchronization

extension GridGates {
    /// The row-band pipeline of ``tiledWavefront(input:stateSize:schedule:pool:trace:)``
    /// (``TiledWavefrontSchedule/Layout/rowBands``): band K (rows split evenly, one band per
    /// worker) sweeps its rows in tiles of `c` columns, left to right, tile t once band K − 1 has
    /// published that it finished tile t. R entering a band from the left lives in one padded
    /// row per band, private to its worker; D entering tile t from above in one padded row per
    /// tile, written by band K − 1 and then read and rewritten in place by band K.
    ///
    /// A band is a contiguous range of every plane (x, y, the nine gates), so each worker walks
    /// its own pages once and the next tile's lines sit in pages the worker already uses; with
    /// `ahead` > 0 the lines of tile t + `ahead` (x and the gates for reading, y for writing) are
    /// prefetched before tile t is swept. The fill costs p − 1 tiles of bandRows·c nodes.
    ///
    /// Every node is swept once by the wavefront's kernel: the output is bitwise
    /// ``wavefront(input:stateSize:)``'s.
    func rowBandWavefront(
        input: [S], stateSize d: Int, bands requested: Int, schedule: TiledWavefrontSchedule, pool: WorkerPool,
        trace: TiledWavefrontTrace?
    ) -> [S] {
        let (height, width) = (self.height, self.width)
        let bands = max(1, min(height, requested))
        let c = schedule.columns(width: width, bands: bands)
        let tiles = (width + c - 1) / c
        let (pause, ahead) = (schedule.pause, schedule.prefetchRows)
        var y = [S](unsafeUninitializedCapacity: height * width * d) { _, count in count = height * width * d }
        let rowsIn = PaddedSlots<S>(slots: bands, count: (height + bands - 1) / bands * d, repeating: 0)
        let columnsIn = PaddedSlots<S>(slots: tiles, count: c * d, repeating: 0)
        defer {
            rowsIn.deallocate()
            columnsIn.deallocate()
        }
        let done = ProgressCounters(strips: bands)
        defer { done.free() }
        if let trace {
            trace.strips = bands
            trace.origin = TiledWavefrontTrace.now()
        }
        withGatePointers { gp in
            input.withUnsafeBufferPointer { xb in
                y.withUnsafeMutableBufferPointer { yb in
                    let x = UnsafeSendable(xb.baseAddress!)
                    let out = UnsafeMutableSendable(yb.baseAddress!)
                    pool.forEach(bands) { k in
                        let record = trace.flatMap { k < $0.capacity ? $0.slots[k] : nil }
                        let origin = trace?.origin ?? 0
                        if let record { record[0] = TiledWavefrontTrace.now() &- origin }
                        let rows = ChunkPlan.evenRange(index: k, of: bands, total: height)
                        let left = rowsIn[k]
                        // Tiles band K − 1 is known to have finished (read again only on catching up).
                        var seen = k == 0 ? tiles : 0
                        var waited: UInt64 = 0
                        for t in 0..<tiles {
                            if seen <= t {
                                let since = record == nil ? 0 : TiledWavefrontTrace.now()
                                seen = waitUntil(done[k - 1].pointee, exceeds: t, pause: pause)
                                if record != nil { waited &+= TiledWavefrontTrace.now() &- since }
                            }
                            if ahead > 0 && t + ahead < tiles {
                                let next = ((t + ahead) * c)..<min(width, (t + ahead + 1) * c)
                                gp.prefetchTile(rows: rows, cols: next, lanes: d, x: x.base, y: out.base)
                            }
                            if let record, t == 0 { record[1] = TiledWavefrontTrace.now() &- origin }
                            let top = columnsIn[t]
                            gp.sweep(
                                rows: rows, cols: (t * c)..<min(width, (t + 1) * c), lanes: d,
                                leftIn: UnsafePointer(left), topIn: UnsafePointer(top), x: x.base, rightOut: left,
                                bottomOut: top, y: out.base)
                            done[k].pointee.store(t + 1, ordering: .releasing)
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
