import ParallelScan
import Testing

@testable import ParaRNN

/// ELK in one memory pass per step (``NewtonEngine/iterateELKFused(tolerance:maxIterations:report:)``)
/// against the sequential rollout and the unfused ELK.
@Suite("Fused ELK passes")
struct FusedELKTests {
    /// Runs ELK on the engine (fused or not) from f(0, u); returns the attempt and the states.
    func run<C: RecurrentCell>(
        _ cell: C, steps: Int, batch: Int, threads: Int, fused: Bool, seed: UInt64
    ) -> (SolveAttempt, [C.Scalar], [C.Scalar]) {
        var rng = SeededGenerator(seed: seed)
        let x: [C.Scalar] = uniform(steps * batch * cell.inputSize, 1, &rng)
        let pool = WorkerPool(threadCount: threads, grainSize: 1, choice: .allThreads)
        let row = cell.stateRowSize(batch: batch)
        var projections = [C.Scalar](repeating: 0, count: steps * cell.projectionRowSize(batch: batch))
        var states = [C.Scalar](repeating: .nan, count: steps * row)
        var reference = [C.Scalar](repeating: 0, count: steps * row)
        let h0 = [C.Scalar](repeating: 0, count: row)
        let tolerance = SolverOptions.defaultTolerance(for: C.Scalar.self)
        let attempt = x.withUnsafeBufferPointer { x in
            projections.withUnsafeMutableBufferPointer { u in
                cell.project(
                    inputs: x.baseAddress!, steps: steps, batch: batch, projections: u.baseAddress!, pool: pool)
                return h0.withUnsafeBufferPointer { h0 in
                    reference.withUnsafeMutableBufferPointer { r in
                        cell.rollout(
                            steps: 0..<steps, batch: batch, previous: h0.baseAddress!,
                            projections: UnsafePointer(u.baseAddress!), states: r.baseAddress!)
                    }
                    return states.withUnsafeMutableBufferPointer { s in
                        let engine = NewtonEngine(
                            cell: cell, steps: steps, batch: batch, projections: UnsafePointer(u.baseAddress!),
                            previous: h0.baseAddress!, states: s.baseAddress!, pool: pool)
                        engine.initialiseGuess()
                        return engine.iterateELK(tolerance: tolerance, maxIterations: 100, fused: fused) { _, _ in }
                    }
                }
            }
        }
        return (attempt, states, reference)
    }

    func maxError<S: BinaryFloatingPoint>(_ a: [S], _ b: [S]) -> Double {
        zip(a, b).reduce(0.0) { worst, pair in
            let e = abs(Double(pair.0) - Double(pair.1))
            return e <= worst ? worst : e
        }
    }

    func expectFusedMatches<C: RecurrentCell>(_ cell: C, threads: Int, bound: Double) {
        let (fused, states, reference) = run(cell, steps: 800, batch: 2, threads: threads, fused: true, seed: 61)
        #expect(fused.converged, "\(C.self) \(threads) threads: \(fused.outcome) \(fused.residualHistory)")
        #expect(maxError(states, reference) <= bound, "\(C.self) \(threads) threads")
        #expect(fused.residualHistory.allSatisfy { $0.isFinite })
        // The unfused ELK (same rule, variances from zero per chunk): iterations of the same order.
        let (unfused, unfusedStates, _) = run(cell, steps: 800, batch: 2, threads: threads, fused: false, seed: 61)
        #expect(unfused.converged)
        #expect(maxError(states, unfusedStates) <= 2 * bound)
        #expect(
            abs(fused.iterations - unfused.iterations) <= max(2, unfused.iterations / 4),
            "\(C.self): fused \(fused.iterations), unfused \(unfused.iterations)")
    }

    @Test("fused ELK == sequential rollout (ParaGRU, ParaLSTM; Float, Double; 1 and 3 workers)", arguments: [1, 3])
    func matchesRollout(threads: Int) throws {
        expectFusedMatches(
            try RandomCells.paraGRU(Double.self, m: 3, d: 4, scale: 2, seed: 62), threads: threads, bound: 1e-9)
        expectFusedMatches(
            try RandomCells.paraGRU(Float.self, m: 3, d: 4, scale: 2, seed: 62), threads: threads, bound: 1e-4)
        expectFusedMatches(
            try RandomCells.paraLSTM(Double.self, m: 3, d: 4, scale: 2, seed: 63), threads: threads, bound: 1e-9)
        expectFusedMatches(
            try RandomCells.paraLSTM(Float.self, m: 3, d: 4, scale: 2, seed: 63), threads: threads, bound: 1e-4)
    }

    @Test("fused ELK applies to one sequence with per-lane or 2×2 elements only")
    func applicability() throws {
        let cell = try RandomCells.gru(Double.self, m: 2, d: 3, scale: 1, seed: 64)
        let dense = ELK.plan(for: cell.structure, stateSize: cell.stateSize).1
        let lstm = try RandomCells.paraLSTM(Double.self, m: 2, d: 3, scale: 1, seed: 64)
        let block = ELK.plan(for: lstm.structure, stateSize: lstm.stateSize).1
        var u = [Double](repeating: 0, count: 10 * cell.projectionRowSize(batch: 1))
        var s = [Double](repeating: 0, count: 10 * cell.stateRowSize(batch: 1))
        let h0 = [Double](repeating: 0, count: 10)
        let (fusesDense, fusesBlock) = u.withUnsafeMutableBufferPointer { u in
            s.withUnsafeMutableBufferPointer { s in
                h0.withUnsafeBufferPointer { h0 in
                    let engine = NewtonEngine(
                        cell: cell, steps: 10, batch: 1, projections: UnsafePointer(u.baseAddress!),
                        previous: h0.baseAddress!, states: s.baseAddress!, pool: .shared)
                    return (engine.fusesELK(structure: dense), engine.fusesELK(structure: block))
                }
            }
        }
        #expect(!fusesDense && fusesBlock)
    }
}
