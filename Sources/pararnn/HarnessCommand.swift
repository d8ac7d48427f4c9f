import ArgumentParser
import ConvergenceHarness
import Foundation
import ParallelScan
import SequenceIO

/// `--preset`: the named grids of ``HarnessPreset``.
enum HarnessPresetOption: String, CaseIterable, ExpressibleByArgument {
    case quick, full, study

    var grid: GridConfig {
        switch self {
        case .quick: HarnessPreset.quick
        case .full: HarnessPreset.full
        case .study: HarnessPreset.study
        }
    }
}

/// `pararnn harness`: runs a convergence grid (when and how fast does parallel Newton converge?)
/// and optionally checks it against a baseline report.
struct Harness: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "harness",
        abstract: "Measure when and how fast parallel Newton converges over a grid of cases.",
        discussion: """
            Every case builds a cell with deterministic random weights (SplitMix64 from the seed), \
            solves it sequentially (the reference) and with the case's method (fallback off, so a \
            failure shows with its reason), and records convergence, iterations, the residual \
            history, the max abs error vs the sequential rollout, both wall times and their ratio \
            (reported, never checked), and what the automatic strategy would choose.

            GRID FORMAT (--config FILE.json; * = required, others default as shown):
              {
                "name": "custom",
                "cells": ["paragru","paralstm","gru","lstm","elman"],        *
                "methods": ["newton","quasi-newton","damped","elk"],        *
                "steps": [100, 2000],           (T)                          *
                "hiddenSizes": [4],             (d)                          *
                "batchSizes": [2],              (B)                          *
                "weightScales": [0.5, 3],       (recurrent gain s)           *
                "guesses": ["default"],         ("default" = f(0,u_t), "zeros", "chunks")
                "precisions": ["double"],       ("float", "double")
                "seeds": [1],
                "inputSize": 4,                 (m)
                "floatTolerance": null,         (null: 1e-5)
                "doubleTolerance": null,        (null: 1e-10)
                "maxIterations": null,          (null: min(T + 1, 100))
                "continueAfterStagnation": false
              }
            The cases are the cartesian product of the lists. continueAfterStagnation: restart \
            an attempt the solver declared "stagnated" from its last iterate while its residual \
            still fell ≥ 2× over its last 25 iterations (same total budget); such cases are \
            flagged in the report either way.

            GUESSES: "default" is ParaRNN's f(0, u_t), "zeros" all-zero states (both \
            independent of the threads); "chunks" is the solver's default start, exact rollouts \
            of the chunks after burn-ins, planned for --threads (whichever thread runs the case): \
            its iterations depend on --threads, and the summary names the plan.

            WEIGHT SCALE s: paragru/paralstm diagonal gains (and paralstm peepholes) uniform in \
            ±s; gru/lstm/elman: each d×d gate block of weight_hh uniform in ±√3·s/√d (variance \
            s²/d, spectral radius ≈ s). Input weights ±1/√m, biases ±0.1, inputs ±1.

            PRESETS: quick (60 cases: 5 cells × 3 methods × T {100, 2000} × s {0.5, 3}, d 4, B 2, \
            double), full (T up to 10^6, d {8, 32}, B {1, 4}, s 0.25…3, both guesses and \
            precisions, 2 seeds, 4 methods with elk: 15 360 cases, days, and ~131 GB for dense LSTM d 32 B 4 T 10^6), and study (the grid of Harness/README.md: 600 cases with elk, \
            T {10^3, 10^4, 10^5}, d 8, B 1, s {0.5, 1, 1.5, 2, 3}, double, 2 seeds — minutes).

            --check BASELINE.json exits 1 if any case matched by cell/method/T/d/B/scale/guess/\
            precision/seed: (1) converged in the baseline but not now; (2) needs more than \
            baseline + max(2, ⌈25 %⌉) iterations; (3) has max abs error > max(10 × baseline \
            error, 100 × tolerance). Wall times are never compared.

            SPEED AND LONG RUNS: --jobs n runs n cases at once (default: --threads), each on one \
            thread; cases where the solver's cost model predicts a parallel win (the ones whose \
            timings measure multi-thread speed) run afterwards, alone, on all threads. Reports \
            mark each case's thread count and whether it ran concurrently. --results FILE.jsonl \
            appends every finished case to FILE as one JSON line (the summary is built from the \
            lines); --resume FILE.jsonl continues such a file, skipping the cases it holds (the \
            grid defaults to the file's). --shard i/n runs every n-th case starting at the i-th \
            (deterministic); --merge a.jsonl b.jsonl … builds the report from results files \
            (shards, resumed runs) without running anything.
            """)

    @Option(name: .long, help: "A named grid: quick, full or study (default quick; ignored with --config).")
    var preset: HarnessPresetOption?

    @Option(name: .long, help: "A grid JSON file (see GRID FORMAT).")
    var config: String?

    @Option(name: .long, help: "Write the full JSON report here.")
    var output: String?

    @Option(name: .long, help: "Write the Markdown summary here (printed to stdout if omitted).")
    var markdown: String?

    @Option(name: .long, help: "Compare with this baseline report; exit 1 on a regression.")
    var check: String?

    @OptionGroup var threading: ThreadsOption

    var threads: Int? { threading.threads }

    @Option(name: .long, help: "Cases run at once (default: the thread count; 1: one after another).")
    var jobs: Int?

    @Option(name: .long, help: "Append each finished case to this new JSON-lines file.")
    var results: String?

    @Option(name: .long, help: "Continue this JSON-lines results file, skipping its cases.")
    var resume: String?

    @Option(name: .long, help: "Run only shard i of n (i/n, 1 ≤ i ≤ n).")
    var shard: String?

    @Option(
        name: .long, parsing: .upToNextOption,
        help: "Build the report from these JSON-lines results files; run nothing.")
    var merge: [String] = []

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if results != nil && resume != nil {
            throw ValidationError("--results and --resume both name a results file; pass one")
        }
        if !merge.isEmpty && (results != nil || resume != nil || shard != nil || config != nil || preset != nil) {
            throw ValidationError("--merge builds a report from files; it takes no grid, shard or results file")
        }
    }

    func run() throws {
        do {
            let baseline = try check.map { path throws(HarnessError) in try HarnessReport.load(path: path) }
            let report = try merge.isEmpty ? runGrid() : mergeFiles()
            if let output {
                try write(report.jsonData(), to: output)
            }
            // The done-when counts, also on stderr (one line to quote from a long run).
            FileHandle.standardError.write(Data((FallbackCounts(report).line + "\n").utf8))
            let summary = report.markdown()
            if let markdown {
                try write(Data(summary.utf8), to: markdown)
            } else {
                print(summary)
            }
            if let baseline {
                let outcome = BaselineCheck.compare(report, baseline: baseline)
                FileHandle.standardError.write(Data((outcome.summary + "\n").utf8))
                if !outcome.passed { throw ExitCode(1) }
            }
        } catch let error as HarnessError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// Runs the grid (or the shard), appending to the results file if one is named; the report
    /// is then built from that file's lines.
    func runGrid() throws(HarnessError) -> HarnessReport {
        let part = try shard.map { text throws(HarnessError) in try HarnessShard(parsing: text) }
        var grid: GridConfig
        if let config {
            grid = try GridConfig.load(path: config)
        } else if preset == nil, let resume, FileManager.default.fileExists(atPath: resume) {
            grid = try ResultsLog.read(path: resume).header.config
        } else {
            grid = (preset ?? .quick).grid
        }
        try grid.validate()
        let pool = WorkerPool(threadCount: threads)
        let runner = HarnessRunner(config: grid, pool: pool, jobs: jobs)
        let log = try (resume ?? results).map { path throws(HarnessError) in
            try ResultsLog.open(
                path: path, config: grid, shard: part, machine: .current(threads: pool.threadCount),
                resume: resume != nil)
        }
        let previous = log?.previous ?? []
        let total = part.map { $0.select(grid.cases).count } ?? grid.cases.count
        let selected = Set(part.map { $0.select(grid.cases) } ?? grid.cases)
        let alreadyDone = Set(previous.map(\.key)).intersection(selected).count
        if let log, alreadyDone > 0 {
            FileHandle.standardError.write(
                Data("harness: resuming '\(log.path)': \(alreadyDone) of \(total) cases already done\n".utf8))
        }
        let bar = ProgressBar(total: total, alreadyDone: alreadyDone)
        var onResult: ((CaseResult) throws(HarnessError) -> Void)? = nil
        if let log {
            onResult = { (result: CaseResult) throws(HarnessError) -> Void in try log.append(result) }
        }
        let report = try runner.run(shard: part, resuming: previous, onResult: onResult) { done, _, key in
            bar.update(done: done, label: "\(key)")
        }
        guard let log else { return report }
        // The summary comes from the lines (what a later --resume or --merge would see).
        var fromLines = try HarnessReport.merge(paths: [log.path]).report
        fromLines.totalSeconds = report.totalSeconds
        fromLines.machine = report.machine
        return fromLines
    }

    /// Builds the report from results files, naming the grid's cases that none of them holds.
    func mergeFiles() throws(HarnessError) -> HarnessReport {
        let (report, missing) = try HarnessReport.merge(paths: merge)
        if !missing.isEmpty {
            let shown = missing.prefix(5).map { "\($0)" }.joined(separator: ", ")
            FileHandle.standardError.write(
                Data(
                    "harness: merged \(report.cases.count) of \(report.config.cases.count) cases; missing \(missing.count): \(shown)\(missing.count > 5 ? ", …" : "")\n"
                        .utf8))
        }
        return report
    }

    /// Writes the whole file or nothing (a temporary file renamed into place).
    func write(_ data: Data, to path: String) throws {
        do { try AtomicFile.write(data, to: URL(fileURLWithPath: path)) } catch {
            throw HarnessError("cannot write '\(path)': \(error)")
        }
    }
}
