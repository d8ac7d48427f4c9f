import Foundation
import ParaRNN
import ParallelScan
import Testing

/// The fused dense rollouts (GRU, LSTM, Elman) against the cells' generic `step` (an
/// independent reference: plain arithmetic, one sequence at a time), for widths that exercise
/// every register tile and tail (d = 1, 3, 4, 5, 8, 21, 64: G·d from 1 to 256), batch tails and
/// groups of four sequences (B = 5, 9), a batch split across workers, and both precisions.
@Suite("Dense rollout")
struct DenseRolloutTests {
    static let widths = [1, 3, 4, 5, 8, 21, 64]

    func check<C: GenericStepCell>(
        _ cell: C, steps: Int, batch: Int, threads: Int, tolerance: Double
    ) throws {
        var rng = SeededGenerator(seed: 77)
        let x: [C.Scalar] = uniform(steps * batch * cell.inputSize, 1.5, &rng)
        let options = SolverOptions(
            method: .sequential, pool: WorkerPool(threadCount: threads, grainSize: 1, choice: .allThreads))
        let states = try SequenceSolver(cell: cell, options: options).rollout(inputs: x, steps: steps, batch: batch)
        let reference = referenceRollout(cell, inputs: x, steps: steps, batch: batch)
        var worst = 0.0
        for b in 0..<batch {
            for t in 0..<steps {
                for i in 0..<cell.stateSize {
                    let got = Double(stateValue(cell, states, t: t, b: b, i: i, batch: batch))
                    let want = Double(reference[b][t * cell.stateSize + i])
                    worst = max(worst, abs(got - want))
                }
            }
        }
        #expect(
            worst <= tolerance, "\(C.cellName) d=\(cell.hiddenSize) B=\(batch) threads=\(threads): max |Δ| \(worst)")
    }

    /// The sequential solve's states on seeded random inputs with `threads` workers.
    func sequentialStates<C: GenericStepCell>(
        _ cell: C, steps: Int, batch: Int, threads: Int, seed: UInt64
    ) throws -> [C.Scalar] {
        var rng = SeededGenerator(seed: seed)
        let x: [C.Scalar] = uniform(steps * batch * cell.inputSize, 1, &rng)
        let options = SolverOptions(
            method: .sequential, pool: WorkerPool(threadCount: threads, grainSize: 1, choice: .allThreads))
        return try SequenceSolver(cell: cell, options: options).rollout(inputs: x, steps: steps, batch: batch)
    }

    @Test("GRU, LSTM, Elman (tanh and ReLU) in Float: every tile width, batch tails, split batches", arguments: widths)
    func float(d: Int) throws {
        for (batch, threads) in [(1, 1), (3, 2), (5, 4), (9, 2)] {
            try check(
                RandomCells.gru(Float.self, m: 3, d: d, scale: 1, seed: 5), steps: 40, batch: batch, threads: threads,
                tolerance: 2e-5)
            try check(
                RandomCells.lstm(Float.self, m: 3, d: d, scale: 1, seed: 6), steps: 40, batch: batch, threads: threads,
                tolerance: 2e-5)
            try check(
                RandomCells.elman(Float.self, m: 3, d: d, scale: 1, seed: 7), steps: 40, batch: batch, threads: threads,
                tolerance: 2e-5)
            let tanh = try RandomCells.elman(Float.self, m: 3, d: d, scale: 1, seed: 7)
            // ReLU is unbounded: recurrent weights scaled to a contraction keep the states O(1),
            // where the absolute tolerance means what it says.
            let relu = try ElmanRNN<Float>(
                inputSize: 3, hiddenSize: d, weightIH: tanh.inputWeights,
                weightHH: tanh.recurrentWeights.map { $0 * 0.3 },
                biasIH: tanh.inputBias, biasHH: tanh.recurrentBias, activation: .relu)
            try check(relu, steps: 40, batch: batch, threads: threads, tolerance: 2e-5)
        }
    }

    @Test("GRU, LSTM, Elman in Double", arguments: [3, 4, 21, 64])
    func double(d: Int) throws {
        try check(
            RandomCells.gru(Double.self, m: 2, d: d, scale: 1, seed: 8), steps: 30, batch: 5, threads: 1,
            tolerance: 1e-12)
        try check(
            RandomCells.lstm(Double.self, m: 2, d: d, scale: 1, seed: 9), steps: 30, batch: 3, threads: 2,
            tolerance: 1e-12)
        try check(
            RandomCells.elman(Double.self, m: 2, d: d, scale: 1, seed: 10), steps: 30, batch: 3, threads: 2,
            tolerance: 1e-12)
    }

    @Test("streamed blocks of projections: several blocks (one worker) against the reference and a split batch")
    func streamedBlocks() throws {
        // d = 32, B = 3: 1.1 KB of projections per step, so one worker streams 227-step blocks
        // (3 blocks, the last partial); split over two workers, each streams its own entries:
        // the worker of two entries in 341-step blocks (one block boundary), the other in one.
        let cell = try RandomCells.gru(Float.self, m: 2, d: 32, scale: 1, seed: 21)
        try check(cell, steps: 500, batch: 3, threads: 1, tolerance: 2e-5)
        #expect(
            try sequentialStates(cell, steps: 500, batch: 3, threads: 1, seed: 22)
                == sequentialStates(cell, steps: 500, batch: 3, threads: 2, seed: 22))
        // Many inputs (the BLAS projection) in a split batch: against the reference.
        let wide = try RandomCells.lstm(Float.self, m: 10, d: 32, scale: 1, seed: 23)
        try check(wide, steps: 500, batch: 3, threads: 2, tolerance: 2e-5)
    }

    @Test("a split batch gives the same states bit for bit as one worker (groups of four or single products)")
    func splitIsExact() throws {
        let cell = try RandomCells.lstm(Float.self, m: 2, d: 13, scale: 1, seed: 11)
        #expect(
            try sequentialStates(cell, steps: 50, batch: 7, threads: 1, seed: 12)
                == sequentialStates(cell, steps: 50, batch: 7, threads: 3, seed: 12))
    }

    /// d = 4 runs single sequences in registers (`fourUnitRollout`) and groups of four through
    /// the packed product: with one worker, B = 7 is a group (entries 0–3) and three single
    /// sequences; with three workers every entry is single. Both must agree bit for bit.
    @Test("d = 4: the register rollout of one sequence equals the grouped product bit for bit")
    func fourUnitsAreExact() throws {
        let gru = try RandomCells.gru(Float.self, m: 3, d: 4, scale: 1.5, seed: 41)
        let lstm = try RandomCells.lstm(Float.self, m: 3, d: 4, scale: 1.5, seed: 42)
        let gruDouble = try RandomCells.gru(Double.self, m: 2, d: 4, scale: 1.5, seed: 43)
        let lstmDouble = try RandomCells.lstm(Double.self, m: 2, d: 4, scale: 1.5, seed: 44)
        /// B = 7 on one worker (a group of four, three singles) against three workers (all singles).
        func groupedEqualsSingles<C: GenericStepCell>(_ cell: C, seed: UInt64) throws -> Bool {
            try sequentialStates(cell, steps: 300, batch: 7, threads: 1, seed: seed)
                == sequentialStates(cell, steps: 300, batch: 7, threads: 3, seed: seed)
        }
        #expect(try groupedEqualsSingles(gru, seed: 45))
        #expect(try groupedEqualsSingles(lstm, seed: 46))
        #expect(try groupedEqualsSingles(gruDouble, seed: 47))
        #expect(try groupedEqualsSingles(lstmDouble, seed: 48))
    }

    @Test("rollout workers: one per group of sequences for dense cells, never more than B; one for the others")
    func workerDecision() throws {
        let gru = SequenceSolver(cell: try RandomCells.gru(Float.self, m: 2, d: 4, scale: 1, seed: 1))
        #expect(gru.rolloutWorkers(batch: 1, threads: 16) == 1)
        #expect(gru.rolloutWorkers(batch: 16, threads: 1) == 1)
        #expect(gru.rolloutWorkers(batch: 16, threads: 2) == 2)
        #expect(gru.rolloutWorkers(batch: 3, threads: 16) == 3)
        let paraGRU = SequenceSolver(cell: try RandomCells.paraGRU(Float.self, m: 2, d: 4, scale: 1, seed: 1))
        #expect(paraGRU.rolloutWorkers(batch: 16, threads: 16) == 1)
    }

    /// One sequence rolled out with its steps split across `workers` threads.
    func splitStepStates<C: RecurrentCell>(_ cell: C, steps: Int, workers: Int, seed: UInt64) -> [C.Scalar] {
        var rng = SeededGenerator(seed: seed)
        let x: [C.Scalar] = uniform(steps * cell.inputSize, 1, &rng)
        let h0 = [C.Scalar](repeating: 0, count: cell.stateSize)
        var states = [C.Scalar](repeating: .nan, count: steps * cell.stateSize)
        x.withUnsafeBufferPointer { x in
            h0.withUnsafeBufferPointer { h0 in
                states.withUnsafeMutableBufferPointer { h in
                    cell.rolloutSplittingSteps(
                        inputs: x.baseAddress!, steps: steps, initial: h0.baseAddress!, states: h.baseAddress!,
                        workers: workers)
                }
            }
        }
        return states
    }

    @Test("steps split across threads (one sequence): bit for bit the one-thread fused rollout")
    func splitStepsAreExact() throws {
        // d = 40: five octets over 2 and 3 workers; d = 20: two octets and a tail of four.
        let gru = try RandomCells.gru(Float.self, m: 3, d: 40, scale: 1, seed: 31)
        let lstm = try RandomCells.lstm(Double.self, m: 2, d: 20, scale: 1, seed: 32)
        let elman = try RandomCells.elman(Float.self, m: 2, d: 24, scale: 1, seed: 33)
        for workers in [2, 3] {
            #expect(
                splitStepStates(gru, steps: 60, workers: workers, seed: 34)
                    == (try sequentialStates(gru, steps: 60, batch: 1, threads: 1, seed: 34)))
            #expect(
                splitStepStates(lstm, steps: 60, workers: workers, seed: 35)
                    == (try sequentialStates(lstm, steps: 60, batch: 1, threads: 1, seed: 35)))
            #expect(
                splitStepStates(elman, steps: 60, workers: workers, seed: 36)
                    == (try sequentialStates(elman, steps: 60, batch: 1, threads: 1, seed: 36)))
        }
    }

    /// The fused rollout runs the gate math in two passes over the units (`StagedGates.swift`);
    /// the split-step rollout keeps the one-pass gate functions (`GRU.gates`, `LSTM.gates`), so
    /// it is the reference here: octets only (d = 16, 64) and a quad tail (d = 20), one worker
    /// and two. In Float, d = 64 and 128 run the first pass inside the product
    /// (`PipelinedGates.swift`): one band per gate, and two (a band's activation pending across
    /// gates, both walk directions).
    @Test("two-pass gates of the fused rollout: bit for bit the one-pass gates (GRU, LSTM, Float, Double)")
    func stagedGatesAreExact() throws {
        for (d, workers) in [(16, 1), (20, 1), (64, 2), (128, 2)] {
            let gru = try RandomCells.gru(Float.self, m: 3, d: d, scale: 1.5, seed: 51)
            let lstm = try RandomCells.lstm(Float.self, m: 3, d: d, scale: 1.5, seed: 52)
            let gruDouble = try RandomCells.gru(Double.self, m: 2, d: d, scale: 1.5, seed: 53)
            let lstmDouble = try RandomCells.lstm(Double.self, m: 2, d: d, scale: 1.5, seed: 54)
            #expect(
                splitStepStates(gru, steps: 24, workers: workers, seed: 55)
                    == (try sequentialStates(gru, steps: 24, batch: 1, threads: 1, seed: 55)), "GRU Float d=\(d)")
            #expect(
                splitStepStates(lstm, steps: 24, workers: workers, seed: 56)
                    == (try sequentialStates(lstm, steps: 24, batch: 1, threads: 1, seed: 56)), "LSTM Float d=\(d)")
            #expect(
                splitStepStates(gruDouble, steps: 24, workers: workers, seed: 57)
                    == (try sequentialStates(gruDouble, steps: 24, batch: 1, threads: 1, seed: 57)),
                "GRU Double d=\(d)")
            #expect(
                splitStepStates(lstmDouble, steps: 24, workers: workers, seed: 58)
                    == (try sequentialStates(lstmDouble, steps: 24, batch: 1, threads: 1, seed: 58)),
                "LSTM Double d=\(d)")
        }
    }

    @Test("split steps: only one long sequence of large d; the solver takes them and stays exact")
    func splitStepDecision() throws {
        // Never more workers than the machine's cores (they meet at a barrier every step).
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let big = try RandomCells.gru(Float.self, m: 2, d: 256, scale: 1, seed: 1)
        #expect(big.stepSplitWorkers(batch: 1, steps: 10_000, threads: 16) == min(12, cores))
        #expect(big.stepSplitWorkers(batch: 1, steps: 10_000, threads: 2) == min(2, cores))
        #expect(big.stepSplitWorkers(batch: 2, steps: 10_000, threads: 16) == 1)
        #expect(big.stepSplitWorkers(batch: 1, steps: 100, threads: 16) == 1)
        #expect(big.stepSplitWorkers(batch: 1, steps: 10_000, threads: 1) == 1)
        let small = try RandomCells.gru(Float.self, m: 2, d: 64, scale: 1, seed: 1)
        #expect(small.stepSplitWorkers(batch: 1, steps: 10_000, threads: 16) == 1)
        let lstm = try RandomCells.lstm(Float.self, m: 2, d: 128, scale: 1, seed: 2)
        #expect(lstm.stepSplitWorkers(batch: 1, steps: 10_000, threads: 16) == min(4, cores))
        let paraGRU = try RandomCells.paraGRU(Float.self, m: 2, d: 256, scale: 1, seed: 1)
        #expect(paraGRU.stepSplitWorkers(batch: 1, steps: 10_000, threads: 16) == 1)
        // Through the solver: d = 128, 3 threads → up to 3 workers share each step.
        let gru = try RandomCells.gru(Float.self, m: 2, d: 128, scale: 1, seed: 3)
        #expect(gru.stepSplitWorkers(batch: 1, steps: 256, threads: 3) == min(3, cores))
        #expect(
            try sequentialStates(gru, steps: 256, batch: 1, threads: 3, seed: 4)
                == sequentialStates(gru, steps: 256, batch: 1, threads: 1, seed: 4))
    }
}
