import Dispatch
import Foundation

/// What the parallel paths know about the machine: its cores, how memory bandwidth grows with
/// the number of threads streaming at once, and how arithmetic throughput grows with threads
/// (virtual CPUs that are hyperthreads of one core add little).
///
/// A chunked scan reads its coefficients twice (a reduction pass, then a solve pass), so on a
/// machine where one core already saturates memory the parallel form loses to the plain loop;
/// where bandwidth grows with the threads it wins. ``WorkerCount`` turns a path's
/// ``ParallelCost`` and this profile into a worker count.
///
/// The profile of the running machine, ``current``, comes from (in this order)
/// 1. the environment variable `PARARNN_MACHINE`, e.g. `bandwidth=1:32,2:38` (GB/s of copy
///    traffic, read + write, at 1 and 2 threads; `cores=N` optional), for reproducible runs;
/// 2. a cache file `pararnn/machine-v2.json` under `$XDG_CACHE_HOME` (or `~/.cache`), written by
///    an earlier measurement on the same CPU model and core count (like FFTW's wisdom);
/// 3. a measurement: a copy of two buffers of about the last-level cache's size at 1, 2, 4, …
///    threads and at every core, and a vector multiply-add loop at the same thread counts
///    (≈ 20–100 ms, once per machine), then written to the cache file. `PARARNN_MACHINE=measure`
///    measures again and replaces the file (after a measurement on a busy machine).
///
/// It is only loaded when a decision depends on it (a parallel pool and a problem long enough for
/// threads to matter), so small problems and single-threaded runs never measure.
///
/// ```swift
/// let profile = MachineProfile(cores: 16, bandwidth: [1: 12e9, 4: 41e9, 16: 106e9])
/// profile.bandwidth(threads: 8)         // 73.5e9: interpolated between 4 and 16 threads
/// profile.computeScaling(threads: 8)    // 8: no compute figures given, cores scale linearly
/// ```
public struct MachineProfile: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Cores the process may use.
    public var cores: Int
    /// Measured copy bandwidth (bytes read + written per second) by thread count; at least the
    /// 1-thread figure.
    public var bandwidth: [Int: Double]
    /// Measured arithmetic throughput of p threads relative to one, by thread count (p on
    /// independent cores, ≈ 1 on two hyperthreads of one core); empty means linear.
    public var compute: [Int: Double]

    /// A profile from known figures.
    /// - Parameters:
    ///   - cores: cores the process may use (≥ 1).
    ///   - bandwidth: bytes/s of copy traffic by thread count; must hold a figure for 1 thread.
    ///   - compute: throughput of p threads relative to one (empty: p).
    public init(cores: Int, bandwidth: [Int: Double], compute: [Int: Double] = [:]) {
        precondition(bandwidth[1] != nil, "a machine profile needs the 1-thread bandwidth")
        self.cores = max(1, cores)
        self.bandwidth = bandwidth.filter { $0.key >= 1 && $0.value > 0 }
        self.compute = compute.filter { $0.key >= 1 && $0.value > 0 }
        self.compute[1] = 1
    }

    /// Aggregate bandwidth of `threads` threads streaming at once: linear interpolation between
    /// the measured thread counts, flat beyond the last one and beyond the core count (threads
    /// that share a core share its bandwidth).
    public func bandwidth(threads: Int) -> Double {
        Self.interpolate(bandwidth, at: max(1, min(threads, cores)))
    }

    /// Arithmetic throughput of `threads` threads relative to one: interpolated like
    /// ``bandwidth(threads:)``; linear in the threads (up to the cores) without figures.
    public func computeScaling(threads: Int) -> Double {
        let p = max(1, min(threads, cores))
        return compute.count > 1 ? Self.interpolate(compute, at: p) : Double(p)
    }

    static func interpolate(_ table: [Int: Double], at p: Int) -> Double {
        if let exact = table[p] { return exact }
        let known = table.keys.sorted()
        guard let upper = known.first(where: { $0 > p }) else { return table[known.last!]! }
        let lower = known.last(where: { $0 < p })!
        let (bl, bu) = (table[lower]!, table[upper]!)
        return bl + (bu - bl) * Double(p - lower) / Double(upper - lower)
    }

    public var description: String {
        let copy = bandwidth.keys.sorted().map { "\($0): \(String(format: "%.1f", bandwidth[$0]! / 1e9))" }
        let arithmetic = compute.keys.sorted().map { "\($0): \(String(format: "%.2f", compute[$0]!))" }
        return "\(cores) cores, copy GB/s by threads {\(copy.joined(separator: ", "))}, "
            + "arithmetic throughput vs 1 thread {\(arithmetic.joined(separator: ", "))}"
    }

    /// The running machine's profile (see the type's documentation for where it comes from).
    public static var current: MachineProfile { loaded }

    private static let loaded: MachineProfile = {
        let cores = WorkerPool.activeProcessorCount
        let setting = ProcessInfo.processInfo.environment["PARARNN_MACHINE"]
        if let setting, let profile = MachineProfile(parsing: setting, cores: cores) { return profile }
        let key = MachineKey(cores: cores)
        if setting != "measure", let cached = MachineProfileCache.read(key) { return cached }
        let measured = measure(cores: cores)
        MachineProfileCache.write(measured, key: key)
        return measured
    }()

    /// Parses `bandwidth=1:32,2:38;compute=2:1.1;cores=2` (GB/s; throughput relative to one
    /// thread); nil if the text has no 1-thread bandwidth.
    public init?(parsing text: String, cores defaultCores: Int) {
        var cores = defaultCores
        var figures: [Int: Double] = [:]
        var scaling: [Int: Double] = [:]
        func table(_ text: String, scale: Double) -> [Int: Double]? {
            var result: [Int: Double] = [:]
            for item in text.split(separator: ",") {
                let tv = item.split(separator: ":")
                guard tv.count == 2, let t = Int(tv[0]), let v = Double(tv[1]), t > 0, v > 0 else { return nil }
                result[t] = v * scale
            }
            return result
        }
        for part in text.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { return nil }
            switch pair[0] {
            case "cores":
                guard let n = Int(pair[1]), n > 0 else { return nil }
                cores = n
            case "bandwidth":
                guard let parsed = table(pair[1], scale: 1e9) else { return nil }
                figures = parsed
            case "compute":
                guard let parsed = table(pair[1], scale: 1) else { return nil }
                scaling = parsed
            default: return nil
            }
        }
        guard figures[1] != nil else { return nil }
        self.init(cores: cores, bandwidth: figures, compute: scaling)
    }

    /// Measures copy bandwidth at 1, 2, 4, … threads and at `cores` threads.
    ///
    /// Two buffers of the last-level cache's size (clamped to 16…64 MiB) are faulted in once in
    /// parallel; each thread count copies them best-of-three, the copy split evenly over threads.
    public static func measure(cores: Int) -> MachineProfile {
        let bytes = min(64 << 20, max(16 << 20, lastLevelCacheBytes() ?? (32 << 20)))
        let count = bytes / MemoryLayout<Double>.stride
        let source = UnsafeMutablePointer<Double>.allocate(capacity: count)
        let target = UnsafeMutablePointer<Double>.allocate(capacity: count)
        defer {
            source.deallocate()
            target.deallocate()
        }
        let s = UnsafeMutableSendable(source)
        let t = UnsafeMutableSendable(target)
        DispatchQueue.concurrentPerform(iterations: cores) { w in
            let r = ChunkPlan.evenRange(index: w, of: cores, total: count)
            (s.base + r.lowerBound).initialize(repeating: 1, count: r.count)
            (t.base + r.lowerBound).initialize(repeating: 0, count: r.count)
        }
        var counts: [Int] = []
        var p = 1
        while p < cores {
            counts.append(p)
            p *= 2
        }
        counts.append(cores)
        var figures: [Int: Double] = [:]
        for threads in counts {
            var best = Double.infinity
            for _ in 0..<3 {
                let start = DispatchTime.now().uptimeNanoseconds
                DispatchQueue.concurrentPerform(iterations: threads) { w in
                    let r = ChunkPlan.evenRange(index: w, of: threads, total: count)
                    (t.base + r.lowerBound).update(from: s.base + r.lowerBound, count: r.count)
                }
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
            }
            figures[threads] = 2 * Double(bytes) / max(best, 1e-9)
        }
        // Bandwidth never falls with more threads in the model: a noisy dip would otherwise
        // make a parallel path look worse than one thread fewer.
        var running = 0.0
        for threads in counts {
            running = max(running, figures[threads]!)
            figures[threads] = running
        }
        return MachineProfile(cores: cores, bandwidth: figures, compute: measureCompute(counts))
    }

    /// Throughput of a multiply-add loop (eight independent vector accumulators per thread, in
    /// registers) at each thread count, relative to one thread: each thread does the same work,
    /// so the scaling is p · t(1) / t(p).
    static func measureCompute(_ counts: [Int]) -> [Int: Double] {
        let rounds = 200_000
        func run(_ threads: Int) -> Double {
            var best = Double.infinity
            for _ in 0..<3 {
                let start = DispatchTime.now().uptimeNanoseconds
                DispatchQueue.concurrentPerform(iterations: threads) { w in
                    blackHole(multiplyAddLoop(rounds: rounds, seed: Float(w + 1)))
                }
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
            }
            return best
        }
        let one = run(1)
        var result: [Int: Double] = [1: 1]
        var running = 1.0
        for threads in counts where threads > 1 {
            running = max(running, min(Double(threads), Double(threads) * one / run(threads)))
            result[threads] = running
        }
        return result
    }

    @inline(never)
    static func multiplyAddLoop(rounds: Int, seed: Float) -> Float {
        let m = SIMD8<Float>(repeating: 0.999_9)
        let c = SIMD8<Float>(repeating: 1e-4)
        var a0 = SIMD8<Float>(repeating: seed)
        var a1 = a0 + 1
        var a2 = a0 + 2
        var a3 = a0 + 3
        var a4 = a0 + 4
        var a5 = a0 + 5
        var a6 = a0 + 6
        var a7 = a0 + 7
        for _ in 0..<rounds {
            a0 = a0 * m + c
            a1 = a1 * m + c
            a2 = a2 * m + c
            a3 = a3 * m + c
            a4 = a4 * m + c
            a5 = a5 * m + c
            a6 = a6 * m + c
            a7 = a7 * m + c
        }
        let sum = (a0 + a1) + (a2 + a3) + (a4 + a5) + (a6 + a7)
        return sum.sum()
    }

    @inline(never)
    static func blackHole(_ value: Float) {
        if value == .infinity { print("") }
    }

    /// The size of the last-level cache from sysfs (Linux), if it can be read.
    package static func lastLevelCacheBytes() -> Int? {
        var best: Int?
        for index in 0..<8 {
            let path = "/sys/devices/system/cpu/cpu0/cache/index\(index)/size"
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            var scale = 1
            var digits = Substring(trimmed)
            if trimmed.hasSuffix("K") {
                scale = 1 << 10
                digits = digits.dropLast()
            } else if trimmed.hasSuffix("M") {
                scale = 1 << 20
                digits = digits.dropLast()
            }
            if let value = Int(digits) { best = max(best ?? 0, value * scale) }
        }
        return best
    }
}

/// What identifies a machine for the profile cache: CPU model and usable cores.
struct MachineKey: Codable, Equatable {
    var cpu: String
    var cores: Int

    init(cores: Int) {
        self.cores = cores
        var model = "unknown"
        if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
            let colon = line.firstIndex(of: ":")
        {
            model = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        cpu = model
    }
}

/// The on-disk cache of measured profiles: best effort, never an error.
enum MachineProfileCache {
    struct Entry: Codable {
        var key: MachineKey
        var profile: MachineProfile
    }

    static var url: URL? {
        let env = ProcessInfo.processInfo.environment
        let base: String
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty {
            base = xdg
        } else if let home = env["HOME"], !home.isEmpty {
            base = home + "/.cache"
        } else {
            return nil
        }
        return URL(fileURLWithPath: base).appendingPathComponent("pararnn/machine-v2.json")
    }

    static func read(_ key: MachineKey) -> MachineProfile? {
        guard let url, let data = try? Data(contentsOf: url),
            let entry = try? JSONDecoder().decode(Entry.self, from: data), entry.key == key,
            entry.profile.bandwidth[1] != nil
        else { return nil }
        return entry.profile
    }

    static func write(_ profile: MachineProfile, key: MachineKey) {
        guard let url, let data = try? JSONEncoder().encode(Entry(key: key, profile: profile)) else { return }
        try? FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? data.write(to: url, options: .atomic)
    }
}
