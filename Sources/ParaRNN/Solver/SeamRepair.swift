import ParallelScan

/// Seam repair of a chunk-rollout guess (``NewtonGuess/chunkRollouts``) before every attempt that
/// starts from it outside fused Newton's first pass (ELK, quasi-Newton, damped, DEER for dense
/// Jacobians; fused plain Newton's guess pass is unchanged): a chunk whose first step misses f of
/// the previous chunk's last state by more than ``threshold`` has a burn-in from a zero state that
/// landed elsewhere — on a bistable recurrence, on the other branch, which no linearisation
/// carries the iterate across.
///
/// 1. **Longer burn-ins**, all at once in parallel: every such chunk is rolled out again after a
///    burn-in ``longerBurnIn`` (4) times as long (from a zero state, at most back to step 0). It
///    costs one burn-in and one chunk per bad seam, none of it waiting for another chunk, and
///    most wrong branches are then forgotten.
/// 2. **Sweeps from the predecessors** for the seams that still miss, each sweep in parallel over
///    the chunks: it rolls out again the first chunk of every run of consecutive bad seams from
///    its predecessor's last state. That predecessor's seam holds, so — by induction from chunk 0,
///    which starts from the initial state — it follows the rollout's branch (within the threshold
///    at each seam), and the chunk follows it too. The next seam is then measured again: it holds
///    when that chunk's own start had landed right, and otherwise starts the next sweep's run. So
///    each sweep shortens every run by at least one chunk, and the sweeps' depth — the longest
///    chunk per sweep, summed — is sequential: at most T / ``budgetDivisor`` (4), and taken from
///    ELK's front budget (``ELKRepair``, T / 2), so a solve still settles at most half of the
///    sequence sequentially.
///
/// Recurrences that forget within the burn-in (seams below 1 %) are not touched. Measured
/// (`Harness/presets/elk-s3-chunks.json`, ELK from the chunks planned for 16 threads: 3–15
/// chunks, burn-ins of 66–83 steps; Harness/README.md): failures 4 → 0 of 216 (sweeps alone:
/// 2), iterations summed 983 → 645, the sweeps ran in 14 cases; on the 2-thread plan 0 → 0,
/// 279 → 168.
package struct SeamRepairs: Sendable, Equatable {
    /// Seams (relative residuals) above this are repaired: a miss of 1 % is no small
    /// perturbation of the trajectory; below it a linearisation corrects the seam.
    package static let threshold = 1e-2
    /// The repair's depth stops at T / this (ELK's fronts get the rest of their T / 2).
    package static let budgetDivisor = 4
    /// Sweeps run.
    package var sweeps = 0
    /// Chunks rolled out again, and their steps.
    package var chunks = 0
    package var steps = 0
    /// The longest chunk of each sweep, summed: the sequential part of the repair.
    package var depth = 0
    /// Chunks rolled out again after a longer burn-in.
    package var reburned = 0
    /// The longer burn-in, as a multiple of the guess's.
    package static let longerBurnIn = 4
}

extension SequenceSolver {
    /// Repairs the seams at `starts` (the first steps of chunks 1, 2, …) of the chunk rollouts in
    /// `states` (``SeamRepairs``) — the chunks' burn-ins were `burnIn` steps — rolling out at most
    /// `budget` steps of depth from predecessors.
    func repairSeams(
        starts: [Int], steps: Int, batch: Int, projections: UnsafePointer<Scalar>,
        states: UnsafeMutablePointer<Scalar>, burnIn: Int, budget: Int
    ) -> SeamRepairs {
        var repairs = SeamRepairs()
        let (cell, row, urow) = (cell, cell.stateRowSize(batch: batch), cell.projectionRowSize(batch: batch))
        func chunk(_ i: Int) -> Range<Int> { starts[i]..<(i + 1 < starts.count ? starts[i + 1] : steps) }
        func seam(_ i: Int) -> Double {
            cell.seamResidual(
                starts: [starts[i]], batch: batch, states: UnsafePointer(states), projections: projections)
        }
        var seams = starts.indices.map(seam)
        let threshold = SeamRepairs.threshold
        // First, in parallel, every chunk with a bad seam after a burn-in 4× as long (at most back
        // to step 0), from a zero state.
        let bad = seams.indices.filter { seams[$0] > threshold }
        if !bad.isEmpty {
            let (u, h) = (UnsafeSendable(projections), UnsafeMutableSendable(states))
            let longer = SeamRepairs.longerBurnIn * burnIn
            options.pool.forEachDynamic(bad.count) { j, _ in
                let range = chunk(bad[j])
                let l = min(longer, range.lowerBound)
                var start = [Scalar](repeating: 0, count: row)
                start.withUnsafeMutableBufferPointer { s in
                    cell.burnIn(
                        steps: l, batch: batch, projections: u.base + (range.lowerBound - l) * urow,
                        into: s.baseAddress!)
                    cell.rollout(
                        steps: 0..<range.count, batch: batch, previous: UnsafePointer(s.baseAddress!),
                        projections: u.base + range.lowerBound * urow, states: h.base + range.lowerBound * row)
                }
            }
            for i in bad {
                seams[i] = seam(i)
                if i + 1 < seams.count { seams[i + 1] = seam(i + 1) }
            }
            repairs.reburned += bad.count
        }
        while true {
            // The first bad seam of every run (index i: the chunk starting at starts[i]).
            let firsts = seams.indices.filter { seams[$0] > threshold && ($0 == 0 || seams[$0 - 1] <= threshold) }
            guard let depth = firsts.map({ chunk($0).count }).max(), repairs.depth + depth <= budget else { break }
            let (u, h) = (UnsafeSendable(projections), UnsafeMutableSendable(states))
            // Each chunk's predecessor keeps its states in this sweep (its seam holds).
            options.pool.forEachDynamic(firsts.count) { j, _ in
                let range = chunk(firsts[j])
                cell.rollout(
                    steps: 0..<range.count, batch: batch,
                    previous: UnsafePointer(h.base + (range.lowerBound - 1) * row),
                    projections: u.base + range.lowerBound * urow, states: h.base + range.lowerBound * row)
            }
            for i in firsts {
                seams[i] = seam(i)
                if i + 1 < seams.count { seams[i + 1] = seam(i + 1) }
            }
            repairs.sweeps += 1
            repairs.chunks += firsts.count
            repairs.steps += firsts.reduce(0) { $0 + chunk($1).count }
            repairs.depth += depth
        }
        return repairs
    }
}
