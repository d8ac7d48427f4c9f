import ParallelScan

extension SequenceSolver {
    /// Solves this process's segment in cache-sized pieces, as one process streams a long
    /// sequence (``SolverOptions/segmentLength``), with the segments' entering states fixed
    /// afterwards: shooting with certified corrections.
    ///
    /// 1. **Speculative solve.** Segment r guesses the state entering it — the true initial
    ///    state on segment 0; elsewhere the previous segment's last 256 steps rolled out from a
    ///    zero state (``burnInEnd(inputs:steps:batch:)``, one row from the neighbour) — and
    ///    solves its steps from that guess with the one-process solver in pieces of
    ///    `segmentLength` (each piece by the requested method — `.automatic` chooses once, from
    ///    the contractivity along the first steps — with the fallback chain and its default
    ///    Newton guess, from the exact end state of the piece before it, certified by its own
    ///    residual): no communication, every piece in cache. As one process streams, one
    ///    piece-sized projection buffer is reused (the fused first Newton pass fills it) and each
    ///    piece's states are checked finite while in cache; only the states span the segment
    ///    (advised to transparent huge pages: first-touch faults of 4 KiB pages from several
    ///    workers serialise in the kernel).
    /// 2. **Correction rounds.** Each segment sends its last state to the next. A segment whose
    ///    entering state changed re-solves from the new one, piece after piece (the first
    ///    pieces short: 1024 steps, doubling up to `segmentLength`), until the residual of the
    ///    first step it did not re-solve, ‖s_t − f(s_{t−1}, u_t)‖∞ / max(1, ‖f‖∞) with the new
    ///    s_{t−1}, meets the tolerance: from there on its old states already satisfy the
    ///    equations (with the burn-in guess usually at step 0 already: nothing is re-solved).
    ///    For a contracting cell the new entering state's influence dies out within
    ///    a few pieces, so the last state does not change and one round ends the solve; a round
    ///    repeats only while some segment's last state changed, at most R − 1 times (after
    ///    round k the first k + 1 segments start from exact states: the pipelined rollout's
    ///    bound).
    /// 3. The certificate: every step's residual is certified either by the Newton solve of
    ///    its piece (from the exact state before the piece) or, at a junction, by the explicit
    ///    check; the reported residual is the largest of them over all segments
    ///    (`maxResidual`), an upper bound on the final states' residual.
    ///
    /// Communication: one row at the start, then per round one row to the neighbour and one
    /// agreement (`allAgree`), against two collectives per Newton iteration for the
    /// iteration-synchronous solve (``coupledFusedNewton(steps:batch:inputs:projections:initial:states:tolerance:maxIterations:coupling:checkThreshold:)``).
    func streamedCoupledSolve(
        inputs: [Scalar], steps: Int, batch: Int, initialState h0: [Scalar], segmentLength: Int,
        coupling: any SegmentCoupling
    ) -> Solution<Scalar> {
        let row = cell.stateRowSize(batch: batch)
        let urow = cell.projectionRowSize(batch: batch)
        let tolerance = options.tolerance ?? Self.defaultTolerance
        let timings = options.coupledTimings
        var mark = ContinuousClock.now
        var local = self
        local.options.coupling = nil
        local.options.segmentLength = nil
        let pieceLength = min(segmentLength, steps)
        var entry = h0
        // 1. The guess: the previous segment's last steps rolled out from a zero state (a
        // burn-in, as the one-process chunk-rollout guess starts its chunks).
        let last = inputs.withUnsafeBufferPointer { x in
            burnInEnd(inputs: x.baseAddress!, steps: steps, batch: batch)
        }
        shift(last, into: &entry, coupling: coupling)
        mark = timings?.add(.guess, since: mark) ?? mark
        // 2. The speculative solve, piece after piece, as one process streams: one piece-sized
        // projection buffer reused (the fused first pass fills it), the states written in place.
        var states = uninitializedArray(Scalar.self, count: steps * row)
        states.withUnsafeMutableBytes { adviseHugePages($0.baseAddress!, bytes: $0.count) }
        var scratch = uninitializedArray(Scalar.self, count: pieceLength * urow)
        var (method, decision) = chooseMethod(steps: steps, batch: batch)
        var contractivity: Contractivity? = nil
        let pieces = (steps + pieceLength - 1) / pieceLength
        var speculative = PiecesResult(method: method)
        inputs.withUnsafeBufferPointer { x in
            scratch.withUnsafeMutableBufferPointer { u in
                states.withUnsafeMutableBufferPointer { h in
                    entry.withUnsafeBufferPointer { e in
                        let (x, u, h, e) = (x.baseAddress!, u.baseAddress!, h.baseAddress!, e.baseAddress!)
                        // The contractivity along the first steps (as one process): for
                        // `.automatic`'s choice and reports; the first piece is then projected.
                        var projected = false
                        if method != .sequential, options.method == .automatic || options.estimatesContractivity {
                            cell.project(
                                inputs: x, steps: pieceLength, batch: batch, projections: u, pool: options.pool)
                            projected = true
                            let c = local.contractivity(
                                projections: UnsafePointer(u), steps: pieceLength, batch: batch, initialState: e)
                            contractivity = c
                            if options.method == .automatic {
                                (method, decision) = refineChoice(method, decision, by: c)
                            }
                        }
                        for k in 0..<pieces {
                            let range = (k * pieceLength)..<min(steps, (k + 1) * pieceLength)
                            let previous = k == 0 ? e : UnsafePointer(h + (range.lowerBound - 1) * row)
                            speculative.add(
                                local.solvePiece(
                                    method: method, range: range, batch: batch, inputs: x, scratch: u,
                                    projected: k == 0 && projected, previous: previous, states: h,
                                    tolerance: tolerance, index: k, of: pieces))
                        }
                    }
                }
            }
        }
        var attempts = speculative.attempts
        var converged = speculative.converged
        var worst = speculative.residual
        var nonFinite = speculative.nonFinite
        mark = timings?.add(.pieces, since: mark) ?? mark
        // 3. Correction rounds.
        var rounds = 0
        var resolved = 0
        while rounds < coupling.segments - 1 {
            rounds += 1
            var incoming = entry
            let end = Array(states[((steps - 1) * row)...])
            shift(end, into: &incoming, coupling: coupling)
            mark = timings?.add(.exchange, since: mark) ?? mark
            var endChanged = false
            if !Self.sameBits(incoming, entry[...]) {
                entry = incoming
                let result = inputs.withUnsafeBufferPointer { x in
                    scratch.withUnsafeMutableBufferPointer { u in
                        states.withUnsafeMutableBufferPointer { h in
                            local.correct(
                                states: h.baseAddress!, from: entry, steps: steps, batch: batch, inputs: x.baseAddress!,
                                scratch: u.baseAddress!, method: method, tolerance: tolerance,
                                segmentLength: pieceLength)
                        }
                    }
                }
                attempts += result.attempts
                converged = converged && result.converged
                worst = combineResiduals(worst, result.residual)
                nonFinite = nonFinite || result.nonFinite
                resolved += result.steps
                endChanged = !Self.sameBits(end, states[((steps - 1) * row)...])
                mark = timings?.add(.correction, since: mark) ?? mark
            }
            let settled = coupling.allAgree(!endChanged)
            mark = timings?.add(.exchange, since: mark) ?? mark
            if settled { break }
        }
        let residual = coupling.maxResidual(worst)
        let allConverged = coupling.allAgree(converged)
        let totalResolved = coupling.sum(resolved)
        mark = timings?.add(.collectives, since: mark) ?? mark
        timings?.rounds += rounds
        timings?.resolvedSteps += resolved
        let decided =
            "across \(coupling.segments) processes: each solved its steps in pieces of \(segmentLength), then \(rounds) correction round\(rounds == 1 ? "" : "s") re-solved \(totalResolved) steps in all"
        var solution = Solution(
            states: states, steps: steps, batch: batch, method: speculative.method, attempts: attempts,
            converged: allConverged, finalResidual: residual, tolerance: tolerance,
            decision: decision.isEmpty || options.method != .automatic ? decided : decided + "; " + decision,
            segments: pieces)
        solution.contractivity = contractivity
        // Every piece's states were checked as it was solved; only a piece that found a
        // non-finite value needs the scan that says where (the first one in the final states).
        if nonFinite {
            solution = Self.guardingFiniteStates(
                solution, row: row, segmentEnds: [attempts.count], segmentLength: steps, pool: options.pool)
        }
        timings?.add(.finiteCheck, since: mark)
        return solution
    }

    /// The guess for the state after this segment, sent to the next one: the segment's last
    /// L = min(256, steps) steps rolled out from a zero state (their inputs projected here). A
    /// recurrence contracting at rate ρ forgets the zero start as ρ^L, so the next segment's
    /// entering state is usually right to the tolerance and its correction re-solves nothing;
    /// where it is not, the correction rounds fix it as from any guess (ParaRNN's f(0, u) at
    /// the last step is the case L = 1).
    func burnInEnd(inputs: UnsafePointer<Scalar>, steps: Int, batch: Int) -> [Scalar] {
        let row = cell.stateRowSize(batch: batch)
        let burn = min(256, steps)
        let start = inputs + (steps - burn) * batch * cell.inputSize
        let u = UnsafeMutablePointer<Scalar>.allocate(capacity: burn * cell.projectionRowSize(batch: batch))
        let h = UnsafeMutablePointer<Scalar>.allocate(capacity: burn * row)
        defer { [u, h].forEach { $0.deallocate() } }
        cell.project(inputs: start, steps: burn, batch: batch, projections: u, pool: .serial)
        let zeros = zeroArray(Scalar.self, count: row)
        zeros.withUnsafeBufferPointer { z in
            cell.rollout(
                steps: 0..<burn, batch: batch, previous: z.baseAddress!, projections: UnsafePointer(u), states: h)
        }
        return Array(UnsafeBufferPointer(start: h + (burn - 1) * row, count: row))
    }

    /// What a run of pieces did, summed up.
    struct PiecesResult {
        var method: SolverMethod
        var attempts: [SolveAttempt] = []
        var converged = true
        var residual = 0.0
        /// Whether some piece holds a non-finite state.
        var nonFinite = false

        mutating func add(_ piece: (result: SegmentResult, nonFinite: Bool)) {
            attempts += piece.result.attempts
            converged = converged && piece.result.converged
            residual = combineResiduals(residual, piece.result.residual)
            method = piece.result.method
            nonFinite = nonFinite || piece.nonFinite
        }
    }

    /// Solves steps `range` of the segment from `previous` (the state before the range) by
    /// `method` with the fallback chain (``solveSegment(method:steps:batch:projections:previous:states:hasGuess:tolerance:segment:segments:packing:pendingInputs:)``),
    /// the range's projections in `scratch` (written here unless `projected`: by the fused
    /// first pass, or one projection pass), the states into `states + range.lowerBound · row`;
    /// then checks those states are finite (while they are in cache).
    func solvePiece(
        method: SolverMethod, range: Range<Int>, batch: Int, inputs: UnsafePointer<Scalar>,
        scratch: UnsafeMutablePointer<Scalar>, projected: Bool, previous: UnsafePointer<Scalar>,
        states: UnsafeMutablePointer<Scalar>, tolerance: Double, index: Int, of count: Int
    ) -> (result: SegmentResult, nonFinite: Bool) {
        let row = cell.stateRowSize(batch: batch)
        let out = states + range.lowerBound * row
        let result = solveSegment(
            method: method, steps: range.count, batch: batch, projections: UnsafePointer(scratch), previous: previous,
            states: out, hasGuess: false, tolerance: tolerance, segment: index, segments: count,
            pendingInputs: projected ? nil : inputs + range.lowerBound * batch * cell.inputSize)
        let bad = firstNonFinite(
            UnsafeBufferPointer(start: UnsafePointer(out), count: range.count * row), pool: options.pool)
        return (result, bad != nil)
    }

    /// Whether `a` and `b` hold the same bits (NaN equals itself; −0 differs from +0).
    static func sameBits(_ a: [Scalar], _ b: ArraySlice<Scalar>) -> Bool {
        a.withUnsafeBytes { x in b.withUnsafeBytes { y in x.elementsEqual(y) } }
    }

    /// Sends `last` to the next segment; the previous segment's arrives in `previous`
    /// (segment 0: unchanged).
    func shift(_ last: [Scalar], into previous: inout [Scalar], coupling: any SegmentCoupling) {
        last.withUnsafeBufferPointer { l in
            previous.withUnsafeMutableBufferPointer { p in
                coupling.shiftBoundary(last: l.baseAddress!, previous: p.baseAddress!, count: l.count)
            }
        }
    }

    struct Correction {
        var attempts: [SolveAttempt] = []
        var converged = true
        var residual = 0.0
        /// Steps re-solved.
        var steps = 0
        /// Whether a re-solved piece holds a non-finite state.
        var nonFinite = false
    }

    /// Re-solves `states` in place from the new entering state `entry`, piece after piece (the
    /// first 1024 steps, doubling up to `segmentLength`; projections re-made from `inputs` in
    /// `scratch`), until the junction residual with the old states meets `tolerance` (or the
    /// segment ends).
    func correct(
        states: UnsafeMutablePointer<Scalar>, from entry: [Scalar], steps: Int, batch: Int,
        inputs: UnsafePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>, method: SolverMethod,
        tolerance: Double, segmentLength: Int
    ) -> Correction {
        let row = cell.stateRowSize(batch: batch)
        let urow = cell.projectionRowSize(batch: batch)
        let inputRow = batch * cell.inputSize
        var result = Correction()
        var start = 0
        var piece = min(1024, segmentLength)
        var values = [Scalar](repeating: 0, count: row)
        var u = [Scalar](repeating: 0, count: urow)
        let pieces = (steps + segmentLength - 1) / segmentLength
        entry.withUnsafeBufferPointer { e in
            values.withUnsafeMutableBufferPointer { v in
                u.withUnsafeMutableBufferPointer { u in
                    while start < steps {
                        // The residual of step `start` from the new state before it.
                        let before = start == 0 ? e.baseAddress! : UnsafePointer(states + (start - 1) * row)
                        InputProjection(cell).project(
                            inputs: inputs + start * inputRow, rows: 0..<1, batch: batch, into: u.baseAddress!)
                        cell.linearize(
                            steps: 0..<1, batch: batch, previous: before, states: before,
                            projections: UnsafePointer(u.baseAddress!), values: v.baseAddress!, jacobians: nil,
                            request: .structured)
                        let junction = relativeResidual(
                            states: UnsafePointer(states + start * row), values: UnsafePointer(v.baseAddress!),
                            count: row)
                        if junction <= tolerance {
                            result.residual = combineResiduals(result.residual, junction)
                            break
                        }
                        let range = start..<min(steps, start + piece)
                        let solved = solvePiece(
                            method: method, range: range, batch: batch, inputs: inputs, scratch: scratch,
                            projected: false, previous: before, states: states, tolerance: tolerance,
                            index: range.lowerBound / segmentLength, of: pieces)
                        result.attempts += solved.result.attempts
                        result.converged = result.converged && solved.result.converged
                        result.residual = combineResiduals(result.residual, solved.result.residual)
                        result.nonFinite = result.nonFinite || solved.nonFinite
                        result.steps += range.count
                        start = range.upperBound
                        piece = min(2 * piece, segmentLength)
                    }
                }
            }
        }
        return result
    }
}
