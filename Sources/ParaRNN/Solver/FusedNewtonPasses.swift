import ParallelScan

extension RecurrentCell {
    /// The block size k of the scan behind a fused Newton pass (1 for diagonal Jacobians), or
    /// nil when the cell's plain Newton does not run fused (see ``NewtonEngine/fusedBlockSize``).
    package var fusedNewtonBlockSize: Int? {
        guard fusesNewtonOffsets else { return nil }
        switch structure {
        case .diagonal: return 1
        case .blockDiagonal(let k): return k <= 4 ? k : nil
        case .dense: return nil
        }
    }
}

extension NewtonEngine {
    /// The block size k of the scan behind a structured Newton step (1 for diagonal), if the
    /// fused passes of ``iterateFused(tolerance:maxIterations:hasGuess:checkThreshold:report:)`` apply: cells
    /// that fold the residual and offsets into their kernel, with diagonal or k×k (k ≤ 4) blocks.
    var fusedBlockSize: Int? { cell.fusedNewtonBlockSize }

    /// What one fused pass does to each block of rows.
    enum FusedPass {
        /// s⁽⁰⁾ = f(0, u) (unless a guess was given), then linearise and reduce.
        case first
        /// Solve with the stored (J, b), then linearise at the new states and reduce.
        case step
        /// Solve, then only the residual (no Jacobians, offsets or summaries): the pass that is
        /// predicted to certify convergence.
        case check
        /// Linearise and reduce at the current states (after a check that did not converge).
        case relinearise
        /// s⁽⁰⁾ by exact rollouts of the chunks after their burn-ins (``NewtonGuess``), then
        /// the residual at the chunks' first steps only (every other step is f of its
        /// predecessor by construction).
        case guess
    }

    /// Plain Newton in one memory pass per iteration.
    ///
    /// The sequence is split into one chunk per worker. Newton step n maps the iterate s⁽ⁿ⁾ to
    /// s⁽ⁿ⁺¹⁾ = scan(J⁽ⁿ⁾, b⁽ⁿ⁾); the scan's chunk summaries are computed in the same pass that
    /// produces (J⁽ⁿ⁾, b⁽ⁿ⁾), and its solve in the pass that produces the next linearisation.
    /// Pass n, in parallel over chunks, block of rows by block of rows while they are in cache:
    /// 1. n = 0: s⁽⁰⁾ = f(0, u_t) (ParaRNN's guess) unless a guess was given;
    ///    n ≥ 1: s⁽ⁿ⁾_t = J⁽ⁿ⁻¹⁾_t s⁽ⁿ⁾_{t−1} + b⁽ⁿ⁻¹⁾_t from the chunk's carry-in;
    /// 2. linearise at s⁽ⁿ⁾: F_t, J⁽ⁿ⁾_t, the residual max ‖s⁽ⁿ⁾_t − F_t‖ / max(1, |F_t|), and
    ///    b⁽ⁿ⁾_t = F_t − J⁽ⁿ⁾_t s⁽ⁿ⁾_{t−1};
    /// 3. compose (J⁽ⁿ⁾, b⁽ⁿ⁾) over the chunk into its summary (all chunks but the last).
    /// Then, serially over the chunks, carry-in_{c+1} = summary_c(carry-in_c) with carry-in_0 the
    /// initial state: exactly s⁽ⁿ⁺¹⁾ at each chunk's last step. The iterates are those of
    /// ``iterate(method:tolerance:maxIterations:dampingBound:report:)`` with `.newton` (up to
    /// rounding); what changes is the memory traffic: one pass per iteration instead of five.
    ///
    /// When Newton's quadratic convergence predicts that the next iterate meets the tolerance
    /// (r_{n+1} ≈ r_n³ / r_{n−1}² ≤ tolerance / 10), the next pass only solves and measures the
    /// residual, skipping the Jacobians, offsets and summaries nobody would read. If the
    /// prediction fails, a pass re-linearises those states and the iteration goes on: the
    /// result is certified by the measured residual either way.
    ///
    /// - Parameters:
    ///   - checkThreshold: the predicted residual below which the next pass is a check
    ///     (tolerance / 10 if nil; tests force checks with +∞).
    ///   - link: this engine's steps are one segment of a sequence split across processes
    ///     (``FusedSegmentLink``): every chunk, the last included, reduces to its summary; the
    ///     residual is the maximum over all segments; before each solve the segment's composed
    ///     map goes to the coupling, which writes the state entering the segment into
    ///     `previous` (the engine's). nil (one process): the passes are exactly as without it.
    func iterateFused(
        tolerance: Double, maxIterations: Int, hasGuess: Bool, checkThreshold: Double? = nil,
        link: FusedSegmentLink<Scalar>? = nil, report: (Int, Double) -> Void
    ) -> SolveAttempt {
        precondition(link == nil || link!.entry == UnsafeMutablePointer(mutating: previous), "link.entry is previous")
        let k = fusedBlockSize!
        let jrow = cell.jacobianRowSize(batch: batch, request: .structured)
        reserveJacobians(steps * jrow)
        let (row, batch, cell) = (self.row, self.batch, self.cell)
        let blocks = row / k
        let urow = cell.projectionRowSize(batch: batch)
        // Four chunks per worker, taken in turn by whichever worker is free
        // (``WorkerPool/forEachDynamic(_:_:)``): with one chunk each, every pass waited for the
        // slowest worker (16-core VM, ParaLSTM d = 4: pass wall 30.7 ms against 21.5 ms of mean
        // busy time). A chunk's rows stay in the shared L3 between passes whichever core takes it.
        // (``chunkThreads`` plans them as for another thread count: the scratch below is then
        // sized for whichever is larger, the planned workers or the pool's that take chunks.)
        let planned = SegmentChunks.plan(steps: steps, threads: chunkThreads ?? pool.threadCount)
        let chunks = planned.chunks
        let workers = max(planned.workers, min(chunks, pool.threadCount))
        let chunkRanges = (0..<chunks).map { ChunkPlan.evenRange(index: $0, of: chunks, total: steps) }
        // Rows per cache block: about 32 K values of J, b and s (L2-resident between the solve,
        // the linearisation and the reduction; large enough that per-call set-up in the cell
        // kernels is negligible).
        let blockRows = max(1, 32_768 / (jrow + 2 * row))
        let summaryCount = AffineRows.summaryCount(blocks: blocks, blockSize: k)
        // Per chunk: carry-in (s before the chunk), summary, and the values of a check pass.
        let (carries, summaries, checkValues) = (
            UnsafeMutablePointer<Scalar>.allocate(capacity: chunks * row),
            UnsafeMutablePointer<Scalar>.allocate(capacity: chunks * summaryCount),
            UnsafeMutablePointer<Scalar>.allocate(capacity: workers * blockRows * row)
        )
        defer { [carries, summaries, checkValues].forEach { $0.deallocate() } }
        // The buffers as the workers see them.
        let (u, initial) = (UnsafeSendable(projections), UnsafeSendable(previous))
        let (h, f, jac) = (
            UnsafeMutableSendable(states), UnsafeMutableSendable(offsets), UnsafeMutableSendable(jacobians!)
        )
        let (carry, summary, values) = (
            UnsafeMutableSendable(carries), UnsafeMutableSendable(summaries), UnsafeMutableSendable(checkValues)
        )
        let zeros = zeroArray(Scalar.self, count: row)
        // Whether the last guess pass found every state it wrote finite.
        var guessFinite = false
        statesCheckedFinite = false
        let packing = self.packing
        // The chunk-rollout guess: one sequence (no packing, no other processes), a few
        // chunks of at least ``NewtonGuess/shortestChunk`` steps.
        let burnIn = NewtonGuess.burnIn(chunkLength: steps / chunks)
        let rolloutGuess =
            newtonGuess == .chunkRollouts && !hasGuess && packing == nil && link == nil && chunks > 1
            && steps / chunks >= NewtonGuess.shortestChunk
        let timer = timings
        // The first pass projects its blocks' inputs itself when they are pending (the rows are
        // then in cache for the linearisation, and no separate projection pass runs).
        let pending = pendingProjection.map { (x: UnsafeSendable($0.inputs), u: UnsafeMutableSendable($0.target)) }
        let inputRow = batch * cell.inputSize
        let projector = pending == nil ? nil : InputProjection(cell)
        let scalarBytes = MemoryLayout<Scalar>.size
        // Float16 Jacobians (Float only): each block's J is linearised into a worker scratch,
        // rounded there (offsets corrected for the rounding), stored at 2 bytes and expanded
        // into the scratch again before the next pass's solve.
        let compact = compactJacobians && Scalar.self == Float.self && packing == nil
        let compactStore: UnsafeMutablePointer<Float16>? = compact ? .allocate(capacity: steps * jrow) : nil
        let compactScratch: UnsafeMutablePointer<Scalar>? =
            compact ? .allocate(capacity: workers * blockRows * jrow) : nil
        defer {
            compactStore?.deallocate()
            compactScratch?.deallocate()
        }
        let store16 = compactStore.map { UnsafeMutableSendable($0) }
        let scratchJ = compactScratch.map { UnsafeMutableSendable($0) }
        let jBytes = compact ? 2 : scalarBytes
        /// Bytes a pass moves per step: J and b are read by the solve and written by the
        /// linearisation, u read (or x read and u written), h written (write-allocate not counted).
        func bytesPerStep(_ pass: FusedPass, projecting: Bool) -> Int {
            let inputs = scalarBytes * (projecting ? inputRow + urow : urow)
            switch pass {
            case .first: return inputs + scalarBytes * (2 * row) + jBytes * jrow
            case .step: return inputs + scalarBytes * (3 * row) + 2 * jBytes * jrow
            case .check: return inputs + scalarBytes * (2 * row) + jBytes * jrow
            case .relinearise: return inputs + scalarBytes * (2 * row) + jBytes * jrow
            case .guess: return inputs + scalarBytes * row
            }
        }

        /// Runs one pass over every chunk; returns the residual of the states it leaves.
        func run(_ pass: FusedPass) -> Double {
            var residuals = [Double](repeating: 0, count: chunks)
            // Guess pass: whether each chunk rolled out a state that is not finite.
            let nonFinite = UnsafeMutablePointer<Bool>.allocate(capacity: chunks)
            nonFinite.initialize(repeating: false, count: chunks)
            defer { nonFinite.deallocate() }
            let flags = UnsafeMutableSendable(nonFinite)
            let projecting = (pass == .first || pass == .guess) && pending != nil
            timer?.prepare(workers: workers)
            let started = timer == nil ? 0 : phaseClock()
            residuals.withUnsafeMutableBufferPointer { res in
                let res = UnsafeMutableSendable(res.baseAddress!)
                pool.forEachDynamic(chunks, sideWork: sideWork) { c, slot in
                    // Subnormal P products cost Intel cores a microcode assist each (see
                    // withSubnormalsFlushed); the pass runs with them flushed to zero.
                    let control = flushSubnormals()
                    defer { restoreFloatingPointControl(control) }
                    let range = chunkRanges[c]
                    // Phase timing: the time since `mark` goes to `phase`.
                    var mark = timer == nil ? 0 : phaseClock()
                    @inline(__always) func lap(_ phase: NewtonPhaseTimings.Phase) {
                        guard let timer else { return }
                        let now = phaseClock()
                        timer.add(now - mark, worker: slot, phase: phase)
                        mark = now
                    }
                    // (Across processes the last chunk reduces too: its summary completes the
                    // segment's map, which the next segments' carry-ins need.)
                    let reduces = (c < chunks - 1 || link != nil) && pass != .check && pass != .guess
                    let chunkSummary = summary.base + c * summaryCount
                    if reduces { AffineRows.resetSummary(chunkSummary, blocks: blocks, blockSize: k) }
                    // The state before the chunk: the initial state, the carry-in of a solve,
                    // or the current iterate at the chunk's previous step.
                    let before = carry.base + c * row
                    if c == 0 {
                        copyScalars(before, initial.base, count: row)
                    } else if let start = packing?.initialIfStart(range.lowerBound) {
                        copyScalars(before, start, count: row)
                    } else if pass == .relinearise || (pass == .first && hasGuess) {
                        copyScalars(before, h.base + (range.lowerBound - 1) * row, count: row)
                    } else if pass == .guess {
                        // The burn-in: the steps before the chunk, rolled out from a zero state
                        // (their projections, when pending, belong to the previous chunk:
                        // computed here into a scratch).
                        let first = range.lowerBound - burnIn
                        var burnU: [Scalar] = []
                        if let pending, let projector {
                            burnU = [Scalar](repeating: 0, count: burnIn * urow)
                            burnU.withUnsafeMutableBufferPointer { p in
                                projector.project(
                                    inputs: pending.x.base + first * inputRow, rows: 0..<burnIn, batch: batch,
                                    into: p.baseAddress!)
                            }
                        }
                        burnU.withUnsafeBufferPointer { p in
                            cell.burnIn(
                                steps: burnIn, batch: batch,
                                projections: p.isEmpty ? u.base + first * urow : p.baseAddress!, into: before)
                        }
                    } else if pass == .first {
                        // f(0, u) at the previous step (one row from a zero state); its
                        // projection, when pending, belongs to the previous chunk: computed
                        // here into a scratch row.
                        var previousU: [Scalar] = []
                        if let pending, let projector {
                            previousU = [Scalar](repeating: 0, count: urow)
                            previousU.withUnsafeMutableBufferPointer { p in
                                projector.project(
                                    inputs: pending.x.base + (range.lowerBound - 1) * inputRow, rows: 0..<1,
                                    batch: batch, into: p.baseAddress!)
                            }
                        }
                        zeros.withUnsafeBufferPointer { z in
                            previousU.withUnsafeBufferPointer { p in
                                cell.linearize(
                                    steps: 0..<1, batch: batch, previous: z.baseAddress!,
                                    states: z.baseAddress!,
                                    projections: p.isEmpty ? u.base + (range.lowerBound - 1) * urow : p.baseAddress!,
                                    values: before, jacobians: nil, request: .structured)
                            }
                        }
                    }
                    var worst = 0.0
                    var t = range.lowerBound
                    // Packed sequences: blocks end at sequence starts; a block that begins one
                    // starts from the sequence's initial state, and the summary restarts there.
                    var nextStart = packing.map { $0.boundaries.firstStart(atLeast: range.lowerBound) } ?? 0
                    while t < range.upperBound {
                        var end = min(t + blockRows, range.upperBound)
                        var restart: UnsafePointer<Scalar>? = nil
                        if let packing {
                            let starts = packing.boundaries.starts
                            if nextStart < starts.count, starts[nextStart] == t {
                                restart = packing.initial(of: nextStart)
                                nextStart += 1
                            }
                            if nextStart < starts.count, starts[nextStart] < end { end = starts[nextStart] }
                        }
                        let rows = t..<end
                        let prior =
                            restart
                            ?? (t == range.lowerBound ? UnsafePointer(before) : UnsafePointer(h.base + (t - 1) * row))
                        if let restart, reduces {
                            // x ↦ h₀ (P = 0, Q = h₀); the rows then compose onto it.
                            AffineRows.setConstantSummary(
                                chunkSummary, blocks: blocks, blockSize: k, value: restart)
                        }
                        if projecting, let pending, let projector {
                            projector.project(
                                inputs: pending.x.base + t * inputRow, rows: 0..<rows.count, batch: batch,
                                into: pending.u.base + t * urow)
                            lap(.project)
                        }
                        // This worker's Float Jacobians of the block (compact storage only).
                        let blockJ = scratchJ.map { $0.base + slot * blockRows * jrow }
                        switch pass {
                        case .step, .check:
                            if let blockJ, let store16 {
                                CompactJacobians.expand(
                                    store16.base + t * jrow, into: Self.asFloat(blockJ), count: rows.count * jrow)
                                AffineRows.solve(
                                    a: UnsafePointer(blockJ), b: UnsafePointer(f.base + t * row), rows: 0..<rows.count,
                                    blocks: blocks, blockSize: k, carry: prior, output: h.base + t * row)
                                break
                            }
                            AffineRows.solve(
                                a: UnsafePointer(jac.base), b: UnsafePointer(f.base), rows: rows,
                                blocks: blocks, blockSize: k, carry: prior, output: h.base)
                        case .first where !hasGuess && cell.evaluatesFromZeroState:
                            var arguments = LinearizeArguments(
                                steps: rows, batch: batch, previous: prior, states: UnsafePointer(h.base),
                                projections: u.base, values: h.base, jacobians: nil,
                                request: .structured)
                            arguments.previousStatesAreZero = true
                            cell.linearize(arguments)
                        case .first where !hasGuess:
                            // s⁽⁰⁾ = f(0, u): the kernel reads rows t−1… of `states` as the
                            // previous states, so zeroed offsets rows stand in for them.
                            zeroFill(f.base + t * row, count: rows.count * row)
                            cell.linearize(
                                steps: rows, batch: batch, previous: UnsafePointer(f.base + t * row),
                                states: UnsafePointer(f.base + row), projections: u.base,
                                values: h.base, jacobians: nil, request: .structured)
                        case .guess:
                            cell.rollout(
                                steps: rows, batch: batch, previous: prior, projections: u.base, states: h.base)
                            // The finite-state guard's scan of these rows, while they are in cache.
                            if firstNonFinite(UnsafeBufferPointer(start: h.base + t * row, count: rows.count * row))
                                != nil
                            {
                                flags.base[c] = true
                            }
                        case .first, .relinearise:
                            break
                        }
                        lap(.solve)
                        if pass == .guess {
                            t = rows.upperBound
                            continue
                        }
                        if pass == .check {
                            // Values only, into this worker's scratch (pointers rebased to the
                            // block, so the kernel sees steps 0…), then the residual.
                            let scratch = values.base + slot * blockRows * row
                            cell.linearize(
                                steps: 0..<rows.count, batch: batch, previous: prior,
                                states: UnsafePointer(h.base + t * row), projections: u.base + t * urow,
                                values: scratch, jacobians: nil, request: .structured)
                            worst = combineResiduals(
                                worst,
                                relativeResidual(
                                    states: UnsafePointer(h.base + t * row), values: UnsafePointer(scratch),
                                    count: rows.count * row))
                            lap(.check)
                        } else {
                            var blockResidual = 0.0
                            withUnsafeMutablePointer(to: &blockResidual) { pointer in
                                // Compact: the block's rows rebased to steps 0… (J into the scratch).
                                var arguments =
                                    blockJ == nil
                                    ? LinearizeArguments(
                                        steps: rows, batch: batch, previous: prior,
                                        states: UnsafePointer(h.base), projections: u.base,
                                        values: f.base, jacobians: jac.base, request: .structured)
                                    : LinearizeArguments(
                                        steps: 0..<rows.count, batch: batch, previous: prior,
                                        states: UnsafePointer(h.base + t * row), projections: u.base + t * urow,
                                        values: f.base + t * row, jacobians: blockJ, request: .structured)
                                arguments.fusedResidual = pointer
                                cell.linearize(arguments)
                            }
                            if let blockJ, let store16 {
                                CompactJacobians.round(
                                    Self.asFloat(blockJ), store: store16.base + t * jrow,
                                    offsets: Self.asFloat(f.base + t * row), rows: rows.count, row: row, blockSize: k,
                                    prior: Self.asFloatReadOnly(prior), states: Self.asFloat(h.base + t * row))
                            }
                            worst = combineResiduals(worst, blockResidual)
                            lap(.linearise)
                        }
                        if reduces, let blockJ {
                            AffineRows.accumulate(
                                a: UnsafePointer(blockJ), b: UnsafePointer(f.base + t * row), rows: 0..<rows.count,
                                blocks: blocks, blockSize: k, summary: chunkSummary)
                            lap(.reduce)
                        } else if reduces {
                            AffineRows.accumulate(
                                a: UnsafePointer(jac.base), b: UnsafePointer(f.base), rows: rows,
                                blocks: blocks, blockSize: k, summary: chunkSummary)
                            lap(.reduce)
                        }
                        t = rows.upperBound
                    }
                    res.base[c] = worst
                }
            }
            if let timer {
                timer.recordPass(
                    wall: phaseClock() - started, steps: steps,
                    bytesPerStep: bytesPerStep(pass, projecting: projecting),
                    first: pass == .first || pass == .guess)
            }
            if projecting { pendingProjection = nil }
            if pass == .guess { guessFinite = !(0..<chunks).contains { nonFinite[$0] } }
            if pass == .guess {
                // The seams: the first step of each chunk after the first against f of the
                // previous chunk's last state.
                residuals[0] = cell.seamResidual(
                    starts: chunkRanges.dropFirst().map(\.lowerBound), batch: batch, states: UnsafePointer(states),
                    projections: projections)
            }
            let local = residuals.reduce(0, combineResiduals)
            return link.map { $0.coupling.maxResidual(local) } ?? local
        }

        /// Bounds this segment's iterate; whether any segment changed a value (every segment
        /// takes the same branch).
        func boundsAnywhere() -> Bool {
            let changed = boundStates()
            guard let link else { return changed > 0 }
            return link.coupling.sum(changed) > 0
        }

        var monitor = ConvergenceMonitor(method: .newton, tolerance: tolerance, maxIterations: maxIterations)
        var pass = rolloutGuess ? FusedPass.guess : .first
        var bounded = 0
        for iteration in 0...maxIterations {
            var residual = run(pass)
            var linearised = pass != .check && pass != .guess
            if !residual.isFinite, boundsAnywhere() {
                // The step overflowed: bound the iterate (``boundStates()``) and linearise it.
                residual = run(.relinearise)
                linearised = true
                bounded += 1
            }
            report(iteration, residual)
            if var finished = monitor.record(residual, iteration: iteration) {
                // Certified at the guess: the states are the guess pass's, scanned as it wrote them.
                statesCheckedFinite = pass == .guess && !linearised && guessFinite
                if rolloutGuess {
                    finished.outcome +=
                        "; started from exact rollouts of \(chunks) chunks after \(burnIn)-step burn-ins"
                }
                return noteOverflows(finished, bounded)
            }
            // Plain Newton steps that overflowed will overflow again: leave it to the fallback.
            if bounded > 0 { return noteOverflows(monitor.stopped(iteration, "step overflowed"), bounded) }
            if !linearised {
                // The prediction failed: linearise these states (same residual) and go on.
                _ = run(.relinearise)
            }
            // Carry-ins of the next solve: chunk c + 1 starts from chunk c's composed map.
            let carryStarted = timer == nil ? 0 : phaseClock()
            if let link {
                // The segment's map (chunk maps composed in order) to the coupling, which sets
                // `previous` to the state entering the segment for the next solve.
                link.enterSegment(
                    chunkSummaries: UnsafePointer(summaries), chunks: chunks, blocks: blocks, blockSize: k)
            }
            copyScalars(carries, previous, count: row)
            for c in 0..<(chunks - 1) {
                AffineRows.applySummary(
                    UnsafePointer(summaries + c * summaryCount), blocks: blocks, blockSize: k,
                    input: UnsafePointer(carries + c * row), output: carries + (c + 1) * row)
            }
            timer?.recordCarry(phaseClock() - carryStarted)
            // Quadratic convergence r_{n+1} ≈ C·r_n² with C ≈ r_n / r_{n−1}².
            let history = monitor.history
            if history.count >= 2, let last = history.last, history[history.count - 2] > 0 {
                let earlier = history[history.count - 2]
                let predicted = last * last * last / (earlier * earlier)
                pass = predicted <= (checkThreshold ?? tolerance / 10) ? .check : .step
            } else {
                pass = .step
            }
        }
        return noteOverflows(monitor.limitReached(), bounded)
    }

    /// A pointer to scalars that are Float (the compact path runs only when Scalar == Float).
    @inline(__always)
    static func asFloat(_ pointer: UnsafeMutablePointer<Scalar>) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: Float.self)
    }

    @inline(__always)
    static func asFloatReadOnly(_ pointer: UnsafePointer<Scalar>) -> UnsafePointer<Float> {
        UnsafeRawPointer(pointer).assumingMemoryBound(to: Float.self)
    }
}
