import ConvergenceHarness
import ParallelScan
import Testing

/// A case ELK used to give up on (issue 16's s = 3 failures, scaled down to run in well under a
/// second): its largest residual stays O(1) for more than 50 iterations while the iterate is
/// fixed front by front, which the residual-only stagnation rule called stagnation. The wider
/// grid is `Harness/presets/elk-wide.json` (Harness/README.md).
@Suite struct ELKRegressionTests {
    /// The one ELK case of `cell` at s = 3 in Double, solved on `threads` threads, checked to have
    /// converged to the rollout (residual ≤ 1e-10, error ≤ 1e-8).
    func convergedELKCase(
        _ name: String, cell: HarnessCell = .paragru, steps: Int = 1000, hidden: Int, guess: HarnessGuess = .default,
        seed: UInt64, threads: Int = 2
    ) throws -> CaseResult {
        let grid = GridConfig(
            name: name, cells: [cell], methods: [.elk], steps: [steps], hiddenSizes: [hidden], batchSizes: [1],
            weightScales: [3], guesses: [guess], precisions: [.double], seeds: [seed])
        let key = try #require(grid.cases.first)
        let result = HarnessRunner(config: grid, pool: WorkerPool(threadCount: threads, choice: .allThreads)).run(key)
        #expect(result.converged, "\(result.outcome)")
        #expect(result.finalResidual <= 1e-10)
        #expect(result.maxAbsError <= 1e-8)
        return result
    }

    @Test func elkConvergesThroughAStretchWithoutResidualProgress() throws {
        _ = try convergedELKCase("elk-regression", hidden: 4, seed: 3)
        // It converges after more than 50 iterations without a halving of the residual (69 with
        // the segment sweeps of ``ELKRepair``, which settle half of the sequence here).
    }

    /// Formerly failing cases of `Harness/presets/elk-s3.json` (ParaGRU d = 2, seed 2: stagnated
    /// after 66 iterations at residual 0.44; ParaLSTM d = 4, seed 6: after 61 at 0.075): a lane on
    /// the wrong branch of its bistable recurrence, repaired a few steps per iteration. With the
    /// segment sweep (``ELKRepair``) they converge (52 and 20 iterations).
    @Test(arguments: [(HarnessCell.paragru, 2, UInt64(2)), (.paralstm, 4, 6)])
    func elkSweepsPastAWrongBranch(cell: HarnessCell, hidden: Int, seed: UInt64) throws {
        let result = try convergedELKCase("elk-sweep-regression", cell: cell, hidden: hidden, seed: seed)
        #expect(result.outcome.contains("segment sweep"), "\(result.outcome)")
    }

    /// The product's guess planned for 16 threads (7 chunks after 71-step burn-ins) on ParaGRU
    /// d = 2, T = 2 000, seed 2 at s = 3: three chunks' burn-ins land on the other branch of a
    /// bistable lane, and ELK from those rollouts stagnated (69 iterations, `elk-s3-chunks`) until
    /// the seam repair (``SeamRepairs``: longer burn-ins, then a sweep from a predecessor) — 15.
    @Test func elkFromChunkRolloutsWithRepairedSeams() throws {
        let result = try convergedELKCase(
            "seam-repair-regression", steps: 2000, hidden: 2, guess: .chunks, seed: 2, threads: 16)
        #expect(
            result.outcome.contains(
                "7 chunks after 71-step burn-ins, 3 again after longer burn-ins, 1 rolled out again"),
            "\(result.outcome)")
    }
}
