import Foundation

/// A progress bar on standard error: on a terminal one line redrawn with `\r`; otherwise (logs,
/// CI) a plain line at every 10 % step.
public final class ProgressBar: @unchecked Sendable {
    let total: Int
    let interactive: Bool
    let width = 30
    var lastDecile = -1
    let start = ContinuousClock.now
    let sink: @Sendable (String) -> Void

    /// - Parameters:
    ///   - interactive: redraw one line with `\r` (default: whether stderr is a terminal).
    ///   - sink: where the text goes (default: standard error).
    public init(
        total: Int, interactive: Bool = isatty(STDERR_FILENO) != 0,
        sink: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }
    ) {
        self.total = max(total, 1)
        self.interactive = interactive
        self.sink = sink
    }

    /// Records that `done` cases are finished, the last being `label`.
    public func update(done: Int, label: String) {
        let fraction = Double(done) / Double(total)
        let elapsed = seconds(ContinuousClock.now - start)
        if interactive {
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            let text = "\r[\(bar)] \(done)/\(total) \(fmt(elapsed, 1)) s  \(label)"
            write(text.padding(toLength: max(text.count, 120), withPad: " ", startingAt: 0))
            if done >= total { write("\n") }
        } else {
            let decile = Int(fraction * 10)
            if decile > lastDecile {
                lastDecile = decile
                write("harness: \(done)/\(total) cases (\(decile * 10) %), \(fmt(elapsed, 1)) s\n")
            }
        }
    }

    func write(_ text: String) { sink(text) }
}
