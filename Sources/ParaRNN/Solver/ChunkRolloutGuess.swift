import ParallelScan

/// Where the parallel methods (Newton, quasi-Newton, damped Newton, ELK) start. Fused plain
/// Newton (``SolverMethod/newton`` for cells with diagonal or small-block Jacobians) rolls the
/// chunks out in its first pass; the others before their first iteration
/// (``SequenceSolver/chunkRolloutGuess(steps:batch:projections:previous:states:)``).
///
/// - ``zeroState``: ParaRNN's guess s⁽⁰⁾_t = f(0, u_t), every step from a zero state, then
///   Newton steps until the residual meets the tolerance.
/// - ``chunkRollouts``: the sequence is cut into the passes' chunks (a few per worker); each
///   worker rolls its chunks out exactly, step after step, and each chunk c > 0 starts from the
///   state reached by rolling out the L steps before it from a zero state (a burn-in,
///   L = ``burnIn(chunkLength:)``). Every step inside a chunk is then f of its predecessor by
///   construction, as in the sequential rollout; only the first step of each chunk can miss,
///   by ‖f(s_{t₀−1}) − s_{t₀}‖, which the first pass measures ("the seams"). A recurrence that
///   contracts, ‖∂f/∂s‖ ≤ ρ < 1 along its trajectory, forgets the burn-in's start as ρ^L, so
///   the seams usually meet the tolerance at once and the solve is certified after that one
///   pass, with no Newton step. Otherwise Newton linearises at this iterate and goes on
///   exactly as from any guess; its error sits at the seams, and quadratic convergence removes
///   it in one or two steps.
///
///       var options = SolverOptions(method: .newton)
///       options.newtonGuess = .zeroState   // ParaRNN's guess, e.g. to compare iterations
///
/// Fused plain Newton records the seam residual as iteration 0 of its residual history; the
/// other methods record it when it certifies (then the attempt's only entry, 0 iterations), and
/// otherwise start their history at their first iteration. The attempt's outcome names the guess.
public enum NewtonGuess: String, Sendable, Codable, CaseIterable {
    /// ParaRNN's s⁽⁰⁾_t = f(0, u_t).
    case zeroState
    /// Exact rollouts of the chunks after their burn-ins; the seams certified.
    case chunkRollouts

    /// L, the steps rolled out before a chunk of `chunkLength` steps to forget the zero state
    /// it starts from: a quarter of the chunk, at most 256 (contractive cells forget within
    /// tens of steps; 256 costs 1.6 % of a 16,000-step chunk).
    public static func burnIn(chunkLength: Int) -> Int { min(256, chunkLength / 4) }

    /// The shortest chunk the rollout guess is used for (shorter chunks would spend a large
    /// share of their work on the burn-in): 64 steps, a burn-in of 16.
    public static let shortestChunk = 64
}

/// How the parallel passes over one segment cut it: workers = min(threads, T / 256), and four
/// chunks per worker (taken in turn by whichever worker is free), at least 1,024 steps each
/// unless that leaves fewer chunks than workers; one chunk on one worker. The fused Newton
/// passes, the chunk-rollout guess and `.automatic`'s cost model share it.
package enum SegmentChunks {
    package static func plan(steps: Int, threads: Int) -> (workers: Int, chunks: Int) {
        let workers = max(1, min(threads, steps / 256))
        return (workers, workers == 1 ? 1 : min(4 * workers, max(workers, steps / 1024)))
    }
}

extension SequenceSolver {
    /// The chunk-rollout guess (``NewtonGuess/chunkRollouts``) for the Newton-type methods that
    /// do not fuse it into their first pass: the segment's chunks rolled out in parallel into
    /// `states`, each chunk c > 0 after a burn-in from a zero state. Returns the largest
    /// residual at the seams (the chunks' first steps; every other step is f of its predecessor
    /// by construction), or nil where the guess does not apply (one chunk, or chunks shorter
    /// than ``NewtonGuess/shortestChunk``). With `repairsSeams`, seams that miss by more than
    /// ``SeamRepairs/threshold`` are repaired first (``repairSeams(starts:steps:batch:projections:states:budget:)``).
    func chunkRolloutGuess(
        steps: Int, batch: Int, projections: UnsafePointer<Scalar>, previous: UnsafePointer<Scalar>,
        states: UnsafeMutablePointer<Scalar>, repairsSeams: Bool = false
    ) -> (residual: Double, chunks: Int, burnIn: Int, seamRepairs: SeamRepairs)? {
        let chunks = SegmentChunks.plan(steps: steps, threads: options.chunkThreads ?? options.pool.threadCount).chunks
        guard chunks > 1, steps / chunks >= NewtonGuess.shortestChunk else { return nil }
        let burnIn = NewtonGuess.burnIn(chunkLength: steps / chunks)
        let (cell, row, urow) = (cell, cell.stateRowSize(batch: batch), cell.projectionRowSize(batch: batch))
        let (u, h0, h) = (UnsafeSendable(projections), UnsafeSendable(previous), UnsafeMutableSendable(states))
        options.pool.forEachDynamic(chunks, sideWork: options.sideWork) { c, _ in
            let range = ChunkPlan.evenRange(index: c, of: chunks, total: steps)
            var burnedIn = [Scalar](repeating: 0, count: c == 0 ? 0 : row)
            if c > 0 {
                burnedIn.withUnsafeMutableBufferPointer { s in
                    cell.burnIn(
                        steps: burnIn, batch: batch, projections: u.base + (range.lowerBound - burnIn) * urow,
                        into: s.baseAddress!)
                }
            }
            burnedIn.withUnsafeBufferPointer { s in
                cell.rollout(
                    steps: 0..<range.count, batch: batch, previous: c == 0 ? h0.base : s.baseAddress!,
                    projections: u.base + range.lowerBound * urow, states: h.base + range.lowerBound * row)
            }
        }
        let starts = (1..<chunks).map { ChunkPlan.evenRange(index: $0, of: chunks, total: steps).lowerBound }
        let repairs =
            repairsSeams
            ? repairSeams(
                starts: starts, steps: steps, batch: batch, projections: projections, states: states,
                burnIn: burnIn, budget: steps / SeamRepairs.budgetDivisor)
            : SeamRepairs()
        let worst = cell.seamResidual(
            starts: starts, batch: batch, states: UnsafePointer(states), projections: projections)
        return (worst, chunks, burnIn, repairs)
    }
}

extension RecurrentCell {
    /// The state reached by rolling `steps` steps out from a zero state over `projections`
    /// (`[steps][projection row]`), written to `state` (one state row): a chunk's burn-in
    /// (``NewtonGuess/chunkRollouts``).
    package func burnIn(
        steps: Int, batch: Int, projections: UnsafePointer<Scalar>, into state: UnsafeMutablePointer<Scalar>
    ) {
        let row = stateRowSize(batch: batch)
        let scratch = ScratchBuffers<Scalar>(counts: [steps * row, row])
        defer { scratch.deallocate() }
        let (states, zeros) = (scratch[0], scratch[1])
        zeroFill(zeros, count: row)
        rollout(
            steps: 0..<steps, batch: batch, previous: UnsafePointer(zeros), projections: projections, states: states)
        copyScalars(state, states + (steps - 1) * row, count: row)
    }

    /// The largest relative residual ‖s_t − f(s_{t−1}, u_t)‖ / max(1, |f|) over the steps t in
    /// `starts` (each ≥ 1) of `states` (`[T][state row]`, projections `[T][projection row]`): the
    /// seams of chunk rollouts, whose other steps are f of their predecessors by construction.
    package func seamResidual(
        starts: [Int], batch: Int, states: UnsafePointer<Scalar>, projections: UnsafePointer<Scalar>
    ) -> Double {
        let (row, urow) = (stateRowSize(batch: batch), projectionRowSize(batch: batch))
        var values = [Scalar](repeating: 0, count: row)
        return values.withUnsafeMutableBufferPointer { f in
            starts.reduce(0.0) { worst, t in
                linearize(
                    steps: 0..<1, batch: batch, previous: states + (t - 1) * row, states: states + t * row,
                    projections: projections + t * urow, values: f.baseAddress!, jacobians: nil, request: .structured)
                return combineResiduals(
                    worst, relativeResidual(states: states + t * row, values: UnsafePointer(f.baseAddress!), count: row)
                )
            }
        }
    }
}
