import ParallelScan

/// Seam repair of a chunk-rollout guess (``NewtonGuess/chunkRollouts``) before an ELK,
/// quasi-Newton or damped attempt: a chunk whose first step misses f of the previous chunk's last
/// state by more than ``threshold`` (its burn-in from a zero state landed elsewhere — on a
/// bistable recurrence, on the other branch, which no linearisation carries the iterate across)
/// is rolled out again from that state.
///
/// Sweeps, each in parallel over the chunks: a sweep rolls out again the first chunk of every
/// run of consecutive bad seams. Its predecessor's seam holds, so — by induction from chunk 0,
/// which starts from the initial state — the predecessor follows the rollout's branch (within the
/// threshold at each seam), and the chunk, started from its last state, follows it too. The seam
/// after each such chunk is then measured again: it holds when that chunk's own burn-in had landed
/// right, and otherwise it starts the next sweep's run. So each sweep shortens every run by at
/// least one chunk, and the sweeps' depth — the longest chunk rolled out per sweep, summed — is
/// the sequential part of the guess: at most T / ``budgetDivisor`` (4), and taken from ELK's
/// front budget (``ELKRepair``, T / 2), so a solve still settles at most half of the sequence
/// sequentially. Recurrences that forget within the burn-in (seams below 1 %) are not touched.
///
/// Measured (`Harness/presets/elk-s3-chunks.json`, ELK from the chunks planned for 16 threads:
/// 3–15 chunks, burn-ins of 66–83 steps; Harness/README.md): failures 4 → 2 of 216, median
/// iterations 4 → 3; on the 2-thread plan (chunks of T/3 and longer) it does not run. With the
/// depth unbounded it solved all 216, but settled more than half of T sequentially in 31.
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
}

extension SequenceSolver {
    /// Repairs the seams at `starts` (the first steps of chunks 1, 2, …) of the chunk rollouts in
    /// `states` (``SeamRepairs``), rolling out at most `budget` steps of depth.
    func repairSeams(
        starts: [Int], steps: Int, batch: Int, projections: UnsafePointer<Scalar>,
        states: UnsafeMutablePointer<Scalar>, budget: Int
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
