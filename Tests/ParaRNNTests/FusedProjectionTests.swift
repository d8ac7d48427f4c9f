import ParallelScan
import Testing

@testable import ParaRNN

/// The input projection fused into the first Newton pass (each worker projects its block of
/// rows just before linearising it) and the per-phase timings of the fused passes.
@Suite("Fused projection and phase timings")
struct FusedProjectionTests {
    /// Newton from inputs (fused projection) against Newton from projections computed by one
    /// `project` call: the same projection values row by row, so the same iterates — bitwise —
    /// and both equal to the rollout.
    @Test(
        "fused projection: bitwise the projected solve, equal to the rollout",
        arguments: [(1, 1, 0), (3, 2, 0), (3, 1, 250), (2, 3, 0)])
    func fusedProjection(threads: Int, batch: Int, segment: Int) throws {
        let gru = try RandomCells.paraGRU(Double.self, m: 2, d: 4, scale: 1, seed: 41)
        try check(gru, threads: threads, batch: batch, segment: segment)
        let lstm = try RandomCells.paraLSTM(Double.self, m: 3, d: 4, scale: 1, seed: 42)
        try check(lstm, threads: threads, batch: batch, segment: segment)
    }

    /// Many inputs: the projection goes through the GEMM per block instead of the small-input
    /// kernel (rounding may differ from one GEMM over all rows).
    @Test("fused projection with many inputs (GEMM per block) equals the rollout")
    func manyInputs() throws {
        let cell = try RandomCells.paraGRU(Double.self, m: 12, d: 4, scale: 0.4, seed: 43)
        try check(cell, threads: 3, batch: 2, segment: 0, bitwise: false)
    }

    func check<C: RecurrentCell>(
        _ cell: C, threads: Int, batch: Int, segment: Int, bitwise: Bool = true
    ) throws where C.Scalar == Double {
        let steps = 600
        var rng = SeededGenerator(seed: 44)
        let x: [Double] = uniform(steps * batch * cell.inputSize, 1, &rng)
        let h0: [Double] = uniform(cell.stateRowSize(batch: batch), 0.5, &rng)
        let pool = WorkerPool(threadCount: threads, grainSize: 1, choice: .allThreads)
        var options = SolverOptions(method: .newton, tolerance: 1e-11, pool: pool)
        options.segmentLength = segment > 0 ? segment : nil
        let solver = SequenceSolver(cell: cell, options: options)
        let fused = try solver.solve(inputs: x, steps: steps, batch: batch, initialState: h0)
        var projections = [Double](repeating: 0, count: steps * cell.projectionRowSize(batch: batch))
        x.withUnsafeBufferPointer { x in
            projections.withUnsafeMutableBufferPointer { u in
                cell.project(
                    inputs: x.baseAddress!, steps: steps, batch: batch, projections: u.baseAddress!, pool: .serial)
            }
        }
        let projected = solver.solve(projections: projections, steps: steps, batch: batch, initialState: h0)
        #expect(fused.converged && projected.converged)
        #expect(fused.iterations == projected.iterations)
        if bitwise { #expect(fused.states == projected.states) }
        let reference = try SequenceSolver(cell: cell, options: SolverOptions(method: .sequential, pool: .serial))
            .solve(inputs: x, steps: steps, batch: batch, initialState: h0).states
        let error = zip(fused.states, reference).map { abs($0 - $1) }.max() ?? .nan
        #expect(error <= 1e-9, "error \(error)")
    }

    @Test("phase timings: every pass and worker recorded, projection timed when fused", arguments: [1, 2])
    func timings(threads: Int) throws {
        let cell = try RandomCells.paraGRU(Float.self, m: 2, d: 4, scale: 1, seed: 45)
        let (steps, batch) = (6_000, 1)
        var rng = SeededGenerator(seed: 46)
        let x: [Float] = uniform(steps * batch * cell.inputSize, 1, &rng)
        var options = SolverOptions(
            method: .newton, pool: WorkerPool(threadCount: threads, grainSize: 1, choice: .allThreads))
        // Every phase runs from ParaRNN's guess (from chunk rollouts this cell is certified
        // after the first pass).
        options.newtonGuess = .zeroState
        let timings = NewtonPhaseTimings()
        options.phaseTimings = timings
        let solution = try SequenceSolver(cell: cell, options: options).solve(inputs: x, steps: steps, batch: batch)
        #expect(solution.converged)
        // One pass per iteration after the first, plus re-linearisations after failed checks.
        #expect(timings.passes >= solution.iterations + 1)
        #expect(timings.workers == threads)
        for phase: NewtonPhaseTimings.Phase in [.project, .solve, .linearise] {
            #expect(timings.total(phase) > 0, "\(phase.name)")
        }
        if threads > 1 { #expect(timings.total(.reduce) > 0) }
        // Chunks go to whichever worker is free (forEachDynamic), so one worker may take them all
        // on a loaded machine; together they are busy, each only inside passes.
        #expect((0..<threads).map { timings.busy(worker: $0) }.reduce(0, +) > 0)
        for w in 0..<threads { #expect(timings.busy(worker: w) >= 0) }
        // A worker is busy only inside passes.
        for w in 0..<threads { #expect(timings.busy(worker: w) <= timings.passWall) }
        // ParaGRU d = 4, m = 2, Float: the first pass reads x (8 B) and writes u (48 B), h, J, b (48 B).
        #expect(timings.bytesPerStepPerPass > 50 && timings.bytesPerStepPerPass < 200)
        #expect(timings.notes["busy w\(threads - 1) ms"] != nil)
        #expect(timings.summary.contains("linearise"))
    }
}
