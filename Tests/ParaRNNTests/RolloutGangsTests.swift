import Foundation
import ParaRNN
import ParallelScan
import Testing

/// Batches rolled out in gangs (`RolloutGangs`: each gang's threads share its sequences' steps
/// by hidden units): bit for bit the one-thread fused rollout, against the cells' generic
/// `step` through the solver, and the decision of when gangs pay.
@Suite("Rollout gangs")
struct RolloutGangsTests {
    /// `batch` sequences on seeded random inputs `[T][B][m]` rolled out in `gangs`.
    /// Seeded random initial states, or zeros.
    func gangStates<C: RecurrentCell>(
        _ cell: C, steps: Int, batch: Int, gangs: RolloutGangs, seed: UInt64, randomInitial: Bool = true
    ) -> [C.Scalar] {
        var rng = SeededGenerator(seed: seed)
        let x: [C.Scalar] = uniform(steps * batch * cell.inputSize, 1, &rng)
        var h0rng = SeededGenerator(seed: seed + 1)
        let h0: [C.Scalar] =
            randomInitial
            ? uniform(batch * cell.stateSize, 0.5, &h0rng) : [C.Scalar](repeating: 0, count: batch * cell.stateSize)
        var states = [C.Scalar](repeating: .nan, count: steps * batch * cell.stateSize)
        x.withUnsafeBufferPointer { x in
            h0.withUnsafeBufferPointer { h0 in
                states.withUnsafeMutableBufferPointer { h in
                    cell.rolloutInGangs(
                        inputs: x.baseAddress!, steps: steps, batch: batch, initial: h0.baseAddress!,
                        states: h.baseAddress!, gangs: gangs)
                }
            }
        }
        return states
    }

    /// The same inputs and initial states through the one-thread sequential solve.
    func oneThreadStates<C: RecurrentCell>(_ cell: C, steps: Int, batch: Int, seed: UInt64) throws -> [C.Scalar] {
        var rng = SeededGenerator(seed: seed)
        let x: [C.Scalar] = uniform(steps * batch * cell.inputSize, 1, &rng)
        var h0rng = SeededGenerator(seed: seed + 1)
        let h0: [C.Scalar] = uniform(batch * cell.stateSize, 0.5, &h0rng)
        let options = SolverOptions(method: .sequential, pool: .serial)
        return try SequenceSolver(cell: cell, options: options).rollout(
            inputs: x, steps: steps, batch: batch, initialState: h0)
    }

    @Test("gangs: bit for bit the one-thread rollout (GRU, LSTM, Elman; Float, Double; batch tails)")
    func gangsAreExact() throws {
        // d = 40: five octets over 3 and 2 members; d = 20 and 16: two octets (and a tail of four)
        // over 3 members, one of which owns none. B = 7 in one gang: a group of four and a tail
        // of three; in two gangs: 4 + 3.
        let gru = try RandomCells.gru(Float.self, m: 3, d: 40, scale: 1, seed: 61)
        let lstm = try RandomCells.lstm(Double.self, m: 2, d: 20, scale: 1, seed: 62)
        let elman = try RandomCells.elman(Float.self, m: 2, d: 24, scale: 1, seed: 63)
        let gruDouble = try RandomCells.gru(Double.self, m: 2, d: 16, scale: 1.5, seed: 64)
        let lstmFloat = try RandomCells.lstm(Float.self, m: 4, d: 24, scale: 1.5, seed: 65)
        let plans = [RolloutGangs(gangs: 1, size: 3), RolloutGangs(gangs: 2, size: 2)]
        for gangs in plans {
            #expect(
                gangStates(gru, steps: 24, batch: 7, gangs: gangs, seed: 66)
                    == (try oneThreadStates(gru, steps: 24, batch: 7, seed: 66)), "GRU Float \(gangs)")
            #expect(
                gangStates(lstm, steps: 24, batch: 7, gangs: gangs, seed: 67)
                    == (try oneThreadStates(lstm, steps: 24, batch: 7, seed: 67)), "LSTM Double \(gangs)")
            #expect(
                gangStates(elman, steps: 24, batch: 5, gangs: gangs, seed: 68)
                    == (try oneThreadStates(elman, steps: 24, batch: 5, seed: 68)), "Elman Float \(gangs)")
            #expect(
                gangStates(gruDouble, steps: 24, batch: 5, gangs: gangs, seed: 69)
                    == (try oneThreadStates(gruDouble, steps: 24, batch: 5, seed: 69)), "GRU Double \(gangs)")
            #expect(
                gangStates(lstmFloat, steps: 24, batch: 9, gangs: gangs, seed: 70)
                    == (try oneThreadStates(lstmFloat, steps: 24, batch: 9, seed: 70)), "LSTM Float \(gangs)")
        }
    }

    @Test("gangs only from eight threads, where W_hh exceeds one core's cache and a gang brings it within")
    func gangDecision() {
        func plan(_ gates: Int, _ d: Int, bytes: Int = 4, batch: Int = 16, steps: Int = 4000, threads: Int = 16)
            -> RolloutGangs
        {
            RolloutGangs.plan(
                gates: gates, hidden: d, scalarBytes: bytes, batch: batch, steps: steps, threads: threads,
                cores: 16)
        }
        // d = 256 in Float: GRU 768 KiB, LSTM 1 MiB of W_hh → gangs of four, 192 / 256 KiB each.
        #expect(plan(3, 256) == RolloutGangs(gangs: 4, size: 4))
        #expect(plan(4, 256) == RolloutGangs(gangs: 4, size: 4))
        // Fewer than eight threads: the batch split (its workers are not starved for W_hh).
        #expect(plan(3, 256, threads: 2) == .none)
        #expect(plan(3, 256, threads: 4) == .none)
        #expect(plan(3, 256, threads: 8) == RolloutGangs(gangs: 2, size: 4))
        // Fewer threads than a gang needs (a Double GRU of d = 384, 3.4 MiB, wants 16 members).
        #expect(plan(3, 384, bytes: 8, threads: 8) == .none)
        #expect(plan(3, 384, bytes: 8, threads: 16) == RolloutGangs(gangs: 1, size: 16))
        #expect(plan(3, 256, batch: 2) == RolloutGangs(gangs: 2, size: 4))
        #expect(plan(3, 256, threads: 12) == RolloutGangs(gangs: 3, size: 4))
        // Double: 1.5 MiB → gangs of eight.
        #expect(plan(3, 256, bytes: 8) == RolloutGangs(gangs: 2, size: 8))
        #expect(plan(3, 128, bytes: 8) == RolloutGangs(gangs: 8, size: 2))
        // W_hh within one core's cache: the batch split (d = 64; d = 128 GRU 192 KiB, LSTM 256 KiB).
        #expect(plan(3, 64) == .none)
        #expect(plan(3, 128) == .none)
        #expect(plan(4, 128) == .none)
        // One sequence (the split-step rollout's case), one thread, short sequences.
        #expect(plan(3, 256, batch: 1) == .none)
        #expect(plan(3, 256, threads: 1) == .none)
        #expect(plan(3, 256, steps: 100) == .none)
        // Never more threads than cores.
        #expect(
            RolloutGangs.plan(gates: 3, hidden: 256, scalarBytes: 4, batch: 16, steps: 4000, threads: 16, cores: 1)
                == .none)
        #expect(plan(3, 256).workers == 16)
    }

    @Test("gangs against the generic step; the solver takes them with eight threads or more")
    func gangsAgainstReference() throws {
        // A Double GRU of d = 128: 384 KiB of W_hh, gangs of two.
        let gru = try RandomCells.gru(Double.self, m: 2, d: 128, scale: 1, seed: 71)
        let (batch, d) = (3, 128)
        let states = gangStates(
            gru, steps: 32, batch: batch, gangs: RolloutGangs(gangs: 1, size: 2), seed: 72, randomInitial: false)
        var rng = SeededGenerator(seed: 72)
        let x: [Double] = uniform(32 * batch * 2, 1, &rng)
        let reference = referenceRollout(gru, inputs: x, steps: 32, batch: batch)
        var worst = 0.0
        for b in 0..<batch {
            for t in 0..<32 {
                for i in 0..<d {
                    let got = stateValue(gru, states, t: t, b: b, i: i, batch: batch)
                    worst = max(worst, abs(got - reference[b][t * d + i]))
                }
            }
        }
        #expect(worst <= 1e-12, "max |Δ| \(worst)")
        // Through the solver where the machine has the cores for it (8 threads: a gang of two
        // per sequence): the one-thread states, bit for bit. Fewer cores: the batch split,
        // which the suite "Dense rollout" covers.
        let steps = 256
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let expected = cores >= 8 ? RolloutGangs(gangs: 3, size: 2) : .none
        #expect(gru.rolloutGangs(batch: batch, steps: steps, threads: 8) == expected)
        if cores >= 8 {
            var xrng = SeededGenerator(seed: 74)
            let xs: [Double] = uniform(steps * batch * 2, 1, &xrng)
            let options = SolverOptions(method: .sequential, pool: WorkerPool(threadCount: 8))
            let solution = try SequenceSolver(cell: gru, options: options).solve(
                inputs: xs, steps: steps, batch: batch)
            #expect(solution.decision.contains("gang"))
            let serial = try SequenceSolver(cell: gru, options: SolverOptions(method: .sequential, pool: .serial))
                .rollout(inputs: xs, steps: steps, batch: batch)
            #expect(solution.states == serial)
        }
    }
}
