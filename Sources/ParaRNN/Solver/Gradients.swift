import ParallelScan

/// Gradients of a loss L(s_0 … s_{T−1}) with respect to everything a solve depends on.
public struct SequenceGradients<Scalar: ScanScalar>: Sendable {
    /// ∂L/∂θ for the recurrent parameters, by name (see ``DifferentiableCell/recurrentParameterLayout``).
    public var recurrent: [String: [Scalar]]
    /// ∂L/∂W for the input weights, `[G·d][m]`.
    public var inputWeights: [Scalar]
    /// ∂L/∂b for the input bias, `[G·d]`.
    public var inputBias: [Scalar]
    /// ∂L/∂x, `[T][B][m]`.
    public var inputs: [Scalar]
    /// ∂L/∂s_{−1}, one state row.
    public var initialState: [Scalar]
}

/// How the adjoint recurrence λ_t = ∂L/∂s_t + J_{t+1}ᵀ λ_{t+1} is solved.
public enum AdjointMethod: String, Sendable, Codable {
    /// A parallel reverse affine scan on the pool.
    case parallelScan
    /// Plain backpropagation through time: the same recurrence, one step after the other.
    case sequential
}

extension SequenceSolver where Cell: DifferentiableCell {
    /// Backpropagates ∂L/∂s through a solved sequence.
    ///
    /// The Jacobians are evaluated at `states` (a converged solution); the adjoint is a reverse
    /// affine scan with transposed Jacobians (``AdjointMethod/parallelScan``) or the sequential
    /// recursion (``AdjointMethod/sequential``, BPTT); the cell's VJPs then give the projection
    /// and recurrent-parameter gradients in parallel over chunks of t (summed in chunk order, so
    /// results are reproducible for a thread count), and GEMMs give the input-weight, bias and
    /// input gradients.
    ///
    /// - Parameters:
    ///   - states: s, `[T][stateRow]` (from ``solve(inputs:steps:batch:initialState:guess:)``).
    ///   - inputs: x, `[T][B][m]`.
    ///   - stateGradients: ∂L/∂s_t, `[T][stateRow]`.
    ///   - recorded: what ``solveRecording(inputs:steps:batch:)`` kept of the rollout that gave
    ///     `states` (from the zero state): its projections are used, and the fused BPTT reads its
    ///     recurrent pre-activations instead of recomputing them (the same values).
    public func gradients(
        states: [Scalar], inputs: [Scalar], steps: Int, batch: Int,
        initialState: [Scalar]? = nil, stateGradients: [Scalar],
        adjoint: AdjointMethod = .parallelScan, recorded: RolloutRecord<Scalar>? = nil
    ) throws(SolverError) -> SequenceGradients<Scalar> {
        let row = cell.stateRowSize(batch: batch)
        if steps <= 0 { throw .emptySequence }
        try checkGradientArguments(
            inputs: inputs.count, states: states.count, stateGradients: stateGradients.count, steps: steps,
            batch: batch)
        if let initialState, initialState.count != row {
            throw .shapeMismatch("initial state holds \(initialState.count) values, need \(row)")
        }
        if let recorded {
            let urow = cell.projectionRowSize(batch: batch)
            if recorded.projections.count != steps * urow
                || recorded.recurrentPreactivations.count != steps * batch * (cell.recurrentTapeStride ?? -1)
            {
                throw .shapeMismatch("the rollout record does not fit T = \(steps), B = \(batch)")
            }
        }
        let pool = adjoint == .sequential ? WorkerPool.serial : options.pool
        let h0 = initialState ?? zeroArray(Scalar.self, count: row)
        let empty: [Scalar] = []
        return states.withUnsafeBufferPointer { hs in
            inputs.withUnsafeBufferPointer { xs in
                stateGradients.withUnsafeBufferPointer { gs in
                    h0.withUnsafeBufferPointer { h0s in
                        (recorded?.projections ?? empty).withUnsafeBufferPointer { us in
                            (recorded?.recurrentPreactivations ?? empty).withUnsafeBufferPointer { tape in
                                backpropagate(
                                    states: hs.baseAddress!, inputs: xs.baseAddress!,
                                    stateGradients: gs.baseAddress!, initial: h0s.baseAddress!,
                                    steps: steps, batch: batch, pool: pool,
                                    recorded: recorded == nil ? nil : (us.baseAddress!, tape.baseAddress!))
                            }
                        }
                    }
                }
            }
        }
    }

    /// Refuses inputs, states or state gradients whose sizes do not fit `steps` × `batch`.
    func checkGradientArguments(
        inputs: Int, states: Int, stateGradients: Int, steps: Int, batch: Int
    ) throws(SolverError) {
        let m = cell.inputSize
        let row = cell.stateRowSize(batch: batch)
        if inputs != steps * batch * m {
            throw .shapeMismatch("inputs hold \(inputs) values, need \(steps * batch * m)")
        }
        if states != steps * row {
            throw .shapeMismatch("states hold \(states) values, need \(steps * row)")
        }
        if stateGradients != steps * row {
            throw .shapeMismatch("state gradients hold \(stateGradients) values, need \(steps * row)")
        }
    }

    func backpropagate(
        states hPointer: UnsafePointer<Scalar>, inputs x: UnsafePointer<Scalar>,
        stateGradients gl: UnsafePointer<Scalar>, initial h0Pointer: UnsafePointer<Scalar>,
        steps: Int, batch: Int, pool: WorkerPool,
        recorded: (projections: UnsafePointer<Scalar>, tape: UnsafePointer<Scalar>)? = nil
    ) -> SequenceGradients<Scalar> {
        let cell = self.cell
        let m = cell.inputSize
        let d = cell.hiddenSize
        let g = cell.gateCount
        let row = cell.stateRowSize(batch: batch)
        let lanes = batch * d
        let urow = cell.projectionRowSize(batch: batch)
        let parts = max(1, min(pool.threadCount * 2, steps / 16))
        let chunks = (0..<parts).map { ChunkPlan.evenRange(index: $0, of: parts, total: steps) }
        let parameterCount = cell.recurrentParameterCount
        // Every buffer but the accumulators is fully written before it is read.
        func buffer(_ count: Int, zeroed: Bool = false) -> UnsafeMutablePointer<Scalar> {
            let p = UnsafeMutablePointer<Scalar>.allocate(capacity: max(1, count))
            if zeroed { zeroFill(p, count: max(1, count)) }
            return p
        }
        // The recorded projections are only read (the fused BPTT and the adjoint scan read u).
        let projections = recorded.map { UnsafeMutablePointer(mutating: $0.projections) } ?? buffer(steps * urow)
        let projectionGradients = buffer(steps * urow)
        defer {
            if recorded == nil { projections.deallocate() }
            projectionGradients.deallocate()
        }
        if recorded == nil {
            cell.project(inputs: x, steps: steps, batch: batch, projections: projections, pool: pool)
        }
        var initialGradient = zeroArray(Scalar.self, count: row)
        var fusedParameters = zeroArray(Scalar.self, count: parameterCount)
        let fused = initialGradient.withUnsafeMutableBufferPointer { h0Gradient in
            fusedParameters.withUnsafeMutableBufferPointer { parameters in
                cell.fusedBackward(
                    FusedBackwardArguments(
                        steps: steps, batch: batch, previous: h0Pointer, states: hPointer,
                        projections: projections, stateGradients: gl,
                        projectionGradients: projectionGradients,
                        parameterGradients: parameters.baseAddress!, initialGradient: h0Gradient.baseAddress!,
                        recurrentTape: recorded?.tape),
                    pool: pool)
            }
        }
        let partial = buffer(parts * parameterCount, zeroed: true)
        defer { partial.deallocate() }
        if fused {
            copyScalars(partial, fusedParameters, count: parameterCount)
        } else {
            adjointScan(
                states: hPointer, stateGradients: gl, initial: h0Pointer, steps: steps, batch: batch,
                pool: pool, chunks: chunks, projections: projections,
                projectionGradients: projectionGradients, partial: partial,
                initialGradient: &initialGradient)
        }
        // Σ_c partial[c] as ones · partial (a GEMV): this orchestration runs unspecialised when
        // reached from other modules, where an element loop would go through value witnesses.
        let ones = [Scalar](repeating: 1, count: max(parts, steps))
        var sums = zeroArray(Scalar.self, count: parameterCount)
        ones.withUnsafeBufferPointer { ones in
            sums.withUnsafeMutableBufferPointer { sums in
                Scalar.gemv(
                    transposed: true, rows: parts, cols: parameterCount, alpha: 1, a: partial,
                    x: ones.baseAddress!, beta: 0, y: sums.baseAddress!)
            }
        }
        var recurrent: [String: [Scalar]] = [:]
        var offset = 0
        for (name, count) in cell.recurrentParameterLayout {
            recurrent[name] = Array(sums[offset..<(offset + count)])
            offset += count
        }
        // Input side: ∂L/∂W_v += Σ_t du_v,tᵀ x_t, ∂L/∂b = Σ du, ∂L/∂x_t = Σ_v W_vᵀ du_v,t: one
        // pass for few inputs (`accumulateFewInputGradients`), BLAS per (gate, entry) otherwise.
        var dW = zeroArray(Scalar.self, count: g * d * m)
        var dBias = zeroArray(Scalar.self, count: g * d)
        var dX = zeroArray(Scalar.self, count: steps * batch * m)
        if (1...InputProjection<Scalar>.maximumDirectInputs).contains(m) {
            cell.inputWeights.withUnsafeBufferPointer { ws in
                dW.withUnsafeMutableBufferPointer { dws in
                    dBias.withUnsafeMutableBufferPointer { dbs in
                        dX.withUnsafeMutableBufferPointer { dxs in
                            accumulateFewInputGradients(
                                InputGradientShape(gates: g, hidden: d, inputs: m, steps: steps, batch: batch),
                                projectionGradients: projectionGradients, inputs: x, weights: ws.baseAddress!,
                                weightGradients: dws.baseAddress!, biasGradients: dbs.baseAddress!,
                                inputGradients: dxs.baseAddress!)
                        }
                    }
                }
            }
            return SequenceGradients(
                recurrent: recurrent, inputWeights: dW, inputBias: dBias, inputs: dX,
                initialState: initialGradient)
        }
        cell.inputWeights.withUnsafeBufferPointer { ws in
            dW.withUnsafeMutableBufferPointer { dws in
                dX.withUnsafeMutableBufferPointer { dxs in
                    let w = ws.baseAddress!
                    for v in 0..<g {
                        for b in 0..<batch {
                            let plane = UnsafePointer(projectionGradients + v * lanes + b * d)
                            if m > 0 {
                                Scalar.gemm(
                                    transposeA: true, transposeB: false, m: d, n: m, k: steps,
                                    alpha: 1, a: plane, lda: urow, b: x + b * m, ldb: batch * m,
                                    beta: 1, c: dws.baseAddress! + v * d * m, ldc: m)
                                Scalar.gemm(
                                    transposeA: false, transposeB: false, m: steps, n: m, k: d,
                                    alpha: 1, a: plane, lda: urow, b: w + v * d * m, ldb: m,
                                    beta: 1, c: dxs.baseAddress! + b * m, ldc: batch * m)
                            }
                            // ∂L/∂b_v += planeᵀ · 1 over the steps.
                            ones.withUnsafeBufferPointer { ones in
                                dBias.withUnsafeMutableBufferPointer { db in
                                    Scalar.gemm(
                                        transposeA: true, transposeB: false, m: d, n: 1, k: steps,
                                        alpha: 1, a: plane, lda: urow, b: ones.baseAddress!, ldb: 1,
                                        beta: 1, c: db.baseAddress! + v * d, ldc: 1)
                                }
                            }
                        }
                    }
                }
            }
        }
        return SequenceGradients(
            recurrent: recurrent, inputWeights: dW, inputBias: dBias, inputs: dX,
            initialState: initialGradient)
    }

    /// The adjoint by Jacobians: J_t at the solution for every t, the reverse affine scan
    /// λ_t = J_{t+1}ᵀ λ_{t+1} + ∂L/∂s_t, the cell's VJPs per chunk (into `partial`, one
    /// accumulator per chunk) and ∂L/∂s_{−1} = J_0ᵀ λ_0.
    func adjointScan(
        states hPointer: UnsafePointer<Scalar>, stateGradients gl: UnsafePointer<Scalar>,
        initial h0Pointer: UnsafePointer<Scalar>, steps: Int, batch: Int, pool: WorkerPool,
        chunks: [Range<Int>], projections: UnsafeMutablePointer<Scalar>,
        projectionGradients: UnsafeMutablePointer<Scalar>, partial: UnsafeMutablePointer<Scalar>,
        initialGradient: inout [Scalar]
    ) {
        let cell = self.cell
        let parts = chunks.count
        let parameterCount = cell.recurrentParameterCount
        let row = cell.stateRowSize(batch: batch)
        let jrow = cell.jacobianRowSize(batch: batch, request: .structured)
        // The Jacobians `[T][jrow]`, the values the linearisation writes alongside (not used) and
        // the adjoints λ, `[T][row]` each. Three blocks rather than one: each stays below
        // malloc's mmap threshold, so repeated calls reuse memory instead of faulting in fresh pages.
        let (jacobians, scratch, adjoints) = (
            UnsafeMutablePointer<Scalar>.allocate(capacity: max(1, steps * jrow)),
            UnsafeMutablePointer<Scalar>.allocate(capacity: max(1, steps * row)),
            UnsafeMutablePointer<Scalar>.allocate(capacity: max(1, steps * row))
        )
        defer { [jacobians, scratch, adjoints].forEach { $0.deallocate() } }
        let h = UnsafeSendable(hPointer)
        let start = UnsafeSendable(h0Pointer)
        /// The state before chunk `range`: s_{−1} for the first chunk.
        func before(_ range: Range<Int>) -> UnsafePointer<Scalar> {
            range.lowerBound == 0 ? start.base : h.base + (range.lowerBound - 1) * row
        }
        let u = UnsafeSendable(UnsafePointer(projections))
        let j = UnsafeMutableSendable(jacobians)
        let f = UnsafeMutableSendable(scratch)
        // J_t at the solution for every t (J_0 from the initial state).
        pool.forEach(parts) { c in
            cell.linearize(
                steps: chunks[c], batch: batch, previous: before(chunks[c]), states: h.base, projections: u.base,
                values: f.base, jacobians: j.base, request: .structured)
        }
        // Adjoint: λ_{T−1} = g_{T−1}; λ_t = J_{t+1}ᵀ λ_{t+1} + g_t (reverse scan over T − 1 steps).
        copyScalars(adjoints + (steps - 1) * row, gl + (steps - 1) * row, count: row)
        if steps > 1 {
            let terminal = UnsafePointer(adjoints + (steps - 1) * row)
            let a = UnsafePointer(jacobians + jrow)
            AffineScan.scanUnchecked(
                cell.structure.scanShape(batch: batch, stateSize: cell.stateSize), a: a, b: gl, steps: steps - 1,
                initial: terminal, output: adjoints, transposed: true, reverse: true, pool: pool)
        }
        // VJPs per chunk (each chunk its own parameter accumulator, summed in chunk order).
        let l = UnsafeSendable(UnsafePointer(adjoints))
        let du = UnsafeMutableSendable(projectionGradients)
        let p = UnsafeMutableSendable(partial)
        pool.forEach(parts) { c in
            cell.vectorJacobianProducts(
                VJPArguments(
                    steps: chunks[c], batch: batch, previous: before(chunks[c]), states: h.base, projections: u.base,
                    adjoints: l.base, projectionGradients: du.base,
                    parameterGradients: p.base + c * parameterCount))
        }
        // ∂L/∂s_{−1} = J_0ᵀ λ_0.
        initialGradient.withUnsafeMutableBufferPointer { out in
            transposedJacobianProduct(
                jacobians, adjoints, out.baseAddress!, structure: cell.structure, batch: batch,
                stateSize: cell.stateSize)
        }
    }

}

/// out = J_0ᵀ λ_0 for one step, for each Jacobian structure (planes as in the scans).
func transposedJacobianProduct<S: ScanScalar>(
    _ j: UnsafePointer<S>, _ lambda: UnsafePointer<S>, _ out: UnsafeMutablePointer<S>,
    structure: JacobianStructure, batch: Int, stateSize: Int
) {
    let row = batch * stateSize
    switch structure {
    case .diagonal:
        for i in 0..<row { out[i] = j[i] * lambda[i] }
    case .blockDiagonal(let k):
        let blocks = row / k
        for c in 0..<k {
            for l in 0..<blocks {
                var acc: S = 0
                for r in 0..<k { acc += j[(r * k + c) * blocks + l] * lambda[r * blocks + l] }
                out[c * blocks + l] = acc
            }
        }
    case .dense:
        for b in 0..<batch {
            let y = out + b * stateSize
            y.update(repeating: 0, count: stateSize)
            AffineScan.denseMultiplyAdd(
                transposed: true, d: stateSize, a: j + b * stateSize * stateSize,
                x: lambda + b * stateSize, y: y)
        }
    }
}
