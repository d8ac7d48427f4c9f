import ParallelScan

extension SequenceSolver {
    /// The sequential method for a batch split over `workers` workers, streamed from the inputs:
    /// worker w owns the sequences `entries(w)` for the whole run and, block after block of
    /// steps, gathers their inputs, projects them (u_t = W_ih x_t + b_ih) into its own
    /// cache-sized buffer, rolls them out from its own previous state, checks the block's states
    /// for NaN and Inf while they are in its cache, and copies them into the shared `[T][B][n]`
    /// rows (and, with `hidden`, their hidden outputs, ``RecurrentCell/hiddenOutputs(ofStates:steps:batch:into:)``,
    /// into `[T][B][width]` rows) — one fork/join for the whole call. Returns the flat `[T][B][n]` index of the first
    /// state value that is not finite, as ``firstNonFinite(_:)`` over all the states would.
    ///
    /// Every worker writes into every row, so the rows' pages must not be first-touched by all
    /// workers at once: the concurrent faults on one page serialise in the kernel (16 workers on
    /// a B = 16, d = 64 GRU: 126 k faults, 1.2 s of system time, against 11 k for one worker).
    /// Fresh pages are prefaulted first, in contiguous runs per worker
    /// (``prefaultPages(_:count:pool:)``, a fork/join of its own), but only where some are not
    /// mapped yet (``pagesResident(_:count:)``, or `prefault` says): a streamed solve's
    /// per-segment buffers mostly come back from the allocator mapped. Workers populating
    /// their own share at the start of their item (`madvise(MADV_POPULATE_WRITE)`, in the same
    /// fork/join) was tried: it depends on every worker starting at once, and with more
    /// workers than cores (16 on the 2-core VM, one 82 MB segment of a d = 64 GRU) the first
    /// ones faulted the others' shares page by page: 117 ms against 101 ms (medians of 9).
    ///
    /// A streamed solve runs this once per segment (B = 16, d = 4, T = 10⁵: 25 segments), so
    /// its fork/joins are paid per segment: before, the prefault (of mapped pages too), the
    /// rollout and the finite-state guard's scan over all states were three (tens of µs each with 16 threads),
    /// and an LSTM's hidden outputs were copied out after the join (on one thread where the
    /// segment holds fewer than 256 Ki outputs: B = 16, d = 4 LSTM, ≈ 0.2 ms per segment).
    ///
    /// Same arithmetic as the one-worker rollout for every entry: the direct projection kernel
    /// (m ≤ ``InputProjection/maximumDirectInputs``) gives each entry's u_t independent of the
    /// batch it is projected with, and each worker's entries are rolled out in the same groups of
    /// four as before, so the states are bitwise the one-worker rollout's.
    ///
    /// ```swift
    /// // states: [T][B][n], inputs: [T][B][m]
    /// let bad = solver.streamedBatchSplitRollout(inputs: x, steps: T, batch: B, initial: h0, states: h, workers: 4)
    /// ```
    package func streamedBatchSplitRollout(
        inputs: UnsafePointer<Scalar>, steps: Int, batch: Int, initial: UnsafePointer<Scalar>,
        states: UnsafeMutablePointer<Scalar>, hidden: (UnsafeMutablePointer<Scalar>, width: Int)? = nil,
        workers: Int, prefault: Bool? = nil
    ) -> Int? {
        let row = batch * cell.stateSize
        let outputs = hidden.map { (UnsafeMutableSendable($0.0), $0.width) }
        if prefault ?? !pagesResident(states, count: steps * row) {
            prefaultPages(states, count: steps * row, pool: options.pool)
        }
        if let (out, width) = hidden, prefault ?? !pagesResident(out, count: steps * batch * width) {
            prefaultPages(out, count: steps * batch * width, pool: options.pool)
        }
        // Each worker's first non-finite flat index (Int.max: none).
        var found = [Int](repeating: .max, count: workers)
        let projection = InputProjection(cell)
        found.withUnsafeMutableBufferPointer { marks in
            let (x, h0, h) = (UnsafeSendable(inputs), UnsafeSendable(initial), UnsafeMutableSendable(states))
            let firsts = UnsafeMutableSendable(marks.baseAddress!)
            options.pool.forEach(workers) { part in
                let entries = ChunkPlan.evenRange(index: part, of: workers, total: batch)
                if entries.isEmpty { return }
                firsts.base[part] = rollOutEntries(
                    entries, projection: projection, inputs: x.base, steps: steps, batch: batch, initial: h0.base,
                    states: h.base, hidden: outputs.map { ($0.0.base, $0.1) })
            }
        }
        let first = found.min() ?? .max
        return first == .max ? nil : first
    }

    /// One worker's share of ``streamedBatchSplitRollout(inputs:steps:batch:initial:states:hidden:workers:prefault:)``:
    /// the sequences `entries`, block after block of steps, into their slices of the `[T][B][n]`
    /// rows. Returns the flat index of the first non-finite state value among them (Int.max:
    /// none): within one worker's slices the flat index grows with its own `[t][e][n]` index,
    /// so the first found in its own blocks is its smallest.
    private func rollOutEntries(
        _ entries: Range<Int>, projection: InputProjection<Scalar>, inputs x: UnsafePointer<Scalar>, steps: Int,
        batch: Int,
        initial h0: UnsafePointer<Scalar>, states h: UnsafeMutablePointer<Scalar>,
        hidden: (UnsafeMutablePointer<Scalar>, width: Int)?
    ) -> Int {
        let (n, m) = (cell.stateSize, cell.inputSize)
        let row = batch * n
        let e = entries.count
        let (b0, ownRow) = (entries.lowerBound, e * n)
        let block = Self.streamingBlock(steps: steps, projectionRow: cell.projectionRowSize(batch: e))
        let ownWidth = e * (hidden?.width ?? 0)
        let own = ScratchBuffers<Scalar>(
            counts: [block * e * m, block * cell.projectionRowSize(batch: e), block * ownRow, ownRow, block * ownWidth])
        defer { own.deallocate() }
        let (ownInputs, ownProjections, ownStates, ownPrevious) = (own[0], own[1], own[2], own[3])
        copyScalars(ownPrevious, h0 + b0 * n, count: ownRow)
        var firstBad = Int.max
        var start = 0
        while start < steps {
            let count = min(block, steps - start)
            // Rows t of `[T][B][m]`: this worker's entries are e·m values at b0·m.
            let source = x + (start * batch + b0) * m
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
            // The finite-state guard's scan, while the block is in this worker's cache.
            if firstBad == .max,
                let bad = firstNonFinite(UnsafeBufferPointer(start: UnsafePointer(ownStates), count: count * ownRow))
            {
                firstBad = (start + bad / ownRow) * row + b0 * n + bad % ownRow
            }
            copyRows(h + start * row + b0 * n, stride: row, ownStates, stride: ownRow, count: ownRow, rows: count)
            if let (out, width) = hidden {
                cell.hiddenOutputs(ofStates: ownStates, steps: count, batch: e, into: own[4])
                copyRows(
                    out + start * batch * width + b0 * width, stride: batch * width, own[4], stride: ownWidth,
                    count: ownWidth, rows: count)
            }
            copyScalars(ownPrevious, ownStates + (count - 1) * ownRow, count: ownRow)
            start += count
        }
        return firstBad
    }
}
