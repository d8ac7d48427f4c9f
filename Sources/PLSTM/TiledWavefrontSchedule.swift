import Dispatch
import ParallelScan

/// How ``GridGates/tiledWavefront(input:stateSize:blockRows:pool:)`` runs its pipeline of
/// column strips: the knobs a benchmark compares on a many-core machine. Every schedule sweeps
/// every node once with the sequential wavefront's kernel, so all give the same output, bitwise.
///
/// With p strips and blocks of b rows, strip J may sweep block k once strip J − 1 has finished
/// it; the run takes about (H/b + p − 1) block times, so the pipeline's fill and drain cost
/// (p − 1)·b rows of one strip, and every block costs one look at the left neighbour's progress
/// counter (a cache line written by another core) when the strip has caught up with it.
///
/// ```swift
/// // Row blocks of 2 rows, PAUSE in the spin-wait, gate lines prefetched 2 rows ahead.
/// let schedule = TiledWavefrontSchedule(blockRows: 2, pause: true, prefetchRows: 2)
/// let y = try gates.tiledWavefront(input: x, stateSize: 16, schedule: schedule, pool: pool)
/// ```
package struct TiledWavefrontSchedule: Sendable, Equatable, CustomStringConvertible {
    /// Rows per pipeline block (≥ 1); nil: ``defaultBlockRows(height:strips:)``.
    package var blockRows: Int?
    /// Column strips (workers); nil: the cost model's ``GridGates/tiledWavefrontWorkers(stateSize:pool:)``.
    package var strips: Int?
    /// Whether a strip waiting for its left neighbour spins with PAUSE (``spinPause()``).
    package var pause: Bool
    /// Rows ahead whose lines (x and the gates for reading, y for writing) a strip prefetches
    /// before sweeping a block (0: none): a strip's row segment of one gate plane is W/p
    /// scalars, a line or two, too short a run for the hardware prefetcher.
    package var prefetchRows: Int

    package init(blockRows: Int? = nil, strips: Int? = nil, pause: Bool = true, prefetchRows: Int = 0) {
        self.blockRows = blockRows
        self.strips = strips
        self.pause = pause
        self.prefetchRows = prefetchRows
    }

    /// The schedule ``GridGates/tiledWavefront(input:stateSize:blockRows:pool:)`` runs.
    package static let standard = TiledWavefrontSchedule()

    /// The schedule of the first version: blocks of max(4, H/(8p)) rows, a plain spin.
    package static func firstVersion(height: Int, strips: Int) -> TiledWavefrontSchedule {
        TiledWavefrontSchedule(blockRows: max(4, height / (8 * strips)), pause: false)
    }

    /// Rows per block when none is given: one row for 4 or more strips — the fill then costs
    /// p − 1 rows of a strip, and a strip looks at its neighbour's counter only when it has caught
    /// up (the last value seen is kept) — and H/(8p) rows (at least 4) for 2 and 3 strips,
    /// whose fill is short anyway.
    package static func defaultBlockRows(height: Int, strips: Int) -> Int {
        strips >= 4 ? 1 : max(4, height / (8 * strips))
    }

    /// The rows per block this schedule uses for `height` rows on `strips` strips.
    package func rows(height: Int, strips: Int) -> Int {
        max(1, min(height, blockRows ?? Self.defaultBlockRows(height: height, strips: strips)))
    }

    package var description: String {
        var parts = [blockRows.map { "b\($0)" } ?? "b auto"]
        if let strips { parts.append("s\(strips)") }
        parts.append(pause ? "pause" : "spin")
        if prefetchRows > 0 { parts.append("pf\(prefetchRows)") }
        return parts.joined(separator: " ")
    }
}

/// Per-worker timings of one tiled evaluation, for a benchmark's notes: when each strip's worker
/// started (from the call's start), how long it waited for its left neighbour, and when it ended.
///
/// ```swift
/// let trace = TiledWavefrontTrace(workers: pool.threadCount)
/// _ = try gates.tiledWavefront(input: x, stateSize: 16, schedule: .standard, pool: pool, trace: trace)
/// print(trace.summary)   // ["start max µs": …, "wait mean %": …, …]
/// ```
package final class TiledWavefrontTrace: @unchecked Sendable {
    /// Strips the trace has room for (strips beyond are not recorded).
    package let capacity: Int
    /// Strips of the traced call.
    package var strips = 0
    /// Per strip: start, first sweep, nanoseconds waiting, end (ns from the call's start).
    let slots: PaddedSlots<UInt64>
    /// The call's start (uptime ns).
    var origin: UInt64 = 0

    package init(workers: Int) {
        capacity = max(1, workers)
        slots = PaddedSlots<UInt64>(slots: capacity, count: 4, repeating: 0)
    }

    deinit { slots.deallocate() }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Figures over the strips, in microseconds or per cent of the call: the latest start of a
    /// worker ("start max µs"), the latest first sweep ("first sweep max µs"), the mean and
    /// largest waiting share of a strip's time ("wait mean %", "wait max %"), the mean time a
    /// strip spent sweeping ("busy mean µs", least and most "busy min µs", "busy max µs", and
    /// which strip was busiest, "slowest strip"), the first and last end ("end min µs", "end max µs").
    package var summary: [String: Double] {
        let n = min(strips, capacity)
        if n == 0 { return [:] }
        var starts: [Double] = []
        var firsts: [Double] = []
        var waits: [Double] = []
        var busy: [Double] = []
        var ends: [Double] = []
        for j in 0..<n {
            let row = slots[j]
            let (start, first, wait, end) = (Double(row[0]), Double(row[1]), Double(row[2]), Double(row[3]))
            starts.append(start / 1e3)
            firsts.append(first / 1e3)
            ends.append(end / 1e3)
            waits.append(100 * wait / max(1, end - start))
            busy.append((end - start - wait) / 1e3)
        }
        func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) }
        return [
            "start max µs": starts.max()!, "first sweep max µs": firsts.max()!, "wait mean %": mean(waits),
            "wait max %": waits.max()!, "busy mean µs": mean(busy), "busy max µs": busy.max()!,
            "busy min µs": busy.min()!, "slowest strip": Double(busy.firstIndex(of: busy.max()!)!),
            "end min µs": ends.min()!, "end max µs": ends.max()!,
        ]
    }
}
