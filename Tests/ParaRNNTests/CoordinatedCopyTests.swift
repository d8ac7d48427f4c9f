import Foundation
import ParallelScan
import Testing

@testable import ParaRNN

/// The batch split whose workers copy each block of states back together
/// (`coordinatedBatchSplitRollout`) against the one-worker rollout, bit for bit: the same
/// rollouts, only where the states are copied from changes. Several blocks (T above the
/// streaming block), uneven splits (B not a multiple of the workers), a worker count above B
/// (idle workers), d = 4 (single sequences in registers) and d = 5, both precisions.
@Suite("Coordinated batch-split copy")
struct CoordinatedCopyTests {
    func compare<C: GenericStepCell>(_ cell: C, steps: Int, batch: Int, workers: Int, seed: UInt64) throws -> Bool {
        var rng = SeededGenerator(seed: seed)
        let x: [C.Scalar] = uniform(steps * batch * cell.inputSize, 1, &rng)
        let one = SolverOptions(
            method: .sequential, pool: WorkerPool(threadCount: 1, grainSize: 1, choice: .allThreads))
        let reference = try SequenceSolver(cell: cell, options: one).rollout(inputs: x, steps: steps, batch: batch)
        let many = SolverOptions(
            method: .sequential, pool: WorkerPool(threadCount: workers, grainSize: 1, choice: .allThreads))
        let solver = try SequenceSolver(cell: cell, options: many)
        let row = cell.stateRowSize(batch: batch)
        let h0 = [C.Scalar](repeating: 0, count: row)
        var states = [C.Scalar](repeating: .nan, count: steps * row)
        x.withUnsafeBufferPointer { x in
            h0.withUnsafeBufferPointer { h0 in
                states.withUnsafeMutableBufferPointer { h in
                    solver.coordinatedBatchSplitRollout(
                        inputs: x.baseAddress!, steps: steps, batch: batch, initial: h0.baseAddress!,
                        states: h.baseAddress!, workers: workers)
                }
            }
        }
        return states == reference
    }

    @Test("bit for bit the one-worker rollout: GRU and LSTM, d = 4 and 5, uneven and idle workers, several blocks")
    func exact() throws {
        let gru = try RandomCells.gru(Float.self, m: 3, d: 4, scale: 1.5, seed: 51)
        let lstm = try RandomCells.lstm(Float.self, m: 2, d: 5, scale: 1.5, seed: 52)
        let lstmDouble = try RandomCells.lstm(Double.self, m: 2, d: 4, scale: 1.5, seed: 53)
        // GRU d = 4, B = 1: 12 projections of 4 bytes per step, a 5,461-step block: 3 blocks.
        #expect(try compare(gru, steps: 12_000, batch: 7, workers: 3, seed: 54))
        #expect(try compare(gru, steps: 300, batch: 2, workers: 4, seed: 55))
        #expect(try compare(lstm, steps: 5_000, batch: 5, workers: 2, seed: 56))
        #expect(try compare(lstmDouble, steps: 3_000, batch: 6, workers: 4, seed: 57))
    }

    @Test("the rule: together when a worker's part of a row is under a cache line, never with one worker")
    func rule() {
        typealias Solver = SequenceSolver<GRU<Float>>
        #expect(!Solver.copiesBackTogether(batch: 16, stateSize: 4, workers: 1))
        // 8 sequences × 4 values × 4 bytes per worker: whole lines.
        #expect(!Solver.copiesBackTogether(batch: 16, stateSize: 4, workers: 2))
        // 1 sequence × 4 values × 4 bytes: a quarter line each.
        #expect(Solver.copiesBackTogether(batch: 2, stateSize: 4, workers: 2))
    }
}
