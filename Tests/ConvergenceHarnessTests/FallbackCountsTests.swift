import ConvergenceHarness
import ParaRNN
import ParallelScan
import Testing

/// The done-when counts (``FallbackCounts``) on a tiny grid whose outcomes are then edited.
@Suite struct FallbackCountsTests {
    /// ParaGRU, newton and elk, s ∈ {0.5, 4}, both guesses: 8 cases (T = 64, d = 3).
    static let grid = GridConfig(
        name: "tiny", cells: [.paragru], methods: [.newton, .elk], steps: [64], hiddenSizes: [3],
        batchSizes: [1], weightScales: [0.5, 4], guesses: [.default, .zeros], precisions: [.double],
        seeds: [1])

    func index(_ report: HarnessReport, _ method: SolverMethod, _ scale: Double, _ guess: HarnessGuess) -> Int {
        report.cases.firstIndex { $0.key.method == method && $0.key.scale == scale && $0.key.guess == guess }!
    }

    /// The starting point of each test's edits: every case converged, `.automatic` picked the
    /// rollout and its contractivity pick was Newton.
    func markAllConvergedPickingNewton(_ report: inout HarnessReport) {
        for i in report.cases.indices {
            report.cases[i].converged = true
            report.cases[i].automaticMethod = .sequential
            report.cases[i].parallelChoice = .newton
        }
    }

    @Test func countsFollowTheChain() throws {
        let run = try HarnessRunner(config: Self.grid, pool: WorkerPool(threadCount: 2, choice: .allThreads)).run()
        #expect(run.cases.count == 8)
        #expect(FallbackCounts(run).nanHistories == 0)

        var report = run
        markAllConvergedPickingNewton(&report)
        var counts = FallbackCounts(report)
        // (a) only s ≤ 3: 4 cases; (b) 4 case keys (scale × guess), each picking newton.
        #expect(counts.chainCases == 4 && counts.chainFallbacks == 0 && counts.chainUndetermined == 0)
        #expect(counts.contractivityParallelPicks == 4 && counts.contractivityFallbacks == 0)
        #expect(counts.automaticParallelPicks == 0)
        #expect(counts.passed)

        // Newton failing from zeros is rescued by ELK (which restarts from the default guess).
        report.cases[index(report, .newton, 0.5, .zeros)].converged = false
        #expect(FallbackCounts(report).chainFallbacks == 0)
        // Once ELK from the default guess fails too, that chain and ELK's own end in the rollout;
        // ELK from zeros (its own guess) still converges.
        report.cases[index(report, .elk, 0.5, .default)].converged = false
        counts = FallbackCounts(report)
        #expect(counts.chainFallbacks == 2 && counts.chainCases == 4)
        #expect(counts.contractivityFallbacks == 1)
        #expect(!counts.passed)

        // `.automatic` picking ELK at s = 4 (outside (a)) where ELK fails.
        let elk4 = index(report, .elk, 4, .default)
        report.cases[elk4].converged = false
        for i in report.cases.indices where report.cases[i].key.scale == 4 && report.cases[i].key.guess == .default {
            report.cases[i].automaticMethod = .elk
        }
        counts = FallbackCounts(report)
        #expect(counts.automaticParallelPicks == 1 && counts.automaticFallbacks == 1)
        #expect(counts.chainFallbacks == 2)

        // (c) NaN and Inf in histories.
        report.cases[0].residualHistory.append(.nan)
        report.cases[1].residualHistory.append(.infinity)
        counts = FallbackCounts(report)
        #expect(counts.nanHistories == 1 && counts.infiniteHistories == 1)
        #expect(report.markdown().contains(counts.line))
        #expect(counts.line.contains("(a) ParaGRU/ParaLSTM s ≤ 3: 2 of 4 cases"))

        // Without the ELK cases the chains of failed Newton cases are undetermined.
        var newtonOnly = report
        newtonOnly.cases.removeAll { $0.key.method == .elk }
        counts = FallbackCounts(newtonOnly)
        #expect(counts.chainUndetermined == 1 && counts.chainCases == 1 && counts.chainFallbacks == 0)
        #expect(counts.picksUndetermined == 2)  // newton from zeros at s = 0.5; the ELK pick at s = 4
    }

    /// With the product's guess ("chunks") ELK in the chain restarts from the chunk rollouts, so a
    /// failed "chunks" attempt is rescued or not by ELK from "chunks", never by ELK from "default".
    @Test func chunksChainsRestartELKFromTheChunks() throws {
        let grid = GridConfig(
            name: "tiny-chunks", cells: [.paragru], methods: [.newton, .elk], steps: [64], hiddenSizes: [3],
            batchSizes: [1], weightScales: [0.5], guesses: [.default, .chunks], precisions: [.double], seeds: [1])
        var report = try HarnessRunner(config: grid, pool: WorkerPool(threadCount: 2, choice: .allThreads)).run()
        #expect(report.cases.count == 4)
        markAllConvergedPickingNewton(&report)
        var counts = FallbackCounts(report)
        #expect(counts.chainCases == 4 && counts.chainFallbacks == 0 && counts.chunkThreads == 2)
        #expect(counts.line.hasSuffix("; guess \"chunks\" planned for 2 threads"))
        #expect(report.markdown().contains("Guess `chunks` (the solver's default start) planned for 2 threads"))

        report.cases[index(report, .newton, 0.5, .chunks)].converged = false
        report.cases[index(report, .elk, 0.5, .default)].converged = false
        counts = FallbackCounts(report)
        // ELK from "default" fails: only its own chain ends in the rollout; Newton from "chunks"
        // is rescued by ELK from "chunks".
        #expect(counts.chainFallbacks == 1 && counts.contractivityFallbacks == 0)
        report.cases[index(report, .elk, 0.5, .chunks)].converged = false
        counts = FallbackCounts(report)
        #expect(counts.chainFallbacks == 3 && counts.contractivityFallbacks == 1)
        let chunks = try #require(counts.byGuess[.chunks])
        #expect(chunks.chainFallbacks == 2 && chunks.chainCases == 2)
        #expect(chunks.contractivityFallbacks == 1 && chunks.contractivityParallelPicks == 1)
        #expect(counts.line.contains("by guess — chunks: (a) 2 of 2, contractivity picks 1 of 1, default: (a) 1 of 2"))
    }
}
