import ParallelScan

extension NewtonEngine {
    /// Whether ``iterateELKFused(tolerance:maxIterations:report:)`` applies: one sequence (no
    /// packing) and a filter of per-lane or 2×2-block elements (ParaGRU, ParaLSTM, quasi-ELK
    /// of large dense states), whose scans ``AffineRows`` solves block of rows by block of rows.
    func fusesELK(structure: JacobianStructure) -> Bool {
        guard packing == nil else { return false }
        switch structure {
        case .diagonal, .blockDiagonal(2): return true
        default: return false
        }
    }

    /// What one fused ELK pass does before linearising a block of rows.
    enum FusedELKPass {
        /// Nothing: linearise the current states (the start, or after a refused step).
        case relinearise
        /// Save the block's states, then solve it with the stored filtered (J, b) from the
        /// chunk's carry-in.
        case step
    }

    /// ELK (see ``ELK``) in one memory pass per taken step, as ``iterateFused(tolerance:maxIterations:hasGuess:checkThreshold:report:)``
    /// does for Newton.
    ///
    /// One chunk per worker; in parallel over chunks, block of rows by block of rows while they
    /// are in cache:
    /// 1. (step) save s⁽ⁿ⁾ of the block (a refused step restores it), then solve the filtered
    ///    recurrence s⁽ⁿ⁺¹⁾_t = G_t J_t s⁽ⁿ⁺¹⁾_{t−1} + (y_t + G_t(b_t − y_t)) from the carry-in;
    /// 2. linearise at the block's states: F_t, J_t, the residual max ‖s_t − F_t‖ / max(1, |F_t|),
    ///    the merit Σ ((s_t − F_t) / max(1, |F_t|))² and b_t = F_t − J_t s_{t−1};
    /// 3. the Kalman filter's variance recursion through the block and the rewrite of (J, b) into
    ///    the filtered (G J, y + G(b − y)) with y = s, for the σ² of the next step;
    /// 4. compose the rewritten rows into the chunk's summary (all chunks but the last).
    /// Serially over chunks: carry-in_{c+1} = summary_c(carry-in_c) with carry-in_0 the initial
    /// state. The trust-region rule is ``iterateELK(tolerance:maxIterations:fused:report:)``'s
    /// (``ELKSchedule``): a step is taken unless ``ELK/accepts(_:best:)`` refuses its merit, σ²
    /// then grows to ``ELKSchedule/next`` — so each pass filters with that σ², the one of the step
    /// after a taken one; a refused step restores the saved states, shrinks σ² ÷10 and costs one
    /// more pass (relinearise). Stagnation is ``ELKProgress``'s rule.
    ///
    /// The variance recursion of chunk c > 0 starts from chunk c − 1's final variance of the
    /// previous pass (zero in the first pass), where the unfused filter recomputes it from zero
    /// over the previous chunk: both are valid damping with the same fixed point (the result is
    /// certified by its residual), and they agree once the variances settle.
    ///
    ///     let attempt = engine.iterateELKFused(tolerance: 1e-5, maxIterations: 100) { _, _ in }
    func iterateELKFused(tolerance: Double, maxIterations: Int, report: (Int, Double) -> Void) -> SolveAttempt {
        let (request, structure) = ELK.plan(for: cell.structure, stateSize: cell.stateSize)
        let k: Int
        if case .blockDiagonal(let size) = structure { k = size } else { k = 1 }
        let jrow = cell.jacobianRowSize(batch: batch, request: request)
        reserveJacobians(steps * jrow)
        let row = self.row
        let blocks = row / k
        let batch = self.batch
        let cell = self.cell
        let width = ELK.varianceWidth(row: row, jrow: jrow, structure: structure)
        let workers = max(1, min(pool.threadCount, steps / 256))
        let chunkRanges = (0..<workers).map { ChunkPlan.evenRange(index: $0, of: workers, total: steps) }
        let blockRows = max(1, 32_768 / (jrow + 3 * row))
        let summaryCount = AffineRows.summaryCount(blocks: blocks, blockSize: k)
        let carries = UnsafeMutablePointer<Scalar>.allocate(capacity: workers * row)
        let summaries = UnsafeMutablePointer<Scalar>.allocate(capacity: workers * summaryCount)
        // Per chunk: the variance it starts from and the one it ends with.
        let starts = UnsafeMutablePointer<Double>.allocate(capacity: workers * width)
        let ends = UnsafeMutablePointer<Double>.allocate(capacity: workers * width)
        let saved = UnsafeMutablePointer<Scalar>.allocate(capacity: steps * row)
        starts.initialize(repeating: 0, count: workers * width)
        ends.initialize(repeating: 0, count: workers * width)
        defer {
            carries.deallocate()
            summaries.deallocate()
            starts.deallocate()
            ends.deallocate()
            saved.deallocate()
        }
        let (projections, states, values, jacobians) = (self.projections, self.states, offsets, self.jacobians!)

        /// One pass over every chunk, filtering with `sigma2`; returns the residual, the merit and
        /// the count of values above the tolerance of the states it leaves.
        func run(_ pass: FusedELKPass, sigma2: Double) -> ELKMeasure {
            // Chunk c starts from chunk c − 1's final variance of the last pass.
            if workers > 1 { (starts + width).update(from: ends, count: (workers - 1) * width) }
            let parts = pool.map(workers) { c in
                // Subnormal P products cost Intel cores a microcode assist each (see
                // withSubnormalsFlushed); the pass runs with them flushed to zero.
                let control = flushSubnormals()
                defer { restoreFloatingPointControl(control) }
                let range = chunkRanges[c]
                let reduces = c < workers - 1
                let chunkSummary = summaries + c * summaryCount
                if reduces { AffineRows.resetSummary(chunkSummary, blocks: blocks, blockSize: k) }
                let before = carries + c * row
                if c == 0 {
                    copyScalars(before, previous, count: row)
                } else if pass == .relinearise {
                    copyScalars(before, states + (range.lowerBound - 1) * row, count: row)
                }
                let variance = ends + c * width
                variance.update(from: starts + c * width, count: width)
                var worst = 0.0
                var merit = 0.0
                var unconverged = 0
                var firstUnconverged = Int.max
                var t = range.lowerBound
                while t < range.upperBound {
                    let rows = t..<min(t + blockRows, range.upperBound)
                    let prior =
                        t == range.lowerBound ? UnsafePointer(before) : UnsafePointer(states + (t - 1) * row)
                    let first = t * row
                    let count = rows.count * row
                    if pass == .step {
                        copyScalars(saved + first, states + first, count: count)
                        AffineRows.solve(
                            a: UnsafePointer(jacobians), b: UnsafePointer(values), rows: rows,
                            blocks: blocks, blockSize: k, carry: prior, output: states)
                    }
                    cell.linearize(
                        steps: rows, batch: batch, previous: prior, states: UnsafePointer(states),
                        projections: projections, values: values, jacobians: jacobians, request: request)
                    let blockMerit = relativeMerit(
                        states: UnsafePointer(states + first), values: UnsafePointer(values + first), count: count,
                        tolerance: tolerance)
                    merit += blockMerit.merit
                    unconverged += blockMerit.unconverged
                    firstUnconverged = min(
                        firstUnconverged,
                        ELKMeasure.step(first: blockMerit.first, count: count, start: rows.lowerBound, row: row))
                    worst = combineResiduals(
                        worst,
                        residualAndOffsets(
                            range: rows, row: row, jrow: jrow, states: UnsafePointer(states), initial: prior,
                            values: values, jacobians: jacobians, structure: structure, batch: batch,
                            stateSize: cell.stateSize, hidden: cell.hiddenSize, clip: nil))
                    ELK.filter(
                        range: rows, row: row, jrow: jrow, structure: structure, jacobians: jacobians,
                        offsets: values, states: UnsafePointer(states), variance: variance, sigma2: sigma2,
                        rewrite: true)
                    if reduces {
                        AffineRows.accumulate(
                            a: UnsafePointer(jacobians), b: UnsafePointer(values), rows: rows,
                            blocks: blocks, blockSize: k, summary: chunkSummary)
                    }
                    t = rows.upperBound
                }
                return ELKMeasure(
                    residual: worst, merit: merit, unconverged: unconverged, firstUnconverged: firstUnconverged)
            }
            // Carry-ins of the next solve: chunk c + 1 starts from chunk c's composed map.
            copyScalars(carries, previous, count: row)
            for c in 0..<(workers - 1) {
                AffineRows.applySummary(
                    UnsafePointer(summaries + c * summaryCount), blocks: blocks, blockSize: k,
                    input: UnsafePointer(carries + c * row), output: carries + (c + 1) * row)
            }
            return ELKMeasure(combining: parts)
        }

        return iterateTrustRegion(
            structure: structure, tolerance: tolerance, maxIterations: maxIterations, saved: saved,
            filtersAhead: true, report: report
        ) { sigma2 in
            run(.relinearise, sigma2: sigma2)
        } step: { sigma2 in
            run(.step, sigma2: sigma2)
        }
    }
}
