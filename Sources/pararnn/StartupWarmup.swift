import Foundation
import ParaRNN
import ParallelScan
import SequenceIO

/// One-time work of the process, done on an idle core while the main thread parses the
/// command line.
///
/// - Dispatch's worker threads, which the solver's parallel passes use, are created on first
///   use: started here, they are waiting when the first segment's pass asks for them.
/// - The first use of a type in a dynamic cast or as a generic argument makes the Swift runtime
///   look up its protocol conformances by scanning every conformance record of the binary
///   (about 6,000; tens of microseconds a lookup), once per process. The summary formats
///   numbers and enums through `String(format:)` and string interpolation: about 2/3 of its
///   1.2 ms at the end of a solve were those lookups (2-core VM, ParaGRU d = 4, T = 10⁶,
///   `perf`). They are made here first, and the summary finds them in the runtime's caches.
/// - The segment plan's cache size (sysfs) is read here.
///
/// Measured (2-core VM, `farm-bench -n 60`, T = 1000 Newton solve, whole process): 0.94× the
/// wall time without the warm-up. Warming ArgumentParser's reflection of `Solve` the same way
/// (`Solve.helpMessage()`) made it slower (1.03×): the main thread parses at once and both
/// threads then made the same lookups side by side.
///
/// Nothing is printed or written (no stdio: a thread holding its lock at exit would hang it)
/// and nothing the command computes depends on it; the runtime's caches are thread-safe, and
/// where the main thread gets to a lookup first it makes it itself, as before. It only moves
/// work to a core that is idle at that time, for every method alike. Skipped on one core.
enum StartupWarmup {
    /// Starts the warm-up for `solve` (the first argument after the program name).
    static func start(arguments: [String]) {
        guard arguments.count > 1, arguments[1] == "solve", WorkerPool.activeProcessorCount > 1
        else { return }
        let thread = Thread { run() }
        thread.name = "pararnn.warmup"
        thread.start()
    }

    private static func run() {
        // Dispatch's worker threads, which the solver's passes use (created on first use).
        DispatchQueue.concurrentPerform(iterations: 2) { _ in }
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
