import ArgumentParser
import ConvergenceHarness
import Foundation
import ParallelScan

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
                "methods": ["newton","quasi-newton","damped"],              *
                "steps": [100, 2000],           (T)                          *
                "hiddenSizes": [4],             (d)                          *
                "batchSizes": [2],              (B)                          *
                "weightScales": [0.5, 3],       (recurrent gain s)           *
                "guesses": ["default"],         ("default" = f(0,u_t), or "zeros")
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

            WEIGHT SCALE s: paragru/paralstm diagonal gains (and paralstm peepholes) uniform in \
            ±s; gru/lstm/elman: each d×d gate block of weight_hh uniform in ±√3·s/√d (variance \
            s²/d, spectral radius ≈ s). Input weights ±1/√m, biases ±0.1, inputs ±1.

            PRESETS: quick (60 cases: 5 cells × 3 methods × T {100, 2000} × s {0.5, 3}, d 4, B 2, \
            double), full (T up to 10^6, d {8, 32}, B {1, 4}, s 0.25…3, both guesses and \
            precisions, 2 seeds: 11 520 cases, days, and ~131 GB for dense LSTM d 32 B 4 T 10^6), and study (the grid of Harness/README.md: 450 cases, \
            T {10^3, 10^4, 10^5}, d 8, B 1, s {0.5, 1, 1.5, 2, 3}, double, 2 seeds — minutes).

            --check BASELINE.json exits 1 if any case matched by cell/method/T/d/B/scale/guess/\
            precision/seed: (1) converged in the baseline but not now; (2) needs more than \
            baseline + max(2, ⌈25 %⌉) iterations; (3) has max abs error > max(10 × baseline \
            error, 100 × tolerance). Wall times are never compared.
            """)

    @Option(name: .long, help: "A named grid: quick, full or study (ignored with --config).")
    var preset: String = "quick"

    @Option(name: .long, help: "A grid JSON file (see GRID FORMAT).")
    var config: String?

    @Option(name: .long, help: "Write the full JSON report here.")
    var output: String?

    @Option(name: .long, help: "Write the Markdown summary here (printed to stdout if omitted).")
    var markdown: String?

    @Option(name: .long, help: "Compare with this baseline report; exit 1 on a regression.")
    var check: String?

    @Option(name: .long, help: "Worker threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        do {
            let grid = try config.map { path throws(HarnessError) in try GridConfig.load(path: path) }
                ?? HarnessPreset.named(preset)
            try grid.validate()
            let baseline = try check.map { path throws(HarnessError) in try HarnessReport.load(path: path) }
            let pool = WorkerPool(threadCount: threads)
            let runner = HarnessRunner(config: grid, pool: pool)
            let bar = ProgressBar(total: grid.cases.count)
            let report = try runner.run { done, _, key in bar.update(done: done, label: "\(key)") }
            if let output {
                try write(report.jsonData(), to: output)
            }
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

    func write(_ data: Data, to path: String) throws {
        do { try data.write(to: URL(fileURLWithPath: path)) } catch {
            throw HarnessError("cannot write '\(path)': \(error.localizedDescription)")
        }
    }
}
