import Foundation
import ModelIO
import ParaRNN
import ParallelScan

/// How many steps a streamed solve holds in memory at once.
///
/// A segment of n steps needs about n · B · (bytes per step) of buffers: the input rows, and for
/// every layer its projections (≤ 4 gates × d), states, hidden output and, for Newton, the
/// Jacobians, offsets and residual rows (≈ 12 state rows, an upper bound of the engine's
/// buffers). The segment is the smallest of:
/// - the `--max-memory` budget (less a fixed allowance for the program, the model and the
///   per-segment bookkeeping) divided by the bytes per step;
/// - the cache-friendly length: about 8 MiB of buffers per thread, at least 16 MiB and at most
///   half the last-level cache (L3-resident), which makes Newton's passes cheaper than
///   streaming them through memory while the per-segment fixed cost (thread fork/join per pass,
///   one extra Newton residual) stays small. Measured on the 2-core VM (ParaGRU d = 4,
///   T = 10⁷, 2 threads, `farm-bench`, 4 alternating runs): Newton's whole process 0.74× the
///   time of 4 MiB segments, sequential unchanged (1.00×), peak RSS 36 vs 32 MiB. On the 16-core
///   VM a fixed 16 MiB left each of 16 workers 3 000 steps per pass, and the fork/join of
///   4 passes × 206 segments dominated; per-thread sizing gives them 24 000. At least 4096 steps;
/// - T.
///
///     let n = SegmentPlan.length(steps: T, batch: B, features: m, layers: cells, scalarBytes: 4,
///                                maxMemory: 1 << 30, threads: 16)
enum SegmentPlan {
    /// Bytes the process needs besides the segment buffers (binary, runtime, model, bookkeeping).
    static let fixedBytes = 24 << 20
    /// Target bytes of buffers per segment for cache residency with `threads` workers:
    /// 8 MiB per thread, at least 16 MiB, at most half the last-level cache (when sysfs tells it).
    static func cacheBytes(threads: Int) -> Int {
        let perThread = (8 << 20) * max(1, threads)
        let cacheHalf = (lastLevelCacheBytes ?? (32 << 20)) / 2
        return max(16 << 20, min(perThread, cacheHalf))
    }
    /// The last-level cache's size from sysfs, read once per process (``StartupWarmup`` reads
    /// it early on an idle core).
    static let lastLevelCacheBytes: Int? = MachineProfile.lastLevelCacheBytes()
    static let minimumCacheSteps = 4096

    /// Buffer bytes per time step of the whole stack.
    static func bytesPerStep<S>(batch: Int, features: Int, layers: [AnyLayer<S>], scalarBytes: Int) -> Int {
        var values = 2 * features  // the input rows, as read and converted
        for layer in layers {
            values += 4 * layer.hiddenSize + 14 * layer.stateSize + layer.inputSize + 2 * layer.outputSize
        }
        return max(1, batch * values * scalarBytes)
    }

    /// The segment length; throws a message when `maxMemory` cannot hold even one step.
    static func length<S>(
        steps: Int, batch: Int, features: Int, layers: [AnyLayer<S>], scalarBytes: Int, maxMemory: Int,
        threads: Int
    ) throws(PlanError) -> Int {
        let perStep = bytesPerStep(batch: batch, features: features, layers: layers, scalarBytes: scalarBytes)
        let budget = maxMemory - fixedBytes
        guard budget >= perStep else {
            throw PlanError(
                message:
                    "--max-memory \(formatBytes(maxMemory)) cannot hold one step: this model and batch need \(formatBytes(fixedBytes + perStep)) at least (\(formatBytes(perStep)) per step beyond \(formatBytes(fixedBytes)))"
            )
        }
        let cacheSteps = max(minimumCacheSteps, cacheBytes(threads: threads) / perStep)
        return max(1, min(steps, budget / perStep, cacheSteps))
    }

    /// The default memory budget: a quarter of the physical memory.
    static var defaultMaxMemory: Int { Int(ProcessInfo.processInfo.physicalMemory / 4) }
}

struct PlanError: Error { var message: String }

/// Parses a byte size: a number with an optional unit K, M, G, T (powers of 1024; `B`, `iB`
/// suffixes and lower case accepted), e.g. `512M`, `1.5G`, `200000000`.
func parseByteSize(_ text: String) -> Int? {
    var s = text.trimmingCharacters(in: .whitespaces).uppercased()
    if s.hasSuffix("IB") { s.removeLast(2) } else if s.hasSuffix("B") { s.removeLast() }
    var scale = 1.0
    if let last = s.last, let power = ["K": 1, "M": 2, "G": 3, "T": 4][String(last)] {
        scale = pow(1024, Double(power))
        s.removeLast()
    }
    guard let value = Double(s), value.isFinite, value > 0 else { return nil }
    let bytes = value * scale
    guard bytes < 9e18 else { return nil }
    return Int(bytes)
}

#if os(Linux)
    private let RUSAGE_SELF_WHO = __rusage_who_t(RUSAGE_SELF.rawValue)
#else
    private let RUSAGE_SELF_WHO = RUSAGE_SELF
#endif

/// The process's peak resident set size so far, in bytes: Linux's `VmHWM` of this program
/// image (getrusage's `ru_maxrss` keeps the parent's peak across fork + exec, so a small
/// solve started by a large process would report the parent's memory), else getrusage.
func peakResidentBytes() -> Int {
    #if os(Linux)
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kib = Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        {
            return kib * 1024
        }
    #endif
    var usage = rusage()
    getrusage(RUSAGE_SELF_WHO, &usage)
    #if os(Linux)
        return usage.ru_maxrss * 1024
    #else
        return usage.ru_maxrss
    #endif
}

/// Seconds since this process started (Linux: `/proc/self/stat` start time against
/// `CLOCK_BOOTTIME`, to the kernel's clock tick, 10 ms), so that a reported "wall in all"
/// covers loading the program too; `nil` where that is not available.
func secondsSinceProcessStart() -> Double? {
    #if os(Linux)
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name (field 2), which may hold spaces: field 22 is starttime.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let ticks = Double(fields[19]) else { return nil }
        var now = timespec()
        clock_gettime(CLOCK_BOOTTIME, &now)
        let elapsed = Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9 - ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
        return elapsed >= 0 ? elapsed : nil
    #else
        return nil
    #endif
}
