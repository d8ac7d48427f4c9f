import ArgumentParser
import Foundation
import ParallelScan
import PerformanceSuite
import SequenceIO

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure every hot path against its baseline in the same run.",
        discussion: """
            Groups: scan (diagonal / 2×2 / dense affine scans vs their sequential loop, with the \
            memory-copy bandwidth of the same bytes), newton (parallel Newton vs the sequential \
            rollout for ParaGRU, ParaLSTM, GRU, LSTM), train (one forward + backward step vs \
            sequential BPTT), conv (FFT vs direct convolution), plstm (2D hierarchical vs the \
            sequential wavefront), linear (diagonal and selective linear-RNN layers vs their \
            sequential loop), xlstm (mLSTM chunkwise / quadratic forms, chunk-size sweep and \
            backward vs the step form; retention), packed (only when named: 1,000 recordings \
            of lengths log-uniform in 10²…10⁵, ParaGRU d = 4, one packed solve vs one solve per \
            recording vs a batch padded to the longest; --packed-recordings and \
            --packed-longest scale the set), pool (only when named: the cost of one fork/join of \
            the worker pool at each thread count, beyond 20 µs items and empty, in µs). Newton cases with --phases: time per phase and worker of the \
            fused passes; with --f16-jacobians: the solve with Float16 Jacobian storage beside it. \
            Each timing is the best of --repetitions runs after a warm-up; the scan, linear and \
            plstm groups time each path interleaved with its baseline (rounds of both, at least \
            9 and 0.5 s a side) and report medians, their ratio, and the per-round ratios' range \
            and median (notes "ratio min", "ratio max", "ratio median"). \
            Ratios, not absolute times, are what carry between machines.
            """)

    @Option(name: .long, help: "quick (seconds) or standard (the sizes the issues name).")
    var preset: BenchPresetOption = .quick

    @Option(
        name: .long, help: ArgumentHelp("Thread counts to sweep, e.g. 1,2,4,8,16.", valueName: "list"),
        transform: Bench.threadCounts)
    var threads: [Int] = []

    @Option(
        name: .long, help: ArgumentHelp("Only these groups, e.g. scan,newton.", valueName: "list"),
        transform: { try CommaList<BenchGroup>.parse($0, what: "group") })
    var groups: [BenchGroup] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Only Newton cases whose name and shape contain this text, e.g. \"paragru B=1 d=4 T=1000000\".",
            valueName: "text"))
    var newtonCase: String?

    @Option(
        name: .customLong("packed-recordings"),
        help: ArgumentHelp("Recordings in the packed group's set.", valueName: "n"))
    var packedRecordings: Int = 1_000

    @Option(
        name: .customLong("packed-longest"),
        help: ArgumentHelp("Longest recording of the packed group's set (the shortest is 100 or less).", valueName: "n")
    )
    var packedLongest: Int = 100_000

    @Flag(
        name: .long,
        help:
            "Newton cases: time the fused passes phase by phase and worker by worker (one more solve each; notes and one line per case)."
    )
    var phases = false

    @Flag(
        name: .customLong("f16-jacobians"),
        help:
            "Newton cases: also time the solve with Jacobians stored as Float16 (notes \"f16 J ms\", iterations, error)."
    )
    var f16Jacobians = false

    @Option(name: .long, help: "Repetitions per timing (best kept).")
    var repetitions: Int = 3

    @Option(name: .long, help: ArgumentHelp("Write all results as JSON.", valueName: "file"))
    var json: String?

    @Option(name: .long, help: ArgumentHelp("Write the Markdown table.", valueName: "file"))
    var markdown: String?

    /// The phase notes of one Newton case as one line (ms summed over workers, busy per worker).
    static func phaseLine(_ notes: [String: Double], passes: Double) -> String {
        let f = { (v: Double) in String(format: "%.2f", v) }
        let phases = ["project", "solve", "linearise", "reduce", "check"].compactMap { p in
            notes["\(p) ms"].map { "\(p) \(f($0))" }
        }
        var busy: [String] = []
        var w = 0
        while let b = notes["busy w\(w) ms"] {
            busy.append(f(b))
            w += 1
        }
        return
            "\(Int(passes)) passes, \(phases.joined(separator: ", ")) ms (Σ workers); pass wall \(f(notes["pass wall ms"] ?? 0)) ms (first \(f(notes["first pass wall ms"] ?? 0)) ms), carry \(f(notes["carry ms"] ?? 0)) ms; busy per worker \(busy.joined(separator: "/")) ms; "
            + String(format: "%.0f B/step/pass, %.2f GB/s", notes["B/step/pass"] ?? 0, notes["GB/s"] ?? 0)
    }

    func run() throws {
        if packedRecordings < 1 || packedLongest < 1 {
            Console.error("--packed-recordings and --packed-longest must be at least 1")
            throw ExitCode(1)
        }
        let selected = Set(groups.map(\.rawValue))
        var suite = PerformanceSuite(
            preset: preset.preset, threadCounts: threads, repetitions: repetitions, groups: selected,
            newtonCaseFilter: newtonCase)
        suite.phaseTimings = phases
        suite.compactJacobians = f16Jacobians
        suite.packedSet = PackedBenchSet(
            count: packedRecordings, shortest: min(100, packedLongest), longest: packedLongest)
        if !selected.isDisjoint(with: ["scan", "plstm", "linear"]) || selected.isEmpty {
            // The profile that picks the worker counts noted beside each parallel path.
            Console.error("machine: \(MachineProfile.current)")
        }
        let results = suite.run { r in
            Console.error(
                String(
                    format: "%@ %@ (%d threads): %.2f ms vs %@ %.2f ms → %.2f×", r.name, r.shape, r.threads,
                    r.seconds * 1000, r.baseline, r.baselineSeconds * 1000, r.speedup))
            if phases, let passes = r.notes["passes"] {
                Console.error("  phases: " + Self.phaseLine(r.notes, passes: passes))
            }
            if let compact = r.notes["f16 J ms"] {
                Console.error(
                    String(
                        format:
                            "  f16 Jacobians: %.2f ms (%.2f× the Float-J solve), %.0f iterations (Float J: %.0f), max abs error %.2g",
                        compact, r.seconds * 1000 / compact, r.notes["f16 J iterations"] ?? 0,
                        r.notes["iterations"] ?? 0, r.notes["f16 J max abs error"] ?? 0))
            }
        }
        let table = BenchmarkResult.markdown(results)
        print(table)
        do {
            if let json { try JSONReport.write(results, to: URL(fileURLWithPath: json)) }
            if let markdown { try AtomicFile.write(Data((table + "\n").utf8), to: URL(fileURLWithPath: markdown)) }
        } catch {
            Console.error(error.description)
            throw ExitCode(1)
        }
    }

    /// `--threads 1,2,4`: positive integers, comma-separated.
    static func threadCounts(_ text: String) throws -> [Int] {
        let parts = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        let counts = parts.compactMap { $0 }.filter { $0 >= 1 }
        guard !parts.isEmpty, counts.count == parts.count else {
            throw ValidationError("--threads takes a comma-separated list of positive integers")
        }
        return counts
    }
}

/// `--preset` of `pararnn bench` (``BenchmarkPreset``'s names).
enum BenchPresetOption: String, CaseIterable, ExpressibleByArgument {
    case quick, standard

    var preset: BenchmarkPreset {
        switch self {
        case .quick: .quick
        case .standard: .standard
        }
    }
}

/// The groups `--groups` may name (``PerformanceSuite/groups``).
enum BenchGroup: String, CaseIterable, ExpressibleByArgument {
    case scan, newton, train, conv, plstm, linear, xlstm, packed, pool
}
