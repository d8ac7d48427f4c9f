import Dispatch
import ParallelScan

/// A path and its baseline timed in the same rounds, so that a ratio compares the two under the
/// same machine state (clock, allocator, other processes) instead of two moments of a run.
///
/// Each round times the baseline B and the candidate C once, alternating the order (B C, C B,
/// B C, …) so that neither side always runs warm after the other. Rounds continue until each
/// side has at least `minimumSamples` samples and `minimumSeconds` of timed work (at most
/// `maximumRounds`). The reported times are the medians, the speedup their ratio
/// median(B) / median(C), and the spread the least and greatest per-round ratio B_i / C_i. A
/// candidate that runs the very same code as its baseline reads 1.00 up to that spread.
///
/// ```swift
/// let timing = PairedTiming.measure(baseline: { loop() }, candidate: { parallel() })
/// print(timing.speedup, timing.ratioRange)
/// ```
public struct PairedTiming: Sendable, Equatable {
    /// Per-round wall times of the baseline, seconds.
    public var baselineSamples: [Double]
    /// Per-round wall times of the candidate, seconds.
    public var candidateSamples: [Double]

    /// Median baseline time, seconds.
    public var baseline: Double { Self.median(baselineSamples) }
    /// Median candidate time, seconds.
    public var candidate: Double { Self.median(candidateSamples) }
    /// median(baseline) / median(candidate): > 1 means the candidate is faster.
    public var speedup: Double { baseline / candidate }
    /// The least and greatest per-round ratio baseline / candidate.
    public var ratioRange: (min: Double, max: Double) {
        let ratios = zip(baselineSamples, candidateSamples).map { $0 / $1 }
        return (ratios.min() ?? .nan, ratios.max() ?? .nan)
    }
    /// The median of the per-round ratios B_i / C_i: the paired estimate of the speedup. Each
    /// round's two samples are taken back to back, so load that comes and goes between rounds
    /// cancels in its ratio; for a candidate that runs the baseline's very code it stays nearer 1
    /// than ``speedup`` (the ratio of the two medians, which may fall in different rounds).
    public var ratioMedian: Double { Self.median(zip(baselineSamples, candidateSamples).map { $0 / $1 }) }
    /// Rounds timed.
    public var rounds: Int { baselineSamples.count }

    /// min(baseline) / min(candidate): the ratio of the best rounds. Load on a shared machine only
    /// ever adds time, so where a short kernel's samples split between preempted and clean runs
    /// (and a median jumps between the two) the best of each side still compares the kernels.
    public var bestRatio: Double { (baselineSamples.min() ?? .nan) / (candidateSamples.min() ?? .nan) }

    /// The notes a benchmark row carries: the per-round ratio range and median, the ratio of the
    /// best rounds and the number of rounds.
    public var notes: [String: Double] {
        let range = ratioRange
        return [
            "ratio min": range.min, "ratio max": range.max, "ratio median": ratioMedian, "best ratio": bestRatio,
            "rounds": Double(rounds),
        ]
    }

    public init(baselineSamples: [Double], candidateSamples: [Double]) {
        self.baselineSamples = baselineSamples
        self.candidateSamples = candidateSamples
    }

    /// The median of `values` (mean of the middle two for an even count); NaN if empty.
    public static func median(_ values: [Double]) -> Double {
        if values.isEmpty { return .nan }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Times `baseline` and `candidate` interleaved (after one warm-up run of each).
    public static func measure(
        minimumSamples: Int = 5, minimumSeconds: Double = 0.25, maximumRounds: Int = 400,
        baseline: () -> Void, candidate: () -> Void
    ) -> PairedTiming {
        baseline()
        candidate()
        var b: [Double] = []
        var c: [Double] = []
        var (spentB, spentC) = (0.0, 0.0)
        func seconds(_ body: () -> Void) -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        }
        while b.count < maximumRounds
            && (b.count < minimumSamples || spentB < minimumSeconds || spentC < minimumSeconds)
        {
            let tb: Double
            let tc: Double
            if b.count % 2 == 0 {
                tb = seconds(baseline)
                tc = seconds(candidate)
            } else {
                tc = seconds(candidate)
                tb = seconds(baseline)
            }
            b.append(tb)
            c.append(tc)
            spentB += tb
            spentC += tc
        }
        return PairedTiming(baselineSamples: b, candidateSamples: c)
    }
}
