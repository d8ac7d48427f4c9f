import ParallelScan

/// What a training forward pass keeps of a sequential rollout for its backward pass
/// (``SequenceSolver/solveRecording(inputs:steps:batch:)``): the projections and the recurrent
/// pre-activations, which the BPTT would otherwise compute again.
public struct RolloutRecord<Scalar: ScanScalar>: Sendable {
    /// u = W_ih x + b_ih, `[T][G][B][d]`.
    public var projections: [Scalar]
    /// g_t = W_hh h_{t−1} + b_hh, `[T][B][stride]` (stride: ``RecurrentCell/recurrentTapeStride``),
    /// as the rollout's gate math leaves it (``LinearizeArguments/recurrentTape``).
    public var recurrentPreactivations: [Scalar]
}

extension SequenceSolver {
    /// The solve of a training step's forward pass, from the zero state. Where the solve is a
    /// sequential rollout (the options' method, or `.automatic`'s choice) that does not share
    /// steps across threads, and the cell records its recurrent products
    /// (``RecurrentCell/recurrentTapeStride``: GRU, LSTM), the whole sequence's projections are
    /// computed once and the rollout (its batch split over workers as usual) records
    /// g_t = W_hh h_{t−1} + b_hh: both come back as a ``RolloutRecord`` for
    /// ``gradients(states:inputs:steps:batch:initialState:stateGradients:adjoint:recorded:)``,
    /// whose fused BPTT then reads g instead of recomputing it (one product per step instead of
    /// two). The states are bitwise those of ``solve(inputs:steps:batch:initialState:guess:)``.
    /// Otherwise this is that solve, with no record.
    public func solveRecording(inputs: [Scalar], steps: Int, batch: Int) throws(SolverError) -> (
        Solution<Scalar>, RolloutRecord<Scalar>?
    ) {
        let threads = options.pool.threadCount
        guard let stride = cell.recurrentTapeStride, options.coupling == nil, steps > 0, batch > 0,
            chooseMethod(steps: steps, batch: batch).0 == .sequential,
            cell.stepSplitWorkers(batch: batch, steps: steps, threads: threads) == 1
        else {
            return (try solve(inputs: inputs, steps: steps, batch: batch), nil)
        }
        try checkInputCount(inputs.count, steps: steps, batch: batch, stepsName: "T=\(steps)")
        if let bad = inputs.withUnsafeBufferPointer({ firstNonFinite($0) }) {
            throw .nonFiniteInput(index: bad)
        }
        let (method, decision) = chooseMethod(steps: steps, batch: batch)
        let row = cell.stateRowSize(batch: batch)
        let h0 = zeroArray(Scalar.self, count: row)
        var states = uninitializedArray(Scalar.self, count: steps * row)
        var projections = uninitializedArray(Scalar.self, count: steps * cell.projectionRowSize(batch: batch))
        var tape = uninitializedArray(Scalar.self, count: steps * batch * stride)
        let workers = rolloutWorkers(batch: batch, threads: threads)
        let cell = self.cell
        inputs.withUnsafeBufferPointer { x in
            projections.withUnsafeMutableBufferPointer { u in
                InputProjection(cell).project(
                    inputs: x.baseAddress!, steps: steps, batch: batch, projections: u.baseAddress!, pool: options.pool)
            }
        }
        h0.withUnsafeBufferPointer { h0 in
            projections.withUnsafeBufferPointer { u in
                states.withUnsafeMutableBufferPointer { h in
                    tape.withUnsafeMutableBufferPointer { g in
                        let pointers = UncheckedSendable(
                            LinearizeArguments(
                                steps: 0..<steps, batch: batch, previous: h0.baseAddress!,
                                states: UnsafePointer(h.baseAddress!), projections: u.baseAddress!,
                                values: h.baseAddress!, jacobians: nil, request: .structured, inPlace: true,
                                recurrentTape: g.baseAddress!))
                        options.pool.forEach(workers) { part in
                            var arguments = pointers.value
                            arguments.batchEntries = ChunkPlan.evenRange(index: part, of: workers, total: batch)
                            if arguments.batchEntries!.isEmpty { return }
                            cell.linearize(arguments)
                        }
                    }
                }
            }
        }
        let plan = rolloutPlan(batch: batch, steps: steps, gangs: .none)
        let attempt = SolveAttempt(
            method: method, iterations: 0, residualHistory: [0], converged: true,
            outcome: "sequential rollout (\(plan)): exact by construction")
        let solution = Self.guardingFiniteStates(
            Solution(
                states: states, steps: steps, batch: batch, method: method, attempts: [attempt],
                converged: true, finalResidual: 0, tolerance: options.tolerance ?? Self.defaultTolerance,
                decision: decision + "; " + plan, segments: 1),
            row: row, segmentEnds: [1], segmentLength: steps, pool: options.pool)
        return (solution, RolloutRecord(projections: projections, recurrentPreactivations: tape))
    }
}
