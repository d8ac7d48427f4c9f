import ParallelScan
import Testing

@testable import ParaRNN

/// Float16 Jacobian storage in the fused Newton passes: the rounding helper against the naive
/// formula, and whole solves against the rollout with their iteration counts.
@Suite("Float16 Jacobian storage")
struct CompactJacobianTests {
    @Test("round: J̃ = fp16(J) stored and kept, offsets F − J̃ s_prev", arguments: [1, 2])
    func rounding(k: Int) {
        let (rows, row) = (5, 8)
        let jrow = k * row
        let blocks = row / k
        var rng = SeededGenerator(seed: 51)
        var j: [Float] = uniform(rows * jrow, 2, &rng)
        j[3] = 1e6  // beyond Float16: stored clamped, offsets still exact for what is stored
        let states: [Float] = uniform(rows * row, 1, &rng)
        let prior: [Float] = uniform(row, 1, &rng)
        let values: [Float] = uniform(rows * row, 1, &rng)
        // b = F − J s_prev, as the linearisation leaves it.
        func previous(_ t: Int, _ i: Int) -> Float { t == 0 ? prior[i] : states[(t - 1) * row + i] }
        func product(_ m: [Float], _ t: Int, _ i: Int) -> Double {
            // (J s_prev)[r·blocks + l] = Σ_c J[(r·k + c)·blocks + l] s_prev[c·blocks + l].
            let (r, l) = (i / blocks, i % blocks)
            return (0..<k).reduce(0.0) { sum, c in
                sum + Double(m[t * jrow + (r * k + c) * blocks + l]) * Double(previous(t, c * blocks + l))
            }
        }
        var offsets = [Float](repeating: 0, count: rows * row)
        for t in 0..<rows {
            for i in 0..<row { offsets[t * row + i] = Float(Double(values[t * row + i]) - product(j, t, i)) }
        }
        let exact = j
        var store = [Float16](repeating: 0, count: rows * jrow)
        j.withUnsafeMutableBufferPointer { jp in
            store.withUnsafeMutableBufferPointer { sp in
                offsets.withUnsafeMutableBufferPointer { bp in
                    CompactJacobians.round(
                        jp.baseAddress!, store: sp.baseAddress!, offsets: bp.baseAddress!, rows: rows, row: row,
                        blockSize: k, prior: prior, states: states)
                }
            }
        }
        for e in exact.indices {
            let expected = Float16(min(max(exact[e], -65504), 65504))
            #expect(store[e] == expected)
            #expect(j[e] == Float(expected))
        }
        for t in 0..<rows {
            for i in 0..<row {
                let expected = Double(values[t * row + i]) - product(j, t, i)
                #expect(abs(Double(offsets[t * row + i]) - expected) <= 1e-5 * max(1, abs(expected)))
            }
        }
    }

    @Test(
        "Newton with Float16 Jacobians converges to the rollout in as many iterations (±1)",
        arguments: [(1, 1), (3, 1), (2, 2)])
    func solves(threads: Int, batch: Int) throws {
        let gru = try RandomCells.paraGRU(Float.self, m: 2, d: 4, scale: 1, seed: 52)
        try check(gru, threads: threads, batch: batch)
        let lstm = try RandomCells.paraLSTM(Float.self, m: 2, d: 4, scale: 1, seed: 53)
        try check(lstm, threads: threads, batch: batch)
    }

    func check<C: RecurrentCell>(_ cell: C, threads: Int, batch: Int) throws where C.Scalar == Float {
        let steps = 3000
        var rng = SeededGenerator(seed: 54)
        let x: [Float] = uniform(steps * batch * cell.inputSize, 1, &rng)
        var options = SolverOptions(
            method: .newton, fallback: false,
            pool: WorkerPool(threadCount: threads, grainSize: 1, choice: .allThreads))
        // From ParaRNN's guess f(0, u): from chunk rollouts these cells are certified at their
        // seams before any Jacobian is stored.
        options.newtonGuess = .zeroState
        let fullTimings = NewtonPhaseTimings()
        options.phaseTimings = fullTimings
        let full = try SequenceSolver(cell: cell, options: options).solve(inputs: x, steps: steps, batch: batch)
        options.compactJacobians = true
        let compactTimings = NewtonPhaseTimings()
        options.phaseTimings = compactTimings
        let compact = try SequenceSolver(cell: cell, options: options).solve(inputs: x, steps: steps, batch: batch)
        // The compact path ran: fewer bytes per step and pass.
        #expect(compactTimings.bytesPerStepPerPass < fullTimings.bytesPerStepPerPass)
        #expect(full.converged && compact.converged, "\(compact.attempts.map(\.outcome))")
        #expect(compact.finalResidual <= 1e-5)
        #expect(abs(compact.iterations - full.iterations) <= 1, "\(compact.iterations) vs \(full.iterations)")
        let reference = try SequenceSolver(cell: cell, options: SolverOptions(method: .sequential, pool: .serial))
            .solve(inputs: x, steps: steps, batch: batch).states
        let error = zip(compact.states, reference).map { abs($0 - $1) }.max() ?? .nan
        let fullError = zip(full.states, reference).map { abs($0 - $1) }.max() ?? .nan
        #expect(error <= max(1e-4, 4 * fullError), "error \(error), Float J \(fullError)")
    }
}
