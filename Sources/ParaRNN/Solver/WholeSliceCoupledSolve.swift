import ParallelScan

extension SequenceSolver {
    /// The pieces-with-corrections solve as it was before stop 21, kept for A/B measurements
    /// only (`PARARNN_MPI_WHOLE_SLICE=1`): the speculative solve runs the one-process solver
    /// over the whole segment with `segmentLength` (projections `[steps][urow]` and states for
    /// the whole segment, first touched piece by piece), the corrections re-solve from those
    /// projections, and the finite guard scans all states on one thread at the end.
    /// ``streamedCoupledSolve(inputs:steps:batch:initialState:segmentLength:coupling:)`` is the
    /// solve.
    func wholeSliceCoupledSolve(
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
        local.options.segmentLength = segmentLength
        var projections = uninitializedArray(Scalar.self, count: steps * urow)
        var entry = h0
        // 1. The guess: f(0, u) at the previous segment's last step.
        var last = [Scalar](repeating: 0, count: row)
        inputs.withUnsafeBufferPointer { x in
            var lastU = [Scalar](repeating: 0, count: urow)
            lastU.withUnsafeMutableBufferPointer { lastU in
                InputProjection(cell).project(
                    inputs: x.baseAddress! + (steps - 1) * batch * cell.inputSize, rows: 0..<1, batch: batch,
                    into: lastU.baseAddress!)
            }
            let zeros = zeroArray(Scalar.self, count: row)
            zeros.withUnsafeBufferPointer { z in
                lastU.withUnsafeBufferPointer { lastU in
                    last.withUnsafeMutableBufferPointer { last in
                        cell.linearize(
                            steps: 0..<1, batch: batch, previous: z.baseAddress!, states: z.baseAddress!,
                            projections: lastU.baseAddress!, values: last.baseAddress!, jacobians: nil,
                            request: .structured)
                    }
                }
            }
        }
        shift(last, into: &entry, coupling: coupling)
        mark = timings?.add(.guess, since: mark) ?? mark
        let first = inputs.withUnsafeBufferPointer { x in
            projections.withUnsafeMutableBufferPointer { u in
                local.solve(
                    projections: u.baseAddress!, pendingInputs: x.baseAddress!, steps: steps, batch: batch,
                    initialState: entry, guess: nil)
            }
        }
        var states = first.states
        var attempts = first.attempts
        var converged = first.converged
        var worst = first.finalResidual
        mark = timings?.add(.pieces, since: mark) ?? mark
        // 2. Correction rounds.
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
                let result = correctWholeSlice(
                    states: &states, from: entry, steps: steps, batch: batch, projections: projections,
                    tolerance: tolerance, segmentLength: segmentLength, solver: local)
                attempts += result.attempts
                converged = converged && result.converged
                worst = combineResiduals(worst, result.residual)
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
        let decision =
            "across \(coupling.segments) processes: each solved its steps in pieces of \(segmentLength), then \(rounds) correction round\(rounds == 1 ? "" : "s") re-solved \(totalResolved) steps in all"
        let solution = Solution(
            states: states, steps: steps, batch: batch, method: first.method, attempts: attempts,
            converged: allConverged, finalResidual: residual, tolerance: tolerance, decision: decision,
            segments: first.segments)
        let guarded = Self.guardingFiniteStates(
            solution, row: row, segmentEnds: [attempts.count], segmentLength: steps)
        timings?.add(.finiteCheck, since: mark)
        return guarded
    }

    /// The measurement baseline's correction (``wholeSliceCoupledSolve``): re-solves `states` from the new entering state `entry`, piece after piece, until the
    /// junction residual with the old states meets `tolerance` (or the segment ends).
    func correctWholeSlice(
        states: inout [Scalar], from entry: [Scalar], steps: Int, batch: Int, projections: [Scalar],
        tolerance: Double, segmentLength: Int, solver: SequenceSolver
    ) -> Correction {
        let row = cell.stateRowSize(batch: batch)
        let urow = cell.projectionRowSize(batch: batch)
        var result = Correction()
        var before = entry
        var start = 0
        var piece = min(1024, segmentLength)
        var values = [Scalar](repeating: 0, count: row)
        while start < steps {
            // The residual of step `start` from the new state before it.
            let junction = projections.withUnsafeBufferPointer { u in
                states.withUnsafeBufferPointer { h in
                    before.withUnsafeBufferPointer { b in
                        values.withUnsafeMutableBufferPointer { v in
                            cell.linearize(
                                steps: 0..<1, batch: batch, previous: b.baseAddress!, states: b.baseAddress!,
                                projections: u.baseAddress! + start * urow, values: v.baseAddress!, jacobians: nil,
                                request: .structured)
                            return relativeResidual(
                                states: h.baseAddress! + start * row, values: UnsafePointer(v.baseAddress!), count: row)
                        }
                    }
                }
            }
            if junction <= tolerance {
                result.residual = combineResiduals(result.residual, junction)
                break
            }
            let range = start..<min(steps, start + piece)
            let solved = solver.solve(
                projections: Array(projections[(range.lowerBound * urow)..<(range.upperBound * urow)]),
                steps: range.count, batch: batch, initialState: before)
            states.replaceSubrange((range.lowerBound * row)..<(range.upperBound * row), with: solved.states)
            result.attempts += solved.attempts
            result.converged = result.converged && solved.converged
            result.residual = combineResiduals(result.residual, solved.finalResidual)
            result.steps += range.count
            before = Array(solved.states[((range.count - 1) * row)...])
            start = range.upperBound
            piece = min(2 * piece, segmentLength)
        }
        return result
    }
}
