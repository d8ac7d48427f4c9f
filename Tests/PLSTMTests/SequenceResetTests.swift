import PLSTM
import ParallelScan
import Testing

/// pLSTM 1D with several sequences packed end to end (``SequenceGates/propagate(input:stateSize:boundaries:pool:)``)
/// against separate propagations of each sequence.
@Suite("pLSTM 1D with resets vs separate propagations")
struct SequenceResetTests {
    func check(lengths: [Int], d: Int, seed: UInt64) throws {
        var rng = TestRNG(seed: seed)
        let boundaries = try SequenceBoundaries(lengths: lengths)
        let n = boundaries.steps
        let gates = SequenceGates(
            source: rng.array(n), transition: rng.array(n, -1, 1), mark: rng.array(n), direct: rng.array(n))
        let x = rng.array(n * d)
        for threads in [1, 2, 3, 5] {
            let pool = WorkerPool(threadCount: threads, grainSize: 1, choice: .allThreads)
            let packed = try gates.propagate(input: x, stateSize: d, boundaries: boundaries, pool: pool)
            var separate: [Double] = []
            for i in 0..<boundaries.count {
                let r = boundaries.range(of: i)
                let own = SequenceGates(
                    source: Array(gates.source[r]), transition: Array(gates.transition[r]), mark: Array(gates.mark[r]),
                    direct: Array(gates.direct[r]))
                separate += try own.propagate(
                    input: Array(x[(r.lowerBound * d)..<(r.upperBound * d)]), stateSize: d, pool: pool)
            }
            if threads == 1 {
                #expect(packed == separate, "lengths \(lengths): one thread, bitwise")
            }
            #expect(relativeError(packed, separate) < 1e-12, "lengths \(lengths), \(threads) threads")
        }
    }

    @Test("length-1 sequences, consecutive boundaries, boundaries at every step")
    func resets() throws {
        try check(lengths: [1, 40, 1, 1, 25, 3, 60], d: 3, seed: 1)
        for split in 1..<20 { try check(lengths: [split, 20 - split], d: 2, seed: UInt64(split)) }
    }

    @Test("boundaries that do not cover T are refused")
    func badBoundaries() throws {
        let gates = SequenceGates<Double>(
            source: [1, 1, 1], transition: [0.5, 0.5, 0.5], mark: [1, 1, 1], direct: [1, 1, 1])
        #expect(throws: PLSTMError.self) {
            try gates.propagate(input: [1, 2, 3], stateSize: 1, boundaries: try SequenceBoundaries(lengths: [1, 1]))
        }
    }
}
