import Foundation

/// A progress bar on standard error: on a terminal one line redrawn with `\r`; otherwise (logs,
/// CI) a plain line at every 10 % step. Both show the throughput of this run (cases per second,
/// not counting cases already done when it started, e.g. on resume) and the estimated time left.
///
///     let bar = ProgressBar(total: 100, alreadyDone: 40)
///     bar.update(done: 41, label: "elman/newton/…")
///     // [##############----------------] 41/100 0.5 s, 2.0 cases/s, ETA 30 s  elman/newton/…
public final class ProgressBar: @unchecked Sendable {
    let total: Int
    let alreadyDone: Int
    let interactive: Bool
    let width = 30
    var lastDecile = -1
    let start = ContinuousClock.now
    let sink: @Sendable (String) -> Void

    /// - Parameters:
    ///   - interactive: redraw one line with `\r` (default: whether stderr is a terminal).
    ///   - sink: where the text goes (default: standard error).
    public init(
        total: Int, alreadyDone: Int = 0, interactive: Bool = isatty(STDERR_FILENO) != 0,
        sink: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }
    ) {
        self.total = max(total, 1)
        self.alreadyDone = alreadyDone
        self.interactive = interactive
        self.sink = sink
    }

    /// Records that `done` cases are finished, the last being `label`.
    public func update(done: Int, label: String) {
        let fraction = Double(done) / Double(total)
        let elapsed = seconds(ContinuousClock.now - start)
        let r = done > alreadyDone && elapsed > 0 ? Double(done - alreadyDone) / elapsed : nil
        let rate = r.map { fmt($0, $0 >= 10 ? 0 : $0 >= 1 ? 1 : 2) } ?? "–"
        let left = done >= total ? "0 s" : r.map { ProgressBar.duration(Double(total - done) / $0) } ?? "–"
        if interactive {
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            let text = "\r[\(bar)] \(done)/\(total) \(fmt(elapsed, 1)) s, \(rate) cases/s, ETA \(left)  \(label)"
            write(text.padding(toLength: max(text.count, 120), withPad: " ", startingAt: 0))
            if done >= total { write("\n") }
        } else {
            let decile = Int(fraction * 10)
            if decile > lastDecile {
                lastDecile = decile
                write(
                    "harness: \(done)/\(total) cases (\(decile * 10) %), \(fmt(elapsed, 1)) s, \(rate) cases/s, ETA \(left)\n"
                )
            }
        }
    }

    func write(_ text: String) { sink(text) }

    /// A duration in words: "42 s", "12 min 5 s", "3 h 20 min".
    public static func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        if t < 60 { return "\(t) s" }
        if t < 3600 { return "\(t / 60) min \(t % 60) s" }
        return "\(t / 3600) h \(t % 3600 / 60) min"
    }
}
