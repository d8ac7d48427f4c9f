import Foundation
import ParaRNN
import ParallelScan
import Testing

/// The batch-split streamed rollout's finite-state guard: each worker scans its own sequences'
/// states block by block as it writes them, and the smallest flat `[T][B][n]` index over the
/// workers must be what one scan over all the states (``firstNonFinite(_:)``, the independent
/// reference) returns — wherever the overflows are: first and last step, first and last batch
/// entry and unit, block boundaries, several at once in different workers, B = 7 over 2, 3
/// and 7 workers; with the pages prefaulted before the workers or not.
@Suite("Batch-split finite-state guard")
struct BatchSplitGuardTests {
    static let (d, steps, batch) = (8, 9_000, 7)

    /// An Elman ReLU cell (m = 1, W_hh = 0, no bias) in which the input 10^(18.6 − k) makes
    /// exactly the units u ≥ k overflow to +Inf (W_ih[u] = 10^(20 + u): 10^(38.6 + u − k)
    /// exceeds Float's 3.4e38 only for u ≥ k), and 0.5 keeps every unit finite. A worker of
    /// one entry streams 8 192-step blocks (8 projections per step), of two entries 4 096, of
    /// three 2 730: the 9 000 steps end in a partial block.
    func cell() throws -> ElmanRNN<Float> {
        let d = Self.d
        return try ElmanRNN<Float>(
            inputSize: 1, hiddenSize: d, weightIH: (0..<d).map { Float(pow(10, 20 + Double($0))) },
            weightHH: [Float](repeating: 0, count: d * d), biasIH: [Float](repeating: 0, count: d),
            biasHH: [Float](repeating: 0, count: d), activation: .relu)
    }

    /// Inputs `[T][B][1]` of 0.5 with overflows from unit k of entry b at step t for each
    /// `(t, b, k)`, and the flat index of the first one.
    func inputs(overflows: [(t: Int, b: Int, k: Int)]) -> ([Float], Int?) {
        var x = [Float](repeating: 0.5, count: Self.steps * Self.batch)
        for (t, b, k) in overflows { x[t * Self.batch + b] = Float(pow(10, 18.6 - Double(k))) }
        let first = overflows.map { ($0.t * Self.batch + $0.b) * Self.d + $0.k }.min()
        return (x, first)
    }

    static let cases: [[(t: Int, b: Int, k: Int)]] = [
        [],
        [(0, 0, 0)],
        [(steps - 1, batch - 1, d - 1)],
        [(steps - 1, 0, 4), (steps - 1, batch - 1, 0)],
        [(8_191, 6, 2), (8_192, 0, 0)],
        [(4_095, 5, 1), (4_096, 2, 0), (8_500, 0, 0)],
        [(2_730, 3, 7), (2_730, 4, 6)],
        [(7_000, 6, 3), (7_001, 0, 0)],
    ]

    @Test("the workers' scans give the first index of one scan over all states, prefaulted or not")
    func workersScan() throws {
        let cell = try cell()
        let (steps, batch) = (Self.steps, Self.batch)
        let h0 = [Float](repeating: 0, count: batch * Self.d)
        for overflows in Self.cases {
            let (x, expected) = inputs(overflows: overflows)
            for workers in [2, 3, 7] {
                for prefault in [true, false] {
                    let pool = WorkerPool(threadCount: workers, grainSize: 1, choice: .allThreads)
                    let solver = SequenceSolver(cell: cell, options: SolverOptions(method: .sequential, pool: pool))
                    var states = [Float](repeating: 0, count: steps * batch * Self.d)
                    let found = x.withUnsafeBufferPointer { x in
                        h0.withUnsafeBufferPointer { h0 in
                            states.withUnsafeMutableBufferPointer { h in
                                solver.streamedBatchSplitRollout(
                                    inputs: x.baseAddress!, steps: steps, batch: batch, initial: h0.baseAddress!,
                                    states: h.baseAddress!, workers: workers, prefault: prefault)
                            }
                        }
                    }
                    let scanned = states.withUnsafeBufferPointer { firstNonFinite($0) }
                    #expect(scanned == expected, "the cell overflows where placed: \(overflows)")
                    #expect(found == scanned, "\(overflows), \(workers) workers, prefault \(prefault)")
                }
            }
        }
    }

    @Test("the solver reports the first non-finite state of a split batch at its step and offset")
    func solverReports() throws {
        let cell = try cell()
        let row = Self.batch * Self.d
        for overflows in Self.cases {
            let (x, expected) = inputs(overflows: overflows)
            for threads in [1, 3, 16] {
                var options = SolverOptions(
                    method: .sequential, pool: WorkerPool(threadCount: threads, grainSize: 1, choice: .allThreads))
                options.inputsCheckedFinite = true
                let solution = try SequenceSolver(cell: cell, options: options).solve(
                    inputs: x, steps: Self.steps, batch: Self.batch)
                #expect(solution.nonFiniteState?.step == expected.map { $0 / row }, "\(overflows), \(threads) threads")
                #expect(solution.nonFiniteState?.offset == expected.map { $0 % row })
                #expect(solution.converged == (expected == nil))
                #expect(solution.finalResidual.isNaN == (expected != nil))
            }
        }
    }

    @Test("an LSTM layer's hidden outputs written by the split batch's workers: bitwise h of the one-thread states")
    func lstmHiddenOutputs() throws {
        // d = 5 (h is the last 5 of each entry's 10 state values), B = 7 over 1, 3 and 7
        // workers, 3 000 steps (blocks of 2 048 steps for one entry: two blocks).
        let (d, steps, batch) = (5, 3_000, 7)
        let cell = try RandomCells.lstm(Float.self, m: 3, d: d, scale: 1, seed: 31)
        var rng = SeededGenerator(seed: 32)
        let x: [Float] = uniform(steps * batch * 3, 1, &rng)
        let one = SolverOptions(method: .sequential, pool: .serial)
        let states = try SequenceSolver(cell: cell, options: one).solve(inputs: x, steps: steps, batch: batch).states
        // The independent reference: h read off the one-thread states by index.
        var expected = [Float](repeating: 0, count: steps * batch * d)
        for t in 0..<steps {
            for b in 0..<batch {
                for i in 0..<d { expected[(t * batch + b) * d + i] = states[(t * batch + b) * 2 * d + d + i] }
            }
        }
        let layer = AnyLayer(cell, kind: .lstm)
        for threads in [1, 3, 7] {
            let options = SolverOptions(
                method: .sequential, pool: WorkerPool(threadCount: threads, grainSize: 1, choice: .allThreads))
            let solved = try layer.solve(inputs: x, steps: steps, batch: batch, options: options)
            #expect(solved.hidden == expected, "\(threads) threads")
            #expect(solved.solution.states == states, "\(threads) threads")
        }
    }
}
