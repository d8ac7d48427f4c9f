import Foundation
import ParallelScan

/// ELK's trust region: when a step is taken and the σ² (= 1/λ) of the next one, shared by the
/// fused and the unfused iterations (``NewtonEngine/iterateELKFused(tolerance:maxIterations:report:)``,
/// ``NewtonEngine/iterateELK(tolerance:maxIterations:fused:report:)``).
///
/// A step is taken unless ``ELK/accepts(_:best:)`` refuses its merit M = Σ r² (relative
/// residuals). σ² grows ×10 after a taken step, up to a ceiling: a refused step at σ² shrinks
/// σ² ÷10 and sets the ceiling to that smaller σ², and every taken step that lowers the best merit
/// so far raises the ceiling ×10. Without the ceiling, σ² alternated between a level whose steps
/// are taken and the ×10 above it whose steps are refused, and half the iterations were refused
/// (ParaGRU at weight scale 3, T = 10⁴, harness seed 5: 24 of 50; with it 84 iterations suffice
/// for every case of `Harness/presets/elk-wide.json`, where the old schedule needed more than
/// 100 in two). Steps whose merit only ever falls never meet the ceiling, so easy cases keep
/// their iterations. The dense n×n filter keeps the free ×10 / ÷10 schedule
/// (`capsAfterRefusal: false`): with the ceiling, one Elman case of `full-subset` (s = 1.5,
/// T = 10⁴, seed 1) was refused down to σ² = 1e-7 at an iterate whose merit sat just under 10×
/// the best (the filter's step is not a descent direction, so even tiny steps raised the merit)
/// and stagnated, where the free schedule converges in 68 iterations.
///
/// The σ² of the next step is fixed before the step's merit is known (the fused pass filters the
/// next step's recurrence in the same pass): ``next`` is the σ² a taken step leads to.
///
///     var schedule = ELKSchedule()
///     let next = schedule.next                 // filter the following step with this σ²
///     let taken = schedule.decide(trial: newMerit, current: merit)
struct ELKSchedule {
    /// σ² of the step about to be taken.
    private(set) var sigma2 = ELK.initialVariance
    /// The largest σ² the schedule grows to until the merit reaches a new low.
    private(set) var ceiling = ELK.maximumVariance
    /// The lowest merit of the attempt so far.
    private(set) var best = Double.infinity
    /// Refused steps.
    private(set) var rejected = 0
    /// Whether a refusal caps σ² (per-lane and 2×2-block filters) or σ² moves ×10 / ÷10 freely
    /// (the dense n×n filter).
    let capsAfterRefusal: Bool

    init(capsAfterRefusal: Bool = true) { self.capsAfterRefusal = capsAfterRefusal }

    /// σ² after a taken step: ×10, capped by ``ceiling`` (never below the current σ²) and
    /// ``ELK/maximumVariance``.
    var next: Double { min(sigma2 * 10, ELK.maximumVariance, max(sigma2, ceiling)) }

    /// Decides the step from merit `current` to `trial` and moves σ² (to ``next`` when taken,
    /// ÷10 when refused); returns whether the step is taken.
    /// Starts the merit comparison afresh from `merit` (after a sequential repair, whose iterate
    /// is exact further into the sequence but may measure worse at the window's end).
    mutating func restart(from merit: Double) { best = merit }

    mutating func decide(trial: Double, current: Double) -> Bool {
        best = min(best, current)
        let grown = next
        if ELK.accepts(trial, best: best) {
            if trial < best { ceiling = min(ceiling * 10, ELK.maximumVariance) }
            best = min(best, trial)
            sigma2 = grown
            return true
        }
        sigma2 = max(sigma2 / 10, ELK.minimumVariance)
        if capsAfterRefusal { ceiling = sigma2 }
        rejected += 1
        return false
    }
}

/// ELK's stagnation rule: an attempt stagnates when, for ``patience`` iterations, neither the
/// largest residual nor the number of values whose residual exceeds the tolerance has halved.
///
/// Newton-type steps on a sequence often fix it front by front: in a stretch where the iterate
/// sits on the wrong branch of a bistable unit, each step settles a few more time steps while the
/// largest residual stays O(1) (ParaGRU, s = 3, T = 10⁴, harness seed 5: one lane's unconverged
/// steps fell 7 651 → 344 in 50 iterations at a residual of 2–14). The residual alone called
/// that stagnation; the count sees the progress. A hopeless attempt (chaotic cells) moves
/// neither and still stops after ``patience`` iterations.
struct ELKProgress {
    /// Iterations without a halving before the attempt stagnates (twice Newton's: refused steps
    /// leave both measures where they were).
    static let patience = 50
    private var bestResidual = Double.infinity
    private var bestCount = Int.max
    private var since = 0

    /// Iterations since the last halving of either measure.
    var stalled: Int { since }

    /// Records an iterate; returns true when the attempt stagnates.
    mutating func stagnates(residual: Double, unconverged: Int) -> Bool {
        var improved = false
        if residual < bestResidual * 0.5 {
            bestResidual = residual
            improved = true
        }
        if bestCount == .max || unconverged <= bestCount / 2 {
            bestCount = unconverged
            improved = true
        }
        since = improved ? 0 : since + 1
        return since >= Self.patience
    }
}

/// The merit Σ ((s_i − F_i) / max(1, |F_i|))² in Double (NaN if any is NaN), how many of the
/// relative residuals exceed `tolerance`, and the index of the first that exceeds the stricter
/// ``sweepThreshold(tolerance:scalar:)`` (`count` if none; searched only when some value is
/// above `tolerance`): one pass, and a second one up to that index.
@_specialize(where S == Float)
@_specialize(where S == Double)
func relativeMerit<S: ScanScalar>(states: UnsafePointer<S>, values: UnsafePointer<S>, count: Int, tolerance: Double)
    -> (merit: Double, unconverged: Int, first: Int)
{
    let limit = tolerance * tolerance
    var sum = 0.0
    var above = 0
    for i in 0..<count {
        let f = values[i]
        let r = Double(states[i] - f) / Double(max(1, abs(f)))
        let r2 = r * r
        sum += r2
        above += r2 > limit ? 1 : 0
    }
    var first = count
    if above > 0 || sum.isNaN {
        let strict = sweepThreshold(tolerance: tolerance, scalar: S.self)
        let strictLimit = strict * strict
        for i in 0..<count {
            let f = values[i]
            let r = Double(states[i] - f) / Double(max(1, abs(f)))
            if !(r * r <= strictLimit) {
                first = i
                break
            }
        }
    }
    return (sum, above, first)
}

/// The residual below which a step counts as settled for ELK's segment sweep (``ELKRepair``):
/// max(tolerance / 100, 16 ε) with ε the scalar's machine epsilon (Double: 1e-12 at the default
/// tolerance; Float: 1.9e-6). The sweep's front starts at the first step above it, so it rolls out
/// from a state two decades more accurate than the tolerance (near rounding in Float): a front
/// started at the first step above the tolerance itself committed to a state that was only
/// tolerance-accurate, and on a sensitive recurrence (ParaGRU with gains ±8, Float,
/// `FallbackTests`) it followed another branch that also meets the tolerance — 0.75 away from
/// the rollout.
func sweepThreshold<S: BinaryFloatingPoint>(tolerance: Double, scalar: S.Type) -> Double {
    max(tolerance / 100, 16 * Double(S.ulpOfOne))
}

/// What an ELK pass measures at the iterate it leaves: the largest relative residual, the merit
/// Σ r², the count of values whose residual exceeds the tolerance and, when there are any, the
/// first time step with a residual above ``sweepThreshold(tolerance:scalar:)`` (`Int.max` if none;
/// every step before it is settled to that threshold).
struct ELKMeasure {
    var residual: Double
    var merit: Double
    var unconverged: Int
    var firstUnconverged: Int

    init(residual: Double, merit: Double, unconverged: Int, firstUnconverged: Int = .max) {
        self.residual = residual
        self.merit = merit
        self.unconverged = unconverged
        self.firstUnconverged = firstUnconverged
    }

    /// The measure of a whole pass from its chunks' (in chunk order): the largest residual
    /// (NaN if any is NaN), the summed merit and count, the earliest unconverged step.
    init(combining parts: [ELKMeasure]) {
        self.init(residual: 0, merit: 0, unconverged: 0)
        for part in parts {
            residual = combineResiduals(residual, part.residual)
            merit += part.merit
            unconverged += part.unconverged
            firstUnconverged = min(firstUnconverged, part.firstUnconverged)
        }
    }

    /// The first unconverged step of a block of `count` values starting at step `start`, from
    /// ``relativeMerit(states:values:count:tolerance:)``'s `first` (`Int.max` if none).
    static func step(first: Int, count: Int, start: Int, row: Int) -> Int {
        first < count ? start + first / row : .max
    }
}

extension ELK {
    /// The attempt's outcome with the schedule's final σ² and refused steps appended.
    static func describe(_ attempt: SolveAttempt, _ schedule: ELKSchedule) -> SolveAttempt {
        var attempt = attempt
        let n = schedule.rejected
        attempt.outcome +=
            " (σ² \(String(format: "%.0e", schedule.sigma2)) at the end, \(n) step\(n == 1 ? "" : "s") rejected)"
        return attempt
    }

    /// The outcome of an attempt stopped by ``ELKProgress``.
    static func stagnation(_ residual: Double, _ tolerance: Double) -> String {
        "stagnated at residual \(residual) (tolerance \(tolerance)): neither it nor the count of unconverged values halved in \(ELKProgress.patience) iterations"
    }
}
