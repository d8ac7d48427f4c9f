import Foundation

/// The CLI's one progress renderer: a line on stderr (meant for a terminal) rewritten in place
/// with `\r` + erase-line, optionally at most every `interval`, then erased (``erase()``) or kept
/// (``keep()``). Thread-safe: solver callbacks may come from worker threads.
///
///     let line = StatusLine(interval: .milliseconds(100))
///     line.show(StatusLine.bar(0.5, width: 20) + " 50%")
///     line.erase()
final class StatusLine: @unchecked Sendable {
    private let interval: Duration?
    private let lock = NSLock()
    private var lastDraw: ContinuousClock.Instant?
    private var shown = false

    /// - Parameter interval: the shortest time between two redraws (`nil`: every call redraws).
    init(interval: Duration? = nil) { self.interval = interval }

    /// Replaces the line with `text`; skipped if the last redraw is younger than the interval,
    /// unless `force`.
    func show(_ text: String, force: Bool = false) {
        lock.lock()
        defer { lock.unlock() }
        let now = ContinuousClock.now
        if !force, let interval, let lastDraw, now - lastDraw < interval { return }
        lastDraw = now
        Console.raw("\r\u{1B}[K" + text)
        shown = true
    }

    /// Removes the line (the next output starts on a clean line).
    func erase() {
        lock.lock()
        defer { lock.unlock() }
        if shown { Console.raw("\r\u{1B}[K") }
        shown = false
    }

    /// Ends the line with a newline, leaving its last text on screen.
    func keep() {
        lock.lock()
        defer { lock.unlock() }
        if shown { Console.raw("\n") }
        shown = false
    }

    /// A bar of `width` cells, the first `fraction` of them `full`: `██████░░░░`.
    static func bar(_ fraction: Double, width: Int, full: Character = "█", empty: Character = "░") -> String {
        let filled = min(width, max(0, Int(fraction * Double(width))))
        return String(repeating: full, count: filled) + String(repeating: empty, count: width - filled)
    }
}
