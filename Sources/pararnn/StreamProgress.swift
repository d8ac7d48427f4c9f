import Foundation

/// The progress bar of a streamed solve (a ``StatusLine``, drawn only when stderr is a
/// terminal):
///
///     [██████████░░░░░░░░░░]  52% · 5.20M/10.0M steps · 8.31M steps/s · ETA 0.6 s
///
/// Redrawn at most ten times a second; ``finish()`` erases it.
final class StreamProgress {
    let total: Int
    private let start = ContinuousClock.now
    private let line = StatusLine(interval: .milliseconds(100))

    init(total: Int) { self.total = total }

    /// `done` of ``total`` steps are solved and written.
    func update(done: Int) {
        let elapsed = seconds(ContinuousClock.now - start)
        line.show(Self.line(done: done, total: total, elapsed: elapsed), force: done >= total)
    }

    func finish() { line.erase() }

    /// The bar's text for `done` of `total` steps after `elapsed` seconds.
    static func line(done: Int, total: Int, elapsed: Double) -> String {
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        var text =
            "[\(StatusLine.bar(fraction, width: 20))] \(String(format: "%3d", Int(fraction * 100)))% · \(formatCount(done))/\(formatCount(total)) steps"
        if rate > 0 {
            text += " · \(formatCount(Int(rate))) steps/s"
            text += " · ETA " + formatDuration(Double(total - done) / rate)
        }
        return text
    }
}
