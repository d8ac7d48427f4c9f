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
        if let bad = inputs.withUnsafeBufferPointer({ firstNonFinite($0) }) {
            throw .nonFiniteInput(index: bad)
        }
        if options.segmentLength != nil {
            throw .invalidOption("segment length applies to one sequence; a packed solve has no segments")
        }
        let (method, decision, _) = packedChoice(boundaries: boundaries, batch: batch)
        if method == .sequential {
            return streamedPackedRollout(
                inputs: inputs, boundaries: boundaries, batch: batch, initialStates: initialStates,
                decision: decision)
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

    /// Which worker rolls out which sequences: longest first onto the least loaded.
    func rolloutPlan(_ boundaries: SequenceBoundaries) -> [[Int]] {
        let workers = min(options.pool.threadCount, boundaries.count)
        var plan = [[Int]](repeating: [], count: workers)
        var load = [Int](repeating: 0, count: workers)
        let lengths = boundaries.lengths
        for i in lengths.indices.sorted(by: { lengths[$0] > lengths[$1] }) {
            let w = load.indices.min { load[$0] < load[$1] }!
            plan[w].append(i)
            load[w] += lengths[i]
        }
        return plan
    }

    /// The sequential method from inputs: each worker projects its sequences a cache-sized block
    /// at a time (as ``streamedRollout(inputs:steps:batch:initialState:)`` does for one) and rolls
    /// them out from their own initial states; no projections are materialised.
    func streamedPackedRollout(
        inputs: [Scalar], boundaries: SequenceBoundaries, batch: Int, initialStates: [Scalar]?,
        decision: String
    ) -> Solution<Scalar> {
        let steps = boundaries.steps
        let row = cell.stateRowSize(batch: batch)
        let urow = cell.projectionRowSize(batch: batch)
        let m = cell.inputSize
        let cell = self.cell
        let plan = rolloutPlan(boundaries)
        let h0s = initialStates ?? zeroArray(Scalar.self, count: boundaries.count * row)
        var states = uninitializedArray(Scalar.self, count: steps * row)
        inputs.withUnsafeBufferPointer { x in
            states.withUnsafeMutableBufferPointer { h in
                h0s.withUnsafeBufferPointer { h0 in
                    let x = UnsafeSendable(x.baseAddress!)
                    let h = UnsafeMutableSendable(h.baseAddress!)
                    let h0 = UnsafeSendable(h0.baseAddress!)
                    let projection = InputProjection(cell)
                    options.pool.forEach(plan.count) { w in
                        let longest = plan[w].map { boundaries.range(of: $0).count }.max() ?? 1
                        let block = Self.streamingBlock(steps: longest, projectionRow: urow)
                        let buffer = UnsafeMutablePointer<Scalar>.allocate(capacity: block * urow)
                        defer { buffer.deallocate() }
                        for i in plan[w] {
                            let r = boundaries.range(of: i)
                            let own = Self.streamingBlock(steps: r.count, projectionRow: urow)
                            var start = 0
                            while start < r.count {
                                let count = min(own, r.count - start)
                                let t = r.lowerBound + start
                                projection.project(
                                    inputs: x.base + t * batch * m, steps: count, batch: batch,
                                    projections: buffer, pool: .serial)
                                let previous = start == 0 ? h0.base + i * row : UnsafePointer(h.base + (t - 1) * row)
                                cell.rollout(
                                    steps: 0..<count, batch: batch, previous: previous,
                                    projections: UnsafePointer(buffer), states: h.base + t * row)
                                start += count
                            }
                        }
                    }
                }
            }
        }
        let residuals = states.withUnsafeBufferPointer {
            nonFiniteMarks(states: $0.baseAddress!, boundaries: boundaries, row: row)
        }
        let attempt = SolveAttempt(
            method: .sequential, iterations: 0, residualHistory: [0], converged: true,
            outcome: "sequential rollout of each sequence: exact by construction")
        var solution = Solution(
            states: states, steps: steps, batch: batch, method: .sequential, attempts: [attempt],
            converged: true, finalResidual: 0, tolerance: options.tolerance ?? Self.defaultTolerance,
            decision: decision, segments: 1)
        solution.sequenceLengths = boundaries.lengths
        solution.sequenceResiduals = residuals
        return Self.guardingFiniteStates(
            solution, row: row, segmentEnds: [1], segmentLength: steps, pool: options.pool)
    }

    /// Each sequence rolled out from its own initial state; sequences are spread over the
    /// pool's workers (longest first onto the least loaded), each rolled out by one thread, so
    /// every sequence's states are bitwise those of its own rollout.
    func packedRollout(
        batch: Int, projections: UnsafePointer<Scalar>, packing: PackedStarts<Scalar>,
        states: UnsafeMutablePointer<Scalar>
    ) {
        let boundaries = packing.boundaries
        let row = packing.row
        let urow = cell.projectionRowSize(batch: batch)
        let cell = self.cell
        let plan = rolloutPlan(boundaries)
        let u = UnsafeSendable(projections)
        let h = UnsafeMutableSendable(states)
        options.pool.forEach(plan.count) { w in
            for i in plan[w] {
                let r = boundaries.range(of: i)
                cell.rollout(
                    steps: 0..<r.count, batch: batch, previous: packing.initial(of: i),
                    projections: u.base + r.lowerBound * urow, states: h.base + r.lowerBound * row)
            }
        }
    }

    /// Per sequence: 0 (a rollout is exact), NaN where a state is not finite.
    func nonFiniteMarks(states: UnsafePointer<Scalar>, boundaries: SequenceBoundaries, row: Int) -> [Double] {
        (0..<boundaries.count).map { i in
            let r = boundaries.range(of: i)
            let view = UnsafeBufferPointer(start: states + r.lowerBound * row, count: r.count * row)
            return firstNonFinite(view) == nil ? 0 : .nan
        }
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
