import ConvergenceHarness
import Foundation
import ParaRNN
import ParallelScan
import Testing

/// The repository root, found from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func repositoryFile(_ relative: String) -> String {
    repositoryRoot.appendingPathComponent(relative).path
}

/// The `quick` grid, run once for all tests that need it (2 threads, like the baseline).
let quickReport: HarnessReport = {
    do {
        return try HarnessRunner(config: HarnessPreset.quick, pool: WorkerPool(threadCount: 2, choice: .allThreads))
            .run()
    } catch {
        fatalError("quick grid failed: \(error)")
    }
}()

@Suite struct RandomTests {
    @Test func splitMix64MatchesReference() {
        // The published first outputs of SplitMix64 from seed 0.
        var g = SplitMix64(seed: 0)
        #expect(g.next() == 0xE220_A839_7B1D_CDAF)
        #expect(g.next() == 0x6E78_9E6A_A1B9_65F4)
    }

    @Test func weightsAreDeterministicAndScaleLinearly() {
        for cell in HarnessCell.builtIn {
            func draw(scale: Double, seed: UInt64) -> CellTensors {
                WeightFactory(cell: cell, hiddenSize: 6, inputSize: 3, scale: scale, seed: seed).tensors()
            }
            let (one, again, three, other) = (
                draw(scale: 1, seed: 7), draw(scale: 1, seed: 7), draw(scale: 3, seed: 7), draw(scale: 1, seed: 8)
            )
            let recurrent = cell.isDiagonal ? ["A"] + cell.schema.channelTensors.map(\.name) : ["weight_hh"]
            let input = cell.isDiagonal ? "B" : "weight_ih"
            #expect(one == again)
            #expect(one.parameters[input] == three.parameters[input])
            for name in recurrent {
                let (a, b) = (one.parameters[name]!.values, three.parameters[name]!.values)
                #expect(a != other.parameters[name]!.values)
                for (x, y) in zip(a, b) { #expect(abs(3 * x - y) < 1e-12) }
                let bound = cell.isDiagonal ? 1.0 : 3.0.squareRoot() / 6.0.squareRoot()
                #expect(a.allSatisfy { abs($0) <= bound })
            }
            // Every cell of the catalogue can be built from them.
            #expect(throws: Never.self) { _ = try cell.entry.make(one, as: Double.self) }
        }
    }

    @Test func inputsOfShorterSequencesArePrefixes() {
        let short = WeightFactory.inputs(steps: 10, batch: 2, inputSize: 3, seed: 1)
        let long = WeightFactory.inputs(steps: 50, batch: 2, inputSize: 3, seed: 1)
        #expect(Array(long.prefix(short.count)) == short)
    }
}

@Suite struct ConfigTests {
    @Test func presetFilesMatchTheBuiltInPresets() throws {
        for (name, grid) in HarnessPreset.all {
            let file = try GridConfig.load(path: repositoryFile("Harness/presets/\(name).json"))
            #expect(file == grid, "Harness/presets/\(name).json differs from HarnessPreset.\(name)")
        }
        #expect(HarnessPreset.quick.cases.count == 60)
    }

    @Test func unknownPresetIsAnError() {
        #expect(throws: HarnessError.self) { try HarnessPreset.named("medium") }
    }

    @Test func defaultsAndBadConfigs() throws {
        let minimal = """
            {"cells":["elman"],"methods":["newton"],"steps":[10],"hiddenSizes":[2],
             "batchSizes":[1],"weightScales":[1]}
            """
        let grid = try GridConfig.decode(Data(minimal.utf8))
        #expect(grid.guesses == [.default] && grid.precisions == [.double] && grid.seeds == [1])
        #expect(grid.cases.count == 1)
        let bad = [
            #"{"cells":["elman"]}"#,
            #"{"cells":["rnn"],"methods":["newton"],"steps":[10],"hiddenSizes":[2],"batchSizes":[1],"weightScales":[1]}"#,
            #"{"cells":["elman"],"methods":["sequential"],"steps":[10],"hiddenSizes":[2],"batchSizes":[1],"weightScales":[1]}"#,
            #"{"cells":["elman"],"methods":["newton"],"steps":[],"hiddenSizes":[2],"batchSizes":[1],"weightScales":[1]}"#,
            #"{"cells":["elman"],"methods":["newton"],"steps":[10],"hiddenSizes":[0],"batchSizes":[1],"weightScales":[1]}"#,
            "not json",
        ]
        for text in bad {
            #expect(throws: HarnessError.self) { try GridConfig.decode(Data(text.utf8)) }
        }
        #expect(throws: HarnessError.self) { try GridConfig.load(path: "/nonexistent/grid.json") }
    }
}

@Suite struct RunnerTests {
    @Test func floatZerosGuessAndDivergenceAreReported() throws {
        let grid = GridConfig(
            name: "small", cells: [.paragru, .elman], methods: [.newton], steps: [64],
            hiddenSizes: [3], batchSizes: [1], weightScales: [0.5], guesses: [.default, .zeros],
            precisions: [.float, .double], seeds: [3])
        let report = try HarnessRunner(config: grid, pool: WorkerPool(threadCount: 2, choice: .allThreads)).run()
        #expect(report.cases.count == 8)
        for c in report.cases {
            #expect(c.converged, "\(c.key): \(c.outcome)")
            #expect(c.attempts.count == 1 && c.attempts[0].outcome == "converged")
            #expect(c.residualHistory.count == c.iterations + 1)
            #expect(c.maxAbsError <= (c.key.precision == .float ? 1e-4 : 1e-8))
            #expect(c.automaticMethod == .sequential)  // T = 64 is too short for Newton
        }
        // A tiny iteration limit on a chaotic cell: visible non-convergence with its reason.
        var hard = grid
        hard.cells = [.elman]
        hard.weightScales = [3]
        hard.steps = [200]
        hard.guesses = [.zeros]
        hard.precisions = [.double]
        hard.maxIterations = 2
        let failed = try HarnessRunner(config: hard, pool: WorkerPool(threadCount: 2, choice: .allThreads)).run()
        #expect(failed.cases.count == 1)
        #expect(!failed.cases[0].converged)
        #expect(failed.cases[0].outcome.contains("iteration limit"))
    }

    @Test func slowLinearConvergenceIsNotCutShort() throws {
        // gru/quasi-newton/T=100/scale=3 of `quick` converges linearly (the residual halves
        // every few iterations); the solver's stagnation rule counts iterations since the last
        // halving, so it runs to convergence within its budget min(T + 1, 100).
        let key = CaseKey(
            cell: .gru, method: .quasiNewton, steps: 100, hiddenSize: 4, batch: 2, scale: 3,
            guess: .default, precision: .double, seed: 1)
        let plain = try #require(quickReport.cases.first { $0.key == key })
        #expect(plain.converged, "\(plain.outcome)")
        #expect(plain.diagnosis == nil)
        #expect(plain.iterations > 25 && plain.iterations <= 101)
        // Continuation after stagnation never loses convergence or exceeds the budget.
        var grid = HarnessPreset.quick
        grid.continueAfterStagnation = true
        let continued = HarnessRunner(config: grid, pool: WorkerPool(threadCount: 2, choice: .allThreads)).run(key)
        #expect(continued.converged)
        #expect(continued.iterations <= 101)
    }

    @Test func reportRoundTripsThroughJSONWithNonFiniteValues() throws {
        var report = quickReport
        report.cases[0].maxAbsError = .nan
        report.cases[1].finalResidual = .infinity
        let decoded = try HarnessReport.decode(report.jsonData())
        #expect(decoded.cases.count == report.cases.count)
        #expect(decoded.cases[0].maxAbsError.isNaN)
        #expect(decoded.cases[1].finalResidual == .infinity)
        #expect(decoded.cases[2] == report.cases[2])
        #expect(decoded.config == report.config)
    }

    @Test func markdownSummaryHasTheTables() {
        let text = quickReport.markdown()
        #expect(text.contains("## Per cell × method"))
        #expect(text.contains("## Iterations vs weight scale"))
        #expect(text.contains("## Iterations vs T"))
        #expect(text.contains("| elman | quasi-newton |"))
    }
}

@Suite struct BaselineTests {
    func baseline() throws -> HarnessReport {
        try HarnessReport.load(path: repositoryFile("Harness/baselines/quick.json"))
    }

    @Test func quickMatchesTheCommittedBaseline() throws {
        let outcome = BaselineCheck.compare(quickReport, baseline: try baseline())
        #expect(outcome.passed, "\(outcome.summary)")
        #expect(outcome.matched == 60)
    }

    @Test func fewerBaselineIterationsFailTheCheck() throws {
        var doctored = try baseline()
        let index = try #require(doctored.cases.firstIndex { $0.converged && $0.iterations >= 4 })
        doctored.cases[index].iterations = 1
        let outcome = BaselineCheck.compare(quickReport, baseline: doctored)
        #expect(!outcome.passed)
        #expect(outcome.regressions.count == 1)
        #expect(outcome.regressions[0].contains("iterations"))
    }

    @Test func lostConvergenceAndLargerErrorsFailTheCheck() throws {
        let base = try baseline()
        var now = base
        let found = now.cases.firstIndex { $0.converged }
        let i = try #require(found)
        now.cases[i].converged = false
        now.cases[i].attempts = [
            AttemptRecord(method: .newton, iterations: 100, converged: false, outcome: "iteration limit 100 reached")
        ]
        var outcome = BaselineCheck.compare(now, baseline: base)
        #expect(!outcome.passed && outcome.regressions[0].contains("now does not"))
        now = base
        now.cases[i].maxAbsError = 1
        outcome = BaselineCheck.compare(now, baseline: base)
        #expect(!outcome.passed && outcome.regressions[0].contains("error"))
        // Wall times never matter.
        now = base
        for j in now.cases.indices {
            now.cases[j].parallelSeconds *= 100
            now.cases[j].speedup /= 100
        }
        #expect(BaselineCheck.compare(now, baseline: base).passed)
    }

    @Test func margins() {
        #expect(BaselineCheck.allowedIterations(baseline: 3) == 5)
        #expect(BaselineCheck.allowedIterations(baseline: 8) == 10)
        #expect(BaselineCheck.allowedIterations(baseline: 20) == 25)
        #expect(BaselineCheck.allowedIterations(baseline: 21) == 27)
        #expect(BaselineCheck.allowedError(baseline: 1e-15, tolerance: 1e-10) == 1e-8)
        #expect(abs(BaselineCheck.allowedError(baseline: 1e-6, tolerance: 1e-10) - 1e-5) < 1e-18)
    }
}

@Suite struct ProgressTests {
    final class Lines: @unchecked Sendable {
        let lock = NSLock()
        var text = ""
        func append(_ s: String) {
            lock.lock()
            text += s
            lock.unlock()
        }
    }

    @Test func plainLinesEveryTenPercent() {
        let lines = Lines()
        let bar = ProgressBar(total: 50, interactive: false) { lines.append($0) }
        for i in 1...50 { bar.update(done: i, label: "case \(i)") }
        let printed = lines.text.split(separator: "\n")
        #expect(printed.count == 11)  // 0 %, 10 %, …, 100 %
        #expect(!lines.text.contains("\r"))
        #expect(printed.last?.contains("50/50 cases (100 %)") == true)
    }

    @Test func terminalRedrawsOneLine() {
        let lines = Lines()
        let bar = ProgressBar(total: 3, interactive: true) { lines.append($0) }
        for i in 1...3 { bar.update(done: i, label: "case \(i)") }
        #expect(lines.text.filter { $0 == "\r" }.count == 3)
        #expect(lines.text.hasSuffix("\n") && lines.text.filter { $0 == "\n" }.count == 1)
    }
}
