import Foundation
import PLSTM
import ParallelScan

/// The tiled pLSTM wavefront's extra bench figures: per-worker timings of a traced call in the
/// row's notes, and — with `PARARNN_PLSTM_VARIANTS=1` in the environment — rows for other
/// pipeline schedules (``TiledWavefrontSchedule``) timed against the same sequential baseline,
/// so that one run on a many-core machine compares them.
extension PerformanceSuite {
    /// Whether the bench adds the schedule-variant rows (`PARARNN_PLSTM_VARIANTS` set, not "0").
    static var plstmVariantsRequested: Bool {
        let value = ProcessInfo.processInfo.environment["PARARNN_PLSTM_VARIANTS"] ?? ""
        return !value.isEmpty && value != "0"
    }

    /// Medians over five traced calls of ``TiledWavefrontTrace/summary`` (microseconds from the
    /// call's start, waiting shares in per cent), for the row's notes.
    func tiledTraceNotes(
        gates: GridGates<Float>, input x: [Float], stateSize d: Int, schedule: TiledWavefrontSchedule,
        pool: WorkerPool
    ) -> [String: Double] {
        var figures: [String: [Double]] = [:]
        for _ in 0..<5 {
            let trace = TiledWavefrontTrace(workers: max(pool.threadCount, schedule.strips ?? 1))
            _ = try! gates.tiledWavefront(input: x, stateSize: d, schedule: schedule, pool: pool, trace: trace)
            for (key, value) in trace.summary { figures[key, default: []].append(value) }
        }
        return figures.mapValues { PairedTiming.median($0) }
    }

    /// The schedules compared with the library's on `threads` threads of a `side`-row grid: the
    /// first version (blocks of max(4, H/(8p)) rows, plain spin), one-row blocks with a plain
    /// spin, two-row blocks, and one strip fewer than threads. Measured on the 16-core VM (device result 1, 16 threads): standard 0.93 ms, one-row
    /// plain spin 1.03, first version 1.22; prefetching 2–8 rows ahead 1.12–1.18, half the strips
    /// 1.34, one band of rows per worker (removed) 1.59–2.08.
    static func tiledVariants(side: Int, threads: Int) -> [TiledWavefrontSchedule] {
        [
            .firstVersion(height: side, strips: threads), TiledWavefrontSchedule(blockRows: 1, pause: false),
            TiledWavefrontSchedule(blockRows: 2, pause: true),
            TiledWavefrontSchedule(blockRows: 1, strips: max(1, threads - 1), pause: true),
        ]
    }

    /// Rows "plstm 2D tiled wavefront [schedule]" for every variant at 4 or more threads, each
    /// timed interleaved with the sequential wavefront; at 1 thread, the strips of the largest
    /// thread count swept one after another (the strip layout's cost without any other worker).
    func tiledVariantRows(
        gates: GridGates<Float>, input x: [Float], stateSize d: Int, side: Int, baseline: () -> Void,
        _ emit: (BenchmarkResult) -> Void
    ) {
        let widest = threadCounts.max() ?? 1
        for threads in threadCounts where threads >= 4 || (threads == 1 && widest > 1) {
            let pool = WorkerPool(threadCount: threads)
            let layouts = ProcessInfo.processInfo.environment["PARARNN_PLSTM_VARIANTS"] == "layout"
            if layouts && threads != 1 { continue }
            let schedules =
                layouts
                ? [2, 4, 8, 16].flatMap { strips in
                    [
                        TiledWavefrontSchedule(blockRows: 1, strips: strips),
                        TiledWavefrontSchedule(blockRows: 32, strips: strips),
                    ]
                }
                : threads == 1
                    ? [
                        TiledWavefrontSchedule(strips: widest),
                        TiledWavefrontSchedule(strips: widest, prefetchRows: 4),
                    ] : Self.tiledVariants(side: side, threads: threads)
            for schedule in schedules {
                let timing = PairedTiming.measure(
                    minimumSamples: max(9, repetitions), minimumSeconds: 0.5, baseline: baseline,
                    candidate: { _ = try! gates.tiledWavefront(input: x, stateSize: d, schedule: schedule, pool: pool) }
                )
                var notes = tiledTraceNotes(gates: gates, input: x, stateSize: d, schedule: schedule, pool: pool)
                notes["workers"] = Double(
                    schedule.strips ?? gates.tiledWavefrontWorkers(stateSize: d, pool: pool))
                emit(
                    pairedResult(
                        "plstm 2D tiled wavefront [\(schedule)]", shape: "\(side)x\(side) d=\(d)", threads: threads,
                        timing: timing, baseline: "sequential wavefront", notes: notes))
            }
        }
    }
}
