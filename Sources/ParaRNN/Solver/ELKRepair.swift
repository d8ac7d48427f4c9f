import ParallelScan

/// ELK's segment sweep: when an ELK attempt stalls, the recurrence is rolled out exactly,
/// s_t = f(s_{t−1}, u_t), from its first unconverged step t₀ to the end in segments — all at
/// once, in parallel, each from the iterate's state just before it — and the iteration continues
/// from there (parareal's fine sweep, with ELK's filtered steps as the correction).
///
/// t₀ is the first step whose residual exceeds ``sweepThreshold(tolerance:scalar:)``, two decades
/// below the tolerance: every step before it is settled that far, so the first ("front") segment
/// starts from the exact state (to that accuracy) and becomes exact: the converged prefix grows by at least the front's length per
/// sweep, and a filtered step keeps an exact prefix exact (at s = y = F the step returns y).
/// Every later segment whose starting state is already right becomes exact too; after a sweep
/// the residual is non-zero only at the segments' first steps, which the next filtered step
/// corrects together. It is aimed at lanes that sit on the wrong branch of a bistable recurrence
/// over long stretches (ParaGRU/ParaLSTM at weight scale 3), which the filtered steps repair only
/// a few steps per iteration while the largest residual stays O(1): linearised on the wrong
/// branch, the correction entering the stretch decays, so only a rollout carries the right branch
/// through it — from the front, since a segment that starts on the wrong branch stays on it.
///
/// Cost, and how far it is sequential: one sweep evaluates f once per step after t₀ (no
/// Jacobians), split over the workers by segment — less work than one linearisation pass. The
/// later segments are L = max(``minimumLength``, T / ``segmentDivisor``) steps; the front segment
/// starts at L and doubles after every sweep, up to T / ``frontDivisor`` — the sequential depth
/// of a sweep — and the fronts settle at most T / ``frontBudgetDivisor`` steps per attempt: an
/// attempt that would need more is solving the recurrence sequentially, and is left to stagnate
/// and fall back to the rollout. (Without that bound a Float ParaGRU with expanding Jacobians,
/// `FallbackTests`, "converged" through fronts over 99 % of T onto another trajectory that meets
/// the tolerance at every step, 0.75 from the rollout.) A sweep runs only after the attempt has
/// stalled for ``stalledIterations`` iterations (neither the largest residual nor the count of
/// unconverged values halved) and never twice in a row, so attempts that converge at Newton's
/// pace never sweep. Each sweep counts as an iteration (it is followed by one linearisation
/// pass); the attempt's outcome names the sweeps, the steps they rolled out and the fronts' share
/// of T.
///
/// Measured on `Harness/presets/elk-s3.json` (216 cases at s = 3, release): failures 17 → 10, the
/// most iterations of a converged case 96 → 69; 124 cases swept (median 3 sweeps, at most 6).
///
///     var repair = ELKRepair(steps: T)
///     if repair.isDue(stalled: progress.stalled, firstUnconverged: t0) {
///         let segments = repair.segments(from: t0)
///         repair.record(sweep: engine.sweepSegments(segments), front: segments[0].count)
///     }
struct ELKRepair {
    /// L = T / 64: 64 segments, four for every worker of a 16-core machine.
    static let segmentDivisor = 64
    /// The shortest segment, for short sequences.
    static let minimumLength = 16
    /// The front segment (from the first unconverged step) doubles after every sweep up to
    /// T / 4 steps.
    static let frontDivisor = 4
    /// The fronts settle at most T / 2 steps per attempt: beyond that the recurrence is being
    /// solved sequentially, and the attempt is left to stagnate and fall back to the rollout.
    static let frontBudgetDivisor = 2
    /// Iterations without a halving before a sweep.
    static let stalledIterations = 3

    let steps: Int
    /// L.
    let length: Int
    /// The first segment's length in the next sweep.
    private(set) var front: Int
    /// Sweeps so far.
    private(set) var sweeps = 0
    /// Steps rolled out by the sweeps so far.
    private(set) var sweptSteps = 0
    /// The longest front segment so far (the deepest sequential run of a sweep).
    private(set) var deepest = 0
    /// Steps of the front segments so far: the part of the sequence the sweeps settled by
    /// rolling out from a converged state (sequential work, where the later segments run in
    /// parallel).
    private(set) var frontSteps = 0
    /// Whether the last iteration was a sweep.
    private var justSwept = false

    /// Sequential steps already spent on this attempt's start (``SeamRepairs/depth``): they
    /// count against the fronts' budget.
    let spent: Int

    init(steps: Int, spent: Int = 0) {
        self.steps = steps
        self.spent = spent
        length = max(Self.minimumLength, steps / Self.segmentDivisor)
        front = length
    }

    /// Whether to sweep now: stalled long enough, not swept in the last iteration, and an
    /// unconverged step.
    func isDue(stalled: Int, firstUnconverged: Int) -> Bool {
        stalled >= Self.stalledIterations && !justSwept && firstUnconverged < steps && frontBudget > 0
    }

    /// Front steps still allowed.
    var frontBudget: Int { steps / Self.frontBudgetDivisor - spent - frontSteps }

    /// The segments from `start`: the front segment, then L steps each, the last shorter.
    func segments(from start: Int) -> [Range<Int>] {
        let rest = min(start + min(front, max(1, frontBudget)), steps)
        return [start..<rest] + stride(from: rest, to: steps, by: length).map { $0..<min($0 + length, steps) }
    }

    /// Records an iteration: a sweep of `count` steps whose front segment had `front` steps,
    /// or (nil) a filtered step.
    mutating func record(sweep count: Int?, front rolled: Int = 0) {
        justSwept = count != nil
        guard let count else { return }
        sweeps += 1
        sweptSteps += count
        frontSteps += rolled
        deepest = max(deepest, rolled)
        front = max(length, min(front * 2, steps / Self.frontDivisor))
    }

    /// The outcome's note (empty without sweeps).
    var note: String {
        sweeps == 0
            ? ""
            : " (\(sweeps) segment sweep\(sweeps == 1 ? "" : "s"): \(sweptSteps) steps rolled out in segments of \(length); fronts \(frontSteps) steps = \(frontSteps * 100 / max(1, steps)) % of T, the longest \(deepest))"
    }
}

extension NewtonEngine {
    /// Rolls the recurrence out exactly over `segments` (``ELKRepair``) in parallel, each from
    /// the iterate's state before it as it was before the sweep (a packed sequence start inside
    /// a segment splits it there). Returns the steps rolled out.
    func sweepSegments(_ segments: [Range<Int>]) -> Int {
        let parts = packing?.boundaries.splitting(segments) ?? segments
        guard !parts.isEmpty else { return 0 }
        let row = self.row
        // The state before each part, saved first: the part before it overwrites it.
        let before = UnsafeMutablePointer<Scalar>.allocate(capacity: parts.count * row)
        defer { before.deallocate() }
        for (i, part) in parts.enumerated() {
            let source = Self.stateBefore(
                part.lowerBound, initial: previous, states: UnsafePointer(states), row: row, packing: packing)
            copyScalars(before + i * row, source, count: row)
        }
        let (cell, batch) = (self.cell, self.batch)
        let b = UnsafeSendable(UnsafePointer(before))
        let s = UnsafeMutableSendable(states)
        let u = UnsafeSendable(projections)
        pool.forEach(parts.count) { i in
            cell.rollout(
                steps: parts[i], batch: batch, previous: b.base + i * row, projections: u.base, states: s.base)
        }
        return parts.reduce(0) { $0 + $1.count }
    }
}
