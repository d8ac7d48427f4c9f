import ParallelScan

extension SequenceSolver {
    /// Solves several sequences of different lengths packed end to end along time, as one
    /// problem: no padding, no wasted steps, and the parallel passes balance work across all of
    /// them.
    ///
    /// Sequence i occupies steps `starts[i] ..< starts[i] + lengths[i]` of the packed input and
    /// runs s_t = f(s_{t−1}, x_t) from its own initial state. Newton, quasi-Newton, damped and
    /// ELK iterations linearise each sequence's first step at its initial state and solve with
    /// scans that reset at every sequence start (``AffineScan``'s scans with
    /// ``SequenceBoundaries``), so the iterates are those of separate solves up to rounding;
    /// `.sequential` rolls each sequence out from its own initial state (bitwise the separate
    /// rollouts), spreading the sequences over the pool's workers. The solution is certified per
    /// sequence: ``Solution/sequenceResiduals``.
    ///
    /// - Parameters:
    ///   - inputs: x, `[T][B][m]` with T = Σ lengths (all B entries share the boundaries).
    ///   - lengths: each sequence's number of steps (≥ 1).
    ///   - initialStates: `[sequences][stateRow]`; zeros if `nil`.
    ///
    /// ```swift
    /// let solution = try solver.solve(inputs: a + b, lengths: [a.count / m, b.count / m])
    /// solution.sequenceResiduals   // [r_a, r_b]
    /// ```
    public func solve(
        inputs: [Scalar], lengths: [Int], batch: Int = 1, initialStates: [Scalar]? = nil
    ) throws(SolverError) -> Solution<Scalar> {
        let boundaries = try packedBoundaries(lengths)
        if batch <= 0 { throw .shapeMismatch("batch size must be positive") }
        let steps = boundaries.steps
        let row = cell.stateRowSize(batch: batch)
        try checkInputCount(inputs.count, steps: steps, batch: batch, stepsName: "T=\(steps) (Σ lengths)")
        if let initialStates, initialStates.count != lengths.count * row {
            throw .shapeMismatch(
                "initial states hold \(initialStates.count) values, \(lengths.count) sequences × \(row) need \(lengths.count * row)"
            )
        }
        if lengths.count == 1 {
            var solution = try solve(inputs: inputs, steps: steps, batch: batch, initialState: initialStates)
            solution.sequenceLengths = lengths
            solution.sequenceResiduals = [solution.finalResidual]
            return solution
        }
        if options.segmentLength != nil {
            throw .invalidOption("segment length applies to one sequence; a packed solve has no segments")
        }
        let (method, decision, _) = packedChoice(boundaries: boundaries, batch: batch)
        if method == .sequential {
            // Checks the inputs block by block as it rolls them out.
            return try streamedPackedRollout(
                inputs: inputs, boundaries: boundaries, batch: batch, initialStates: initialStates,
                decision: decision)
        }
        if let bad = inputs.withUnsafeBufferPointer({ firstNonFinite($0, pool: options.pool) }) {
            throw .nonFiniteInput(index: bad)
        }
        let projections = cell.projections(of: inputs, steps: steps, batch: batch, pool: options.pool)
        return solve(
            projections: projections, boundaries: boundaries, batch: batch,
            initialStates: initialStates)
    }

    /// The packed solve from precomputed projections u_t = W x_t + b (`[T][G][B][d]`).
    public func solve(
        projections: [Scalar], boundaries: SequenceBoundaries, batch: Int,
        initialStates: [Scalar]? = nil
    ) -> Solution<Scalar> {
        let steps = boundaries.steps
        let row = cell.stateRowSize(batch: batch)
        let tolerance = options.tolerance ?? Self.defaultTolerance
        var (method, decision, _) = packedChoice(boundaries: boundaries, batch: batch)
        let h0s = initialStates ?? zeroArray(Scalar.self, count: boundaries.count * row)
        var contractivity: Contractivity? = nil
        if method != .sequential, options.method == .automatic || options.estimatesContractivity {
            // Along the first sequence only (the estimate must not cross a boundary).
            let c = projections.withUnsafeBufferPointer { u in
                h0s.withUnsafeBufferPointer { h0 in
                    self.contractivity(
                        projections: u.baseAddress!, steps: boundaries.range(of: 0).count,
                        batch: batch, initialState: h0.baseAddress!)
                }
            }
            contractivity = c
            if options.method == .automatic { (method, decision) = refineChoice(method, decision, by: c) }
        }
        var states = uninitializedArray(Scalar.self, count: steps * row)
        var result: SegmentResult! = nil
        var residuals: [Double] = []
        projections.withUnsafeBufferPointer { u in
            states.withUnsafeMutableBufferPointer { h in
                h0s.withUnsafeBufferPointer { h0 in
                    let packing = PackedStarts(boundaries: boundaries, initials: h0.baseAddress!, row: row)
                    result = solveSegment(
                        method: method, steps: steps, batch: batch, projections: u.baseAddress!,
                        previous: h0.baseAddress!, states: h.baseAddress!, hasGuess: false,
                        tolerance: tolerance, segment: 0, segments: 1, packing: packing)
                    residuals =
                        result.method == .sequential
                        ? nonFiniteMarks(states: UnsafePointer(h.baseAddress!), boundaries: boundaries, row: row)
                        : sequenceResiduals(
                            projections: u.baseAddress!, states: UnsafePointer(h.baseAddress!),
                            batch: batch, packing: packing)
                }
            }
        }
        var solution = Solution(
            states: states, steps: steps, batch: batch, method: result.method,
            attempts: result.attempts, converged: result.converged, finalResidual: result.residual,
            tolerance: tolerance, decision: decision, segments: 1)
        solution.contractivity = contractivity
        solution.sequenceLengths = boundaries.lengths
        solution.sequenceResiduals = residuals
        return Self.guardingFiniteStates(
            solution, row: row, segmentEnds: [result.attempts.count], segmentLength: steps, pool: options.pool)
    }

    /// The method for a packed problem: ``chooseMethod(steps:batch:)`` knowing that the packed
    /// rollout runs sequences side by side — its share of the threads is the total over the most
    /// any worker gets (longest first onto the least loaded).
    func packedChoice(boundaries: SequenceBoundaries, batch: Int) -> (SolverMethod, String, Double) {
        let steps = boundaries.steps
        let threads = options.pool.threadCount
        let longest = boundaries.lengths.max() ?? steps
        let perWorker = max(longest, (steps + threads - 1) / threads)
        let share = Double(steps) / Double(perWorker)
        var (method, decision) = chooseMethod(steps: steps, batch: batch, rolloutShare: share)
        if options.method == .automatic {
            decision =
                "\(boundaries.count) sequences packed, rollout share \(String(format: "%.1f", share))×: " + decision
        }
        return (method, decision, share)
    }

    /// The sequences longest first (ties by index): the order the packed rollouts hand them to
    /// workers as these come free.
    func longestFirst(_ boundaries: SequenceBoundaries) -> [Int] {
        let lengths = boundaries.lengths
        return lengths.indices.sorted { lengths[$0] != lengths[$1] ? lengths[$0] > lengths[$1] : $0 < $1 }
    }

    /// The sequential method from inputs, sequences longest first to whichever worker comes
    /// free (``WorkerPool/forEachDynamic(_:_:)``): a worker checks, projects and rolls out its
    /// sequence a cache-sized block at a time into its own buffer (as
    /// ``streamedRollout(inputs:steps:batch:initialState:)`` does for one), and checks each
    /// block of states it wrote while they are still in cache; no projections are materialised
    /// and no pass over the whole input or the whole state array follows.
    ///
    /// Every sequence's states are bitwise those of its own rollout (same projection kernel,
    /// same steps from its own initial state; which worker ran it does not matter).
    ///
    /// - Throws: ``SolverError/nonFiniteInput(index:)`` at the first NaN or Inf of the inputs
    ///   (each sequence stops at its first; the smallest over all is reported, as a one-pass
    ///   check would).
    func streamedPackedRollout(
        inputs: [Scalar], boundaries: SequenceBoundaries, batch: Int, initialStates: [Scalar]?,
        decision: String
    ) throws(SolverError) -> Solution<Scalar> {
        let steps = boundaries.steps
        let row = cell.stateRowSize(batch: batch)
        let urow = cell.projectionRowSize(batch: batch)
        let inputRow = batch * cell.inputSize
        let cell = self.cell
        let lengths = boundaries.lengths
        let order = longestFirst(boundaries)
        let block = Self.streamingBlock(steps: lengths[order[0]], projectionRow: urow)
        let slots = min(options.pool.threadCount, order.count)
        let h0s = initialStates ?? zeroArray(Scalar.self, count: boundaries.count * row)
        var states = uninitializedArray(Scalar.self, count: steps * row)
        // Per sequence: flat index of its first non-finite input / state, Int.max if none.
        var marks = [Int](repeating: .max, count: 2 * boundaries.count)
        let buffers = UnsafeMutablePointer<Scalar>.allocate(capacity: slots * block * urow)
        defer { buffers.deallocate() }
        inputs.withSendablePointer { x in
            states.withMutableSendablePointer { h in
                h0s.withSendablePointer { h0 in
                    marks.withMutableSendablePointer { bad in
                        let u = UnsafeMutableSendable(buffers)
                        let projection = InputProjection(cell)
                        let sequences = boundaries.count
                        options.pool.forEachDynamic(order.count) { k, slot in
                            let i = order[k]
                            let r = boundaries.range(of: i)
                            let buffer = u.base + slot * block * urow
                            var t = r.lowerBound
                            while t < r.upperBound {
                                let count = min(block, r.upperBound - t)
                                let xs = x.base + t * inputRow
                                if let j = firstNonFinite(UnsafeBufferPointer(start: xs, count: count * inputRow)) {
                                    bad.base[i] = t * inputRow + j
                                    return
                                }
                                projection.project(
                                    inputs: xs, steps: count, batch: batch, projections: buffer, pool: .serial)
                                let previous =
                                    t == r.lowerBound ? h0.base + i * row : UnsafePointer(h.base + (t - 1) * row)
                                cell.rollout(
                                    steps: 0..<count, batch: batch, previous: previous,
                                    projections: UnsafePointer(buffer), states: h.base + t * row)
                                if bad.base[sequences + i] == .max,
                                    let j = firstNonFinite(
                                        UnsafeBufferPointer(start: h.base + t * row, count: count * row))
                                {
                                    bad.base[sequences + i] = t * row + j
                                }
                                t += count
                            }
                        }
                    }
                }
            }
        }
        if let first = marks[0..<boundaries.count].min(), first != .max { throw .nonFiniteInput(index: first) }
        let stateMarks = marks[boundaries.count...]
        let attempt = SolveAttempt(
            method: .sequential, iterations: 0, residualHistory: [0], converged: true,
            outcome: "sequential rollout of each sequence: exact by construction")
        var solution = Solution(
            states: states, steps: steps, batch: batch, method: .sequential, attempts: [attempt],
            converged: true, finalResidual: 0, tolerance: options.tolerance ?? Self.defaultTolerance,
            decision: decision, segments: 1)
        solution.sequenceLengths = lengths
        solution.sequenceResiduals = stateMarks.map { $0 == .max ? 0 : .nan }
        if let first = stateMarks.min(), first != .max {
            return Self.markingNonFinite(solution, at: first, row: row, segmentEnds: [1], segmentLength: steps)
        }
        return solution
    }

    /// Each sequence rolled out from its own initial state, longest first to whichever worker
    /// comes free, each by one thread, so every sequence's states are bitwise those of its own
    /// rollout.
    func packedRollout(
        batch: Int, projections: UnsafePointer<Scalar>, packing: PackedStarts<Scalar>,
        states: UnsafeMutablePointer<Scalar>
    ) {
        let boundaries = packing.boundaries
        let row = packing.row
        let urow = cell.projectionRowSize(batch: batch)
        let cell = self.cell
        let order = longestFirst(boundaries)
        let u = UnsafeSendable(projections)
        let h = UnsafeMutableSendable(states)
        options.pool.forEachDynamic(order.count) { k, _ in
            let i = order[k]
            let r = boundaries.range(of: i)
            cell.rollout(
                steps: 0..<r.count, batch: batch, previous: packing.initial(of: i),
                projections: u.base + r.lowerBound * urow, states: h.base + r.lowerBound * row)
        }
    }

    /// Per sequence: 0 (a rollout is exact), NaN where a state is not finite.
    /// Sequences are checked in parallel (one sequence per work item).
    func nonFiniteMarks(states: UnsafePointer<Scalar>, boundaries: SequenceBoundaries, row: Int) -> [Double] {
        var marks = [Double](repeating: 0, count: boundaries.count)
        let h = UnsafeSendable(states)
        marks.withUnsafeMutableBufferPointer { out in
            let out = UnsafeMutableSendable(out.baseAddress!)
            options.pool.forEachDynamic(boundaries.count) { i, _ in
                let r = boundaries.range(of: i)
                let view = UnsafeBufferPointer(start: h.base + r.lowerBound * row, count: r.count * row)
                out.base[i] = firstNonFinite(view) == nil ? 0 : .nan
            }
        }
        return marks
    }

    /// Each sequence's certified residual max_t ‖s_t − f(s_{t−1}, x_t)‖∞ / max(1, ‖f‖∞): one
    /// parallel pass of cell values (no Jacobians) over pieces that never span two sequences.
    func sequenceResiduals(
        projections: UnsafePointer<Scalar>, states: UnsafePointer<Scalar>, batch: Int,
        packing: PackedStarts<Scalar>
    ) -> [Double] {
        let boundaries = packing.boundaries
        let row = packing.row
        let steps = boundaries.steps
        let urow = cell.projectionRowSize(batch: batch)
        let cell = self.cell
        let parts = max(1, min(options.pool.threadCount * 4, steps / 64))
        let pieces = boundaries.splitting(
            (0..<parts).map { ChunkPlan.evenRange(index: $0, of: parts, total: steps) })
        var pieceResiduals = [Double](repeating: 0, count: pieces.count)
        let u = UnsafeSendable(projections)
        let h = UnsafeSendable(states)
        let blockRows = max(1, 16_384 / max(1, row))
        pieceResiduals.withUnsafeMutableBufferPointer { out in
            let out = UnsafeMutableSendable(out.baseAddress!)
            options.pool.forEach(pieces.count) { p in
                let range = pieces[p]
                let scratch = UnsafeMutablePointer<Scalar>.allocate(capacity: min(blockRows, range.count) * row)
                defer { scratch.deallocate() }
                var worst = 0.0
                var t = range.lowerBound
                while t < range.upperBound {
                    let n = min(blockRows, range.upperBound - t)
                    let prior = packing.initialIfStart(t) ?? (h.base + (t - 1) * row)
                    cell.linearize(
                        steps: 0..<n, batch: batch, previous: prior, states: h.base + t * row,
                        projections: u.base + t * urow, values: scratch, jacobians: nil,
                        request: .structured)
                    worst = combineResiduals(
                        worst,
                        relativeResidual(
                            states: h.base + t * row, values: UnsafePointer(scratch), count: n * row))
                    t += n
                }
                out.base[p] = worst
            }
        }
        var residuals = [Double](repeating: 0, count: boundaries.count)
        for (p, range) in pieces.enumerated() {
            let i = boundaries.sequence(containing: range.lowerBound)
            residuals[i] = combineResiduals(residuals[i], pieceResiduals[p])
        }
        return residuals
    }
}

/// The boundaries of packed sequences of these lengths.
/// - Throws: ``SolverError/shapeMismatch(_:)`` for no lengths or a length below 1.
func packedBoundaries(_ lengths: [Int]) throws(SolverError) -> SequenceBoundaries {
    do {
        return try SequenceBoundaries(lengths: lengths)
    } catch {
        throw .shapeMismatch(error.description)
    }
}
