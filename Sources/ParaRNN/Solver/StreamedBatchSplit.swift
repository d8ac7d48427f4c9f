import Foundation
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
        if Self.copiesBackTogether(batch: batch, stateSize: n, workers: workers) {
            coordinatedBatchSplitRollout(
                inputs: inputs, steps: steps, batch: batch, initial: initial, states: states, workers: workers)
            return
        }
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

    /// Whether a batch split should write its states back together
    /// (``coordinatedBatchSplitRollout(inputs:steps:batch:initial:states:workers:)``): when some
    /// worker's part of a state row is less than a 64-byte cache line, so that several workers
    /// would write into every line of `[T][B][n]`, and every worker can have its own core (the
    /// workers meet at a spinning barrier). `PARARNN_BATCH_COPY=own` / `=together` overrides the
    /// rule (for measurements).
    static func copiesBackTogether(batch: Int, stateSize n: Int, workers: Int) -> Bool {
        if workers < 2 { return false }
        switch ProcessInfo.processInfo.environment["PARARNN_BATCH_COPY"] {
        case "own": return false
        case "together": return true
        default: break
        }
        let narrowest = batch / workers * n * MemoryLayout<Scalar>.stride
        return narrowest < 64 && workers <= ProcessInfo.processInfo.activeProcessorCount
    }

    /// ``streamedBatchSplitRollout(inputs:steps:batch:initial:states:workers:)`` where the
    /// workers copy each block of states back together: worker w rolls its sequences out into
    /// its own buffer (two, used in turn), all meet at a barrier, and then worker w copies
    /// the rows `evenRange(w)` of the block — every worker's part of them — into `[T][B][n]`.
    /// Each cache line of the states is then written by one worker, not by the B·n·size / 64
    /// workers whose sequences share it (d = 4, B = 16 on 16 workers: four per line, at every
    /// step). The next block goes into the other buffer, so one barrier per block suffices: a
    /// buffer is written again only after every worker has passed the barrier that follows
    /// its copies. States are bitwise those of the other form (the same rollouts; only where
    /// they are copied from changes). Workers run on their own threads (`Gang`).
    func coordinatedBatchSplitRollout(
        inputs: UnsafePointer<Scalar>, steps: Int, batch: Int, initial: UnsafePointer<Scalar>,
        states: UnsafeMutablePointer<Scalar>, workers: Int
    ) {
        let (n, m) = (cell.stateSize, cell.inputSize)
        let projection = InputProjection(cell)
        let (x, h0, h) = (UnsafeSendable(inputs), UnsafeSendable(initial), UnsafeMutableSendable(states))
        let row = batch * n
        let widest = (batch + workers - 1) / workers
        let block = Self.streamingBlock(steps: steps, projectionRow: cell.projectionRowSize(batch: widest))
        let published = UnsafeMutablePointer<UnsafeMutablePointer<Scalar>?>.allocate(capacity: workers)
        published.initialize(repeating: nil, count: workers)
        defer { published.deallocate() }
        let buffers = UnsafeMutableSendable(published)
        let barrier = SpinBarrier(parties: workers)
        let solver = self
        Gang.run(workers) { part in
            let entries = ChunkPlan.evenRange(index: part, of: workers, total: batch)
            let e = entries.count
            let (b0, ownRow) = (entries.lowerBound, e * n)
            let own = ScratchBuffers<Scalar>(
                counts: [block * e * m, block * solver.cell.projectionRowSize(batch: e), 2 * block * ownRow, ownRow])
            let (ownInputs, ownProjections, ownStates, ownPrevious) = (own[0], own[1], own[2], own[3])
            buffers.base[part] = ownStates
            copyScalars(ownPrevious, h0.base + b0 * n, count: ownRow)
            barrier.wait()
            var (start, turn) = (0, 0)
            while start < steps {
                let count = min(block, steps - start)
                let slot = ownStates + turn * block * ownRow
                if e > 0 {
                    let source = x.base + (start * batch + b0) * m
                    let projectFrom: UnsafePointer<Scalar>
                    if e == batch {
                        projectFrom = source
                    } else {
                        copyRows(ownInputs, stride: e * m, source, stride: batch * m, count: e * m, rows: count)
                        projectFrom = UnsafePointer(ownInputs)
                    }
                    projection.project(inputs: projectFrom, rows: 0..<count, batch: e, into: ownProjections)
                    solver.cell.rollout(
                        steps: 0..<count, batch: e, previous: ownPrevious, projections: ownProjections, states: slot)
                    copyScalars(ownPrevious, slot + (count - 1) * ownRow, count: ownRow)
                }
                barrier.wait()
                let rows = ChunkPlan.evenRange(index: part, of: workers, total: count)
                if !rows.isEmpty {
                    for other in 0..<workers {
                        let theirs = ChunkPlan.evenRange(index: other, of: workers, total: batch)
                        let width = theirs.count * n
                        if width == 0 { continue }
                        let from = buffers.base[other]! + turn * block * width + rows.lowerBound * width
                        copyRows(
                            into: h.base + (start + rows.lowerBound) * row + theirs.lowerBound * n, stride: row,
                            from: from, stride: width, rows: rows.count, lanes: width)
                    }
                }
                (start, turn) = (start + count, 1 - turn)
            }
            // Nobody frees a buffer another worker may still be copying from.
            barrier.wait()
            own.deallocate()
        }
    }
}
