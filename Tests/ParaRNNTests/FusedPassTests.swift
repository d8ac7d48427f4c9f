import ParallelScan
import Testing

@testable import ParaRNN

/// The fused Newton engine's check passes: when the convergence prediction is wrong the engine
/// re-linearises and goes on. Forcing a check after every second pass exercises that path on
/// every iteration; the result must still equal the rollout.
@Suite("Fused Newton check passes")
struct FusedPassTests {
    @Test("forced check passes that fail are re-linearised; the solution still equals the rollout", arguments: [1, 3])
    func forcedChecks(threads: Int) throws {
        let cell = try RandomCells.paraLSTM(Double.self, m: 2, d: 4, scale: 1, seed: 31)
        let (steps, batch) = (2000, 2)
        var rng = SeededGenerator(seed: 32)
        let x: [Double] = uniform(steps * batch * cell.inputSize, 1, &rng)
        let pool = WorkerPool(threadCount: threads, grainSize: 1, choice: .allThreads)
        let row = cell.stateRowSize(batch: batch)
        var projections = [Double](repeating: 0, count: steps * cell.projectionRowSize(batch: batch))
        var states = [Double](repeating: .nan, count: steps * row)
        let h0 = [Double](repeating: 0, count: row)
        var residuals: [Double] = []
        let attempt = x.withUnsafeBufferPointer { x in
            projections.withUnsafeMutableBufferPointer { u in
                cell.project(
                    inputs: x.baseAddress!, steps: steps, batch: batch, projections: u.baseAddress!, pool: pool)
                return h0.withUnsafeBufferPointer { h0 in
                    states.withUnsafeMutableBufferPointer { s in
                        let engine = NewtonEngine(
                            cell: cell, steps: steps, batch: batch, projections: UnsafePointer(u.baseAddress!),
                            previous: h0.baseAddress!, states: s.baseAddress!, pool: pool)
                        return engine.iterateFused(
                            tolerance: 1e-10, maxIterations: 60, hasGuess: false, checkThreshold: .infinity
                        ) { _, r in residuals.append(r) }
                    }
                }
            }
        }
        #expect(attempt.converged, "\(attempt.outcome)")
        // Checks that fail leave the residual where a step would have: it keeps falling.
        #expect(residuals.count >= 3 && residuals.last! <= 1e-10)
        let reference = try SequenceSolver(cell: cell, options: SolverOptions(method: .sequential, pool: .serial))
            .solve(inputs: x, steps: steps, batch: batch).states
        let error = zip(states, reference).map { abs($0 - $1) }.max() ?? .nan
        #expect(error <= 1e-9, "error \(error)")
    }
}
