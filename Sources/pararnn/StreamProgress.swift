import Foundation

/// A progress bar on stderr for a streamed solve, drawn only when stderr is a terminal:
///
///     [██████████░░░░░░░░░░]  52% · 5.20M/10.0M steps · 8.31M steps/s · ETA 0.6 s
///
/// Redrawn at most ten times a second; ``finish()`` erases it.
final class StreamProgress {
    let total: Int
    private let start = ContinuousClock.now
    private var lastDraw: ContinuousClock.Instant?
    private var shown = false

    init(total: Int) { self.total = total }

    /// `done` of ``total`` steps are solved and written.
    func update(done: Int) {
        let now = ContinuousClock.now
        if let lastDraw, now - lastDraw < .milliseconds(100), done < total { return }
        lastDraw = now
        let elapsed = seconds(now - start)
        Console.raw("\r\u{1B}[K" + Self.line(done: done, total: total, elapsed: elapsed))
        shown = true
    }

    func finish() {
        if shown { Console.raw("\r\u{1B}[K") }
        shown = false
    }

    /// The bar's text for `done` of `total` steps after `elapsed` seconds.
    static func line(done: Int, total: Int, elapsed: Double) -> String {
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        let width = 20
        let full = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: full) + String(repeating: "░", count: width - full)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        var text = "[\(bar)] \(String(format: "%3d", Int(fraction * 100)))% · \(count(done))/\(count(total)) steps"
        if rate > 0 {
            text += " · \(count(Int(rate))) steps/s"
            text += " · ETA " + duration(Double(total - done) / rate)
        }
        return text
    }

    static func count(_ n: Int) -> String {
        switch n {
        case ..<10_000: return "\(n)"
        case ..<1_000_000: return String(format: "%.1fk", Double(n) / 1e3)
        case ..<1_000_000_000: return String(format: "%.2fM", Double(n) / 1e6)
        default: return String(format: "%.2fG", Double(n) / 1e9)
        }
    }

    static func duration(_ s: Double) -> String {
        if s < 60 { return String(format: "%.1f s", s) }
        if s < 3600 { return String(format: "%d min %02d s", Int(s) / 60, Int(s) % 60) }
        return String(format: "%d h %02d min", Int(s) / 3600, (Int(s) % 3600) / 60)
    }
}
