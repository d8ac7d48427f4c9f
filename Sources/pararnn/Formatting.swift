import Foundation

// The CLI's number, size and duration formatting, in one place so that every summary, error
// message and progress line writes a value the same way.

/// `duration` in seconds.
func seconds(_ duration: Duration) -> Double {
    let (s, attoseconds) = duration.components
    return Double(s) + Double(attoseconds) * 1e-18
}

/// A number in short scientific notation with `significant` digits (`%.3g`: 3.2e-07, 0.125);
/// non-finite values as Swift writes them (nan, inf).
///
///     format(0.000_123_45)                   // "0.000123"
///     format(1234.5, significant: 4)         // "1234"
func format(_ x: Double, significant: Int = 3) -> String {
    x.isFinite ? String(format: "%.\(significant)g", x) : "\(x)"
}

/// A number with a fixed count of decimals: `fixed(2.345, 1)` is "2.3".
func fixed(_ x: Double, _ decimals: Int) -> String {
    String(format: "%.\(decimals)f", x)
}

/// `123.4 MiB`-style text (powers of 1024).
func formatBytes(_ bytes: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}

/// A count in short form: 9999, 12.3k, 4.56M, 1.20G.
func formatCount(_ n: Int) -> String {
    switch n {
    case ..<10_000: return "\(n)"
    case ..<1_000_000: return String(format: "%.1fk", Double(n) / 1e3)
    case ..<1_000_000_000: return String(format: "%.2fM", Double(n) / 1e6)
    default: return String(format: "%.2fG", Double(n) / 1e9)
    }
}

/// A duration for a person: "4.2 s", "3 min 07 s", "2 h 05 min".
func formatDuration(_ s: Double) -> String {
    if s < 60 { return String(format: "%.1f s", s) }
    if s < 3600 { return String(format: "%d min %02d s", Int(s) / 60, Int(s) % 60) }
    return String(format: "%d h %02d min", Int(s) / 3600, (Int(s) % 3600) / 60)
}
