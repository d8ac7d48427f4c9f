import ArgumentParser
import Foundation
import ParaRNN
import ParallelScan
import SequenceIO

/// One-time work of the Swift runtime, done on an idle core while the main thread starts.
///
/// The first use of a type in a dynamic cast, in reflection or as a generic argument makes the
/// runtime look up its protocol conformances by scanning every conformance record of the
/// binary (about 6,000; tens of microseconds a lookup), once per process. A `pararnn solve`
/// pays that on its main thread, in turn: ArgumentParser reflects `Solve` and its option
/// groups, and the summary formats numbers and enums through `String(format:)` and string
/// interpolation. Measured on the 2-core VM (ParaGRU d = 4, T = 10⁶, `perf`), about 2/3 of
/// the summary's 1.2 ms and half of the argument parsing were those lookups. Dispatch's
/// worker threads are started here too, before the solver's first parallel pass asks for them.
///
/// ``start(arguments:)`` runs the same lookups on a thread of their own as the process starts;
/// the main thread then finds them in the runtime's caches (which are thread-safe), and where
/// it gets there first it looks them up itself, as before. Nothing is printed or written and
/// nothing the command computes depends on it: it only moves work to a core that is idle at
/// that time, for every method alike. Skipped on a single core, where it could only compete.
enum StartupWarmup {
    /// Starts the warm-up for `solve` (the first argument after the program name).
    static func start(arguments: [String]) {
        guard arguments.count > 1, arguments[1] == "solve", ProcessInfo.processInfo.activeProcessorCount > 1
        else { return }
        let thread = Thread { run() }
        thread.name = "pararnn.warmup"
        thread.start()
    }

    private static func run() {
        // Dispatch's worker threads, which the solver's passes use (created on first use).
        DispatchQueue.concurrentPerform(iterations: 2) { _ in }
        // The argument set of `solve` (reflection of every option and option group).
        _ = Solve.helpMessage(columns: 80)
        // The segment plan's cache size (sysfs, read once per process).
        _ = SegmentPlan.lastLevelCacheBytes
        // The summary's formatting: `String(format:)` with each argument type, and the enums,
        // arrays and metatypes it interpolates.
        _ = milliseconds(0.001) + format(1.5) + fixed(2.5, 1) + formatBytes(3 << 20)
        _ = "key".padding(toLength: 11, withPad: " ", startingAt: 0)
        _ = "\(SolverMethod.newton) \(MethodOption.automatic) \(Precision.float) \(ScalarType.float32)"
        _ = "\([1, 2]) \(Float.self) \(Double.self) \(1.5) \(true)"
    }
}
