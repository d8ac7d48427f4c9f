import Foundation
import ParaRNN
import ParallelScan

/// The recordings of the `packed` group: `count` lengths drawn log-uniformly from
/// [`shortest`, `longest`] with a fixed seed (the set: 1,000 from 10²…10⁵).
public struct PackedBenchSet: Sendable, Codable, Equatable {
    public var count = 1_000
    public var shortest = 100
    public var longest = 100_000
    public var seed: UInt64 = 23

    public init(count: Int = 1_000, shortest: Int = 100, longest: Int = 100_000, seed: UInt64 = 23) {
        self.count = count
        self.shortest = shortest
        self.longest = longest
        self.seed = seed
    }

    /// The lengths, log-uniform: exp(U(ln shortest, ln longest)), rounded.
    public var lengths: [Int] {
        var rng = SplitMix64(seed: seed)
        let (lo, hi) = (log(Double(shortest)), log(Double(max(shortest, longest))))
        return (0..<count).map { _ in
            let u = Double(rng.next() >> 11) / Double(1 << 53)
            return max(1, Int(exp(lo + u * (hi - lo)).rounded()))
        }
    }
}

extension PerformanceSuite {
    /// Many recordings of different lengths (`pararnn bench --groups packed`): one packed solve
    /// (``SequenceSolver/solve(inputs:lengths:batch:initialStates:)``) against solving them one
    /// after another and against padding them to the longest as one batch `[B, T_max, m]`, for a
    /// ParaGRU d = 4 (m = 4), Float, each way with `.automatic` (the packed solve's choice is
    /// noted), plus the packed solve with Newton forced. Runs only when asked for by name.
    func packed(_ emit: (BenchmarkResult) -> Void) {
        let set = packedSet
        let lengths = set.lengths
        let m = 4
        let d = 4
        let total = lengths.reduce(0, +)
        let longest = lengths.max()!
        let cell = try! ParaGRU<Float>(
            inputSize: m, hiddenSize: d, recurrentGains: Self.values(3 * d, scale: 1, seed: 7),
            inputWeights: Self.values(3 * d * m, scale: 1, seed: 8), inputBias: Self.values(3 * d, scale: 0.5, seed: 9))
        let x = Self.values(total * m, scale: 1, seed: 31)
        var starts: [Int] = []
        var offset = 0
        for length in lengths {
            starts.append(offset)
            offset += length
        }
        let shape = "\(lengths.count) recordings, T = \(lengths.min()!)…\(longest), Σ = \(total), paragru d=\(d) m=\(m)"
        for threads in threadCounts {
            let pool = WorkerPool(threadCount: threads)
            let automatic = SolverOptions(method: .automatic, pool: pool)
            var newton = automatic
            newton.method = .newton
            // The packed solutions (210 MB of states) are released off the clock (the one-by-one
            // loop's are small and reused by the allocator); the note packedSecondsWithRelease
            // times the solve with its result released inside the timing.
            var packedSolution: Solution<Float>? = nil
            let packedSeconds = time(
                {
                    packedSolution = try! SequenceSolver(cell: cell, options: automatic).solve(
                        inputs: x, lengths: lengths)
                },
                untimed: { packedSolution = nil })
            var newtonSolution: Solution<Float>? = nil
            let newtonSeconds = time(
                {
                    newtonSolution = try! SequenceSolver(cell: cell, options: newton).solve(inputs: x, lengths: lengths)
                },
                untimed: { newtonSolution = nil })
            var separateNewton = 0
            let oneByOne = time {
                separateNewton = 0
                for (i, length) in lengths.enumerated() {
                    let s = try! SequenceSolver(cell: cell, options: automatic).solve(
                        inputs: Array(x[(starts[i] * m)..<((starts[i] + length) * m)]), steps: length, batch: 1)
                    if s.method != .sequential { separateNewton += 1 }
                }
            }
            // Padding: [T_max][B][m], zeros after each recording's end.
            var paddedSeconds = Double.nan
            var paddedMethod = ""
            do {
                var padded = [Float](repeating: 0, count: longest * lengths.count * m)
                for (b, length) in lengths.enumerated() {
                    for t in 0..<length {
                        for i in 0..<m { padded[(t * lengths.count + b) * m + i] = x[(starts[b] + t) * m + i] }
                    }
                }
                paddedSeconds = time {
                    let s = try! SequenceSolver(cell: cell, options: automatic).solve(
                        inputs: padded, steps: longest, batch: lengths.count)
                    paddedMethod = s.method.rawValue
                }
            }
            let packedMethod = packedSolution!.method
            packedSolution = nil
            // The same solve with its result released on the clock (one munmap of 210 MB).
            let withReleaseSeconds = time {
                _ = try! SequenceSolver(cell: cell, options: automatic).solve(inputs: x, lengths: lengths)
            }
            let n = newtonSolution!
            let notes: [String: Double] = [
                "recordings": Double(lengths.count), "totalSteps": Double(total),
                "packedUsesNewton": packedMethod == .sequential ? 0 : 1, "packedSecondsWithRelease": withReleaseSeconds,
                "packedNewtonSeconds": newtonSeconds, "packedNewtonIterations": Double(n.iterations),
                "packedNewtonResidual": n.finalResidual,
                "oneByOneNewtonSolves": Double(separateNewton),
                "paddedUsesNewton": paddedMethod == "sequential" ? 0 : 1,
                "paddedSeconds": paddedSeconds,
                "paddedWastedFraction": 1 - Double(total) / Double(longest * lengths.count),
            ]
            emit(
                BenchmarkResult(
                    name: "packed solve (\(packedMethod)) vs one by one", shape: shape, threads: threads,
                    seconds: packedSeconds, baseline: "one solve per recording (automatic)",
                    baselineSeconds: oneByOne, notes: notes))
            emit(
                BenchmarkResult(
                    name: "packed solve (\(packedMethod)) vs padded batch", shape: shape, threads: threads,
                    seconds: packedSeconds, baseline: "padded [B, T_max, m] batch (\(paddedMethod))",
                    baselineSeconds: paddedSeconds, notes: notes))
            emit(
                BenchmarkResult(
                    name: "packed Newton vs one by one", shape: shape, threads: threads,
                    seconds: newtonSeconds, baseline: "one solve per recording (automatic)",
                    baselineSeconds: oneByOne, notes: notes))
        }
    }
}
