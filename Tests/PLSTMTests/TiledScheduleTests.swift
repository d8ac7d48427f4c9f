import PLSTM
import ParallelScan
import Testing

/// The tiled wavefront's pipeline schedules (row blocks, PAUSE, prefetch, strip count) against
/// the sequential wavefront, bitwise, and the per-worker trace the bench reads.
@Suite("pLSTM tiled schedules")
struct TiledScheduleTests {
    static let schedules: [TiledWavefrontSchedule] = [
        .standard,
        TiledWavefrontSchedule(blockRows: 1, pause: false),
        TiledWavefrontSchedule(blockRows: 2, pause: true),
        TiledWavefrontSchedule(blockRows: 3, pause: true, prefetchRows: 2),
        TiledWavefrontSchedule(blockRows: 1, pause: true, prefetchRows: 5),
        TiledWavefrontSchedule(strips: 1),
        TiledWavefrontSchedule(blockRows: 1, strips: 3),
        TiledWavefrontSchedule(blockRows: 2, strips: 7, prefetchRows: 1),
        .firstVersion(height: 37, strips: 4),
    ]

    @Test("every schedule is bitwise the sequential wavefront (grid tails, 1 to 4 threads, more strips than threads)")
    func bitwise() throws {
        var rng = TestRNG(seed: 71)
        for (h, w, d) in [(1, 1, 1), (37, 53, 3), (5, 100, 2), (64, 64, 16), (100, 5, 4)] {
            let g = try (h + w) % 2 == 0 ? randomGridPMode(h, w, &rng) : randomGridGeneral(h, w, &rng)
            let x = rng.array(h * w * d)
            let reference = try g.wavefront(input: x, stateSize: d)
            for threads in [1, 2, 4] {
                let pool = WorkerPool(threadCount: threads, choice: .allThreads)
                for schedule in Self.schedules {
                    let y = try g.tiledWavefront(input: x, stateSize: d, schedule: schedule, pool: pool)
                    #expect(y == reference, "\(h)×\(w) d=\(d) threads \(threads) \(schedule)")
                }
            }
        }
    }

    @Test("Float, 16 lanes, 16 strips of a 512-column grid on 2 threads: bitwise")
    func benchShapeFloat() throws {
        var rng = TestRNG(seed: 72)
        let (h, w, d) = (24, 512, 16)
        let g = try randomGridPMode(h, w, &rng)
        let gates = try GridGates<Float>.dMode(
            height: h, width: w, sourceRight: g.sourceRight.map(Float.init), sourceDown: g.sourceDown.map(Float.init),
            rightLogits: rng.array(h * w).map(Float.init), downLogits: rng.array(h * w).map(Float.init),
            turnLogits: rng.array(h * w).map(Float.init), markLeft: g.markLeft.map(Float.init),
            markUp: g.markUp.map(Float.init), direct: g.direct.map(Float.init))
        let x = rng.array(h * w * d).map(Float.init)
        let reference = try gates.wavefront(input: x, stateSize: d)
        let pool = WorkerPool(threadCount: 2, choice: .allThreads)
        for schedule in [
            TiledWavefrontSchedule(strips: 16), TiledWavefrontSchedule(blockRows: 1, strips: 16, prefetchRows: 2),
        ] {
            #expect(try gates.tiledWavefront(input: x, stateSize: d, schedule: schedule, pool: pool) == reference)
        }
    }

    @Test("block rows: one row from 4 strips on, H/(8p) (at least 4) below")
    func defaultBlocks() {
        #expect(TiledWavefrontSchedule.defaultBlockRows(height: 512, strips: 16) == 1)
        #expect(TiledWavefrontSchedule.defaultBlockRows(height: 512, strips: 4) == 1)
        #expect(TiledWavefrontSchedule.defaultBlockRows(height: 512, strips: 2) == 32)
        #expect(TiledWavefrontSchedule.defaultBlockRows(height: 40, strips: 3) == 4)
        #expect(TiledWavefrontSchedule.firstVersion(height: 512, strips: 16).blockRows == 4)
        #expect(TiledWavefrontSchedule(blockRows: 9).rows(height: 5, strips: 2) == 5)
    }

    @Test("the trace records every strip: starts before ends, waiting within the strip's time")
    func trace() throws {
        var rng = TestRNG(seed: 73)
        let g = try randomGridPMode(40, 64, &rng)
        let x = rng.array(40 * 64 * 2)
        let trace = TiledWavefrontTrace(workers: 4)
        let y = try g.tiledWavefront(
            input: x, stateSize: 2, schedule: TiledWavefrontSchedule(strips: 4),
            pool: WorkerPool(threadCount: 2, choice: .allThreads), trace: trace)
        #expect(y == (try g.wavefront(input: x, stateSize: 2)))
        #expect(trace.strips == 4)
        let s = trace.summary
        #expect(Set(s.keys).isSuperset(of: ["start max µs", "wait mean %", "busy mean µs", "end max µs"]))
        #expect(s["end max µs"]! >= s["start max µs"]!)
        #expect(s["wait max %"]! >= 0 && s["wait max %"]! <= 100)
    }

    @Test("bad schedules are refused")
    func refused() throws {
        var rng = TestRNG(seed: 74)
        let g = try randomGridPMode(4, 4, &rng)
        let x = rng.array(16)
        #expect(throws: PLSTMError.self) {
            try g.tiledWavefront(input: x, stateSize: 1, schedule: TiledWavefrontSchedule(strips: 0), pool: .serial)
        }
        #expect(throws: PLSTMError.self) {
            try g.tiledWavefront(input: x, stateSize: 1, schedule: TiledWavefrontSchedule(blockRows: 0), pool: .serial)
        }
    }
}
