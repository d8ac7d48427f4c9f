import ParallelScan
import Testing

@testable import ParaRNN

/// A training forward pass that records its rollout (`solveRecording`) gives the plain solve's
/// states, and gradients that read the record (the fused BPTT taking g_t from the tape instead
/// of recomputing it) are bitwise those recomputed: every packed product of a sequence is the
/// same sum however the batch is grouped. d = 4 takes the four-unit rollout when not
/// recording, d = 19 the two-pass gates that overwrite the rollout's g; B = 5 leaves a partial
/// group; 3 threads split the batch.
@Suite("Recorded rollouts for training")
struct RecordedRolloutTests {
    func check<C: DifferentiableCell>(_ cell: C, threads: Int) throws {
        let (steps, batch) = (9, 5)
        var rng = SeededGenerator(seed: UInt64(cell.hiddenSize * 10 + threads))
        let x: [C.Scalar] = uniform(steps * batch * cell.inputSize, 1, &rng)
        let weights: [C.Scalar] = uniform(steps * cell.stateRowSize(batch: batch), 1, &rng)
        let solver = SequenceSolver(
            cell: cell,
            options: SolverOptions(
                method: .sequential, pool: WorkerPool(threadCount: threads, grainSize: 1, choice: .allThreads)))
        let plain = try solver.solve(inputs: x, steps: steps, batch: batch)
        let (recorded, record) = try solver.solveRecording(inputs: x, steps: steps, batch: batch)
        let name = "\(C.cellName) \(C.Scalar.self) d \(cell.hiddenSize), \(threads) threads"
        #expect(record != nil, "\(name): no record")
        #expect(recorded.states == plain.states, "\(name): states differ")
        let recomputed = try solver.gradients(
            states: plain.states, inputs: x, steps: steps, batch: batch, stateGradients: weights)
        let read = try solver.gradients(
            states: recorded.states, inputs: x, steps: steps, batch: batch, stateGradients: weights, recorded: record)
        #expect(read.recurrent == recomputed.recurrent, "\(name): recurrent gradients differ")
        #expect(read.inputWeights == recomputed.inputWeights, "\(name): input weight gradients differ")
        #expect(read.inputBias == recomputed.inputBias, "\(name): input bias gradients differ")
        #expect(read.inputs == recomputed.inputs, "\(name): input gradients differ")
        #expect(read.initialState == recomputed.initialState, "\(name): initial state gradients differ")
    }

    @Test(arguments: [4, 19, 64]) func gruAndLSTM(d: Int) throws {
        var rng = SeededGenerator(seed: UInt64(d))
        for threads in [1, 3] {
            try check(GRU<Float>.initialized(inputSize: 2, hiddenSize: d, using: &rng), threads: threads)
            try check(GRU<Double>.initialized(inputSize: 2, hiddenSize: d, using: &rng), threads: threads)
            try check(LSTM<Float>.initialized(inputSize: 2, hiddenSize: d, using: &rng), threads: threads)
            try check(LSTM<Double>.initialized(inputSize: 2, hiddenSize: d, using: &rng), threads: threads)
        }
    }

    @Test func cellsWithoutATapeSolvePlainly() throws {
        var rng = SeededGenerator(seed: 5)
        let elman = try ElmanRNN<Float>.initialized(inputSize: 2, hiddenSize: 3, using: &rng)
        let x: [Float] = uniform(4 * 2 * 2, 1, &rng)
        let solver = SequenceSolver(cell: elman, options: SolverOptions(method: .sequential))
        let (solution, record) = try solver.solveRecording(inputs: x, steps: 4, batch: 2)
        #expect(record == nil)
        #expect(solution.states == (try solver.solve(inputs: x, steps: 4, batch: 2).states))
    }
}
