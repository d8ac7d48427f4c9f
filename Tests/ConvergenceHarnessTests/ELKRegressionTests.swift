import ConvergenceHarness
import ParallelScan
import Testing

/// A case ELK used to give up on (issue 16's s = 3 failures, scaled down to run in well under a
/// second): its largest residual stays O(1) for more than 50 iterations while the iterate is
/// fixed front by front, which the residual-only stagnation rule called stagnation. The wider
/// grid is `Harness/presets/elk-wide.json` (Harness/README.md).
@Suite struct ELKRegressionTests {
    @Test func elkConvergesThroughAStretchWithoutResidualProgress() throws {
        let grid = GridConfig(
            name: "elk-regression", cells: [.paragru], methods: [.elk], steps: [1000], hiddenSizes: [4],
            batchSizes: [1], weightScales: [3], guesses: [.default], precisions: [.double], seeds: [3])
        let key = try #require(grid.cases.first)
        let result = HarnessRunner(config: grid, pool: WorkerPool(threadCount: 2, choice: .allThreads)).run(key)
        #expect(result.converged, "\(result.outcome)")
        #expect(result.finalResidual <= 1e-10)
        #expect(result.maxAbsError <= 1e-8)
        // The old rule (stop when the residual has not halved in 50 iterations) would have
        // stopped this history before it converged.
        var best = Double.infinity
        var since = 0
        var oldRuleStops = false
        for r in result.residualHistory.dropLast() {
            if r < 0.5 * best {
                best = r
                since = 0
            } else {
                since += 1
            }
            if since >= 50 { oldRuleStops = true }
        }
        #expect(oldRuleStops)
    }
}
