/// Compares a report against a baseline report, case by case (matched by ``CaseKey``:
/// cell/method/T/d/B/scale/guess/precision/seed).
///
/// A case is a **regression** (the check fails) if, relative to the baseline case:
/// 1. it converged in the baseline and does not converge now;
/// 2. both converged and it now needs more than `baseline + max(2, ⌈0.25 × baseline⌉)`
///    iterations;
/// 3. both converged and its max abs error vs the sequential rollout exceeds
///    `max(10 × baseline error, 100 × tolerance)` (the floor keeps errors that are pure
///    rounding noise from failing the check), or is NaN/Inf.
///
/// Wall times and speedups are never compared. Cases present on one side only are listed as
/// notes; the check also fails if no case matches at all (nothing was checked).
public struct BaselineCheck: Sendable {
    /// Extra iterations always allowed.
    public static let iterationSlack = 2
    /// Extra iterations allowed as a fraction of the baseline's.
    public static let iterationFraction = 0.25
    /// Allowed growth factor of the error.
    public static let errorFactor = 10.0
    /// Error floor, in multiples of the case's tolerance.
    public static let errorToleranceMultiple = 100.0

    public struct Outcome: Sendable {
        /// One line per regression.
        public var regressions: [String]
        /// Unmatched cases, improvements.
        public var notes: [String]
        /// Cases present in both.
        public var matched: Int
        public var passed: Bool { regressions.isEmpty && matched > 0 }

        /// A human-readable account.
        public var summary: String {
            var lines: [String] = []
            lines.append(
                passed
                    ? "baseline check passed: \(matched) cases matched, no regressions"
                    : matched == 0
                        ? "baseline check FAILED: no case of the baseline was run"
                        : "baseline check FAILED: \(regressions.count) regressions in \(matched) matched cases")
            lines += regressions.map { "  regression: \($0)" }
            lines += notes.map { "  note: \($0)" }
            return lines.joined(separator: "\n")
        }
    }

    /// The iteration limit allowed for a case that took `baseline` iterations.
    public static func allowedIterations(baseline: Int) -> Int {
        let fraction = Int((Double(baseline) * iterationFraction).rounded(.up))
        return baseline + max(iterationSlack, fraction)
    }

    /// The error limit allowed for a case whose baseline error was `baseline`.
    public static func allowedError(baseline: Double, tolerance: Double) -> Double {
        max(errorFactor * baseline, errorToleranceMultiple * tolerance)
    }

    public static func compare(_ report: HarnessReport, baseline: HarnessReport) -> Outcome {
        var old: [CaseKey: CaseResult] = [:]
        for c in baseline.cases { old[c.key] = c }
        var regressions: [String] = []
        var notes: [String] = []
        var matched = 0
        var seen = Set<CaseKey>()
        for now in report.cases {
            seen.insert(now.key)
            guard let before = old[now.key] else {
                notes.append("\(now.key): not in the baseline")
                continue
            }
            matched += 1
            if !before.converged {
                if now.converged { notes.append("\(now.key): converges now (did not in the baseline)") }
                continue
            }
            if !now.converged {
                regressions.append(
                    "\(now.key): converged in the baseline (\(before.iterations) iterations), now does not (\(now.outcome))"
                )
                continue
            }
            let allowed = allowedIterations(baseline: before.iterations)
            if now.iterations > allowed {
                regressions.append(
                    "\(now.key): \(now.iterations) iterations > allowed \(allowed) (baseline \(before.iterations))")
            }
            let limit = allowedError(baseline: before.maxAbsError, tolerance: now.tolerance)
            if !(now.maxAbsError <= limit) {
                regressions.append(
                    "\(now.key): error \(now.maxAbsError) > allowed \(limit) (baseline \(before.maxAbsError))")
            }
        }
        for c in baseline.cases where !seen.contains(c.key) {
            notes.append("\(c.key): in the baseline but not run")
        }
        return Outcome(regressions: regressions, notes: notes, matched: matched)
    }
}
