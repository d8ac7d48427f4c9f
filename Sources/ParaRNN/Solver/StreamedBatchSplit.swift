import ParallelScan

extension SequenceSolver {
    /// The sequential method for a batch split over `workers` workers, streamed from the inputs:
    /// worker w owns the sequences `entries(w)` for the whole run and, block after block of
    /// steps, gathers their inputs, projects them (u_t = W_ih x_t + b_ih) into its own
    /// cache-sized buffer, rolls them out from its own previous state and copies the block's
    /// states into the shared `[T][B][n]` rows — one fork/join for the whole sequence. The
    /// state rows' pages are faulted first, in contiguous runs per worker
    /// (``prefaultPages(_:count:pool:)``), since every worker writes into every row.
    ///
    /// Before, each block of steps was projected for the whole batch (a fork/join over the pool),
    /// then each worker copied its entries' projections into a private buffer, rolled them out
    /// and copied the states back (a second fork/join per block, with fresh allocations): on a
    /// 16-core machine a B = 16, d = 64 GRU moved ≈ 250 MB of projections through memory and ran
    /// at 4× its one-thread throughput. Now the projections never leave a worker's cache.
    ///
    /// Same arithmetic as the one-worker rollout for every entry: the direct projection kernel
    /// (m ≤ ``InputProjection/maximumDirectInputs``) gives each entry's u_t independent of the
    /// batch it is projected with, and each worker's entries are rolled out in the same groups of
    /// four as before, so the states are bitwise the one-worker rollout's.
    ///
    /// ```swift
    /// // states: [T][B][n], inputs: [T][B][m]
    /// solver.streamedBatchSplitRollout(inputs: x, steps: T, batch: B, initial: h0, states: h, workers: 4)
    /// ```
    func streamedBatchSplitRollout(
        inputs: UnsafePointer<Scalar>, steps: Int, batch: Int, initial: UnsafePointer<Scalar>,
        states: UnsafeMutablePointer<Scalar>, workers: Int
    ) {
        let (n, m) = (cell.stateSize, cell.inputSize)
        let projection = InputProjection(cell)
        let (x, h0, h) = (UnsafeSendable(inputs), UnsafeSendable(initial), UnsafeMutableSendable(states))
        let row = batch * n
        prefaultPages(states, count: steps * row, pool: options.pool)
        options.pool.forEach(workers) { part in
            let entries = ChunkPlan.evenRange(index: part, of: workers, total: batch)
            let e = entries.count
            if e == 0 { return }
            let (b0, ownRow) = (entries.lowerBound, e * n)
            let block = Self.streamingBlock(steps: steps, projectionRow: cell.projectionRowSize(batch: e))
            let own = ScratchBuffers<Scalar>(
                counts: [block * e * m, block * cell.projectionRowSize(batch: e), block * ownRow, ownRow])
            defer { own.deallocate() }
            let (ownInputs, ownProjections, ownStates, ownPrevious) = (own[0], own[1], own[2], own[3])
            copyScalars(ownPrevious, h0.base + b0 * n, count: ownRow)
            var start = 0
            while start < steps {
                let count = min(block, steps - start)
                // Rows t of `[T][B][m]`: this worker's entries are e·m values at b0·m.
                let source = x.base + (start * batch + b0) * m
                let projectFrom: UnsafePointer<Scalar>
                if e == batch {
                    projectFrom = source
                } else {
                    copyRows(ownInputs, stride: e * m, source, stride: batch * m, count: e * m, rows: count)
                    projectFrom = UnsafePointer(ownInputs)
                }
                projection.project(inputs: projectFrom, rows: 0..<count, batch: e, into: ownProjections)
                cell.rollout(
                    steps: 0..<count, batch: e, previous: ownPrevious, projections: ownProjections, states: ownStates)
                copyRows(
                    h.base + start * row + b0 * n, stride: row, ownStates, stride: ownRow, count: ownRow, rows: count)
                copyScalars(ownPrevious, ownStates + (count - 1) * ownRow, count: ownRow)
                start += count
            }
        }
    }
}
