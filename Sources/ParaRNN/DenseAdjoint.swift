import ParallelScan

/// The arguments of a fused backward pass (``DifferentiableCell/fusedBackward(_:pool:)``).
/// All pointers address whole-sequence, full-batch buffers.
public struct FusedBackwardArguments<Scalar> {
    /// T.
    public var steps: Int
    /// B.
    public var batch: Int
    /// s_{−1}, one state row.
    public var previous: UnsafePointer<Scalar>
    /// s, `[T][stateRow]` (a solved sequence).
    public var states: UnsafePointer<Scalar>
    /// u = W x + b, `[T][G][B][d]`.
    public var projections: UnsafePointer<Scalar>
    /// ∂L/∂s_t, `[T][stateRow]`.
    public var stateGradients: UnsafePointer<Scalar>
    /// Out: ∂L/∂u_t, `[T][G][B][d]`.
    public var projectionGradients: UnsafeMutablePointer<Scalar>
    /// Out: ∂L/∂θ (zeroed by the caller), laid out by ``DifferentiableCell/recurrentParameterLayout``.
    public var parameterGradients: UnsafeMutablePointer<Scalar>
    /// Out: ∂L/∂s_{−1}, one state row.
    public var initialGradient: UnsafeMutablePointer<Scalar>
}

/// Per-entry buffers of the fused dense BPTT, and the batch entries a worker owns.
struct DenseAdjointWork<Scalar> {
    let arguments: FusedBackwardArguments<Scalar>
    let entries: Range<Int>
    /// ∂L/∂(W_hh h + b_hh), `[T][B][G·d]` (the weight gradient's left factor).
    let preGradients: UnsafeMutablePointer<Scalar>
}

extension DenseRecurrence where Self: DifferentiableCell {
    /// W_hh re-packed for products with its transpose: W_hhᵀ v = Σ_r v[r] W_hh[r][·] is the
    /// packed product of a ``DenseRecurrentPack`` built from W_hhᵀ (outputs d, inputs G·d).
    func transposedRecurrencePack() -> DenseRecurrentPack<Scalar> {
        let d = hiddenSize, gd = gateCount * d
        var transposed = [Scalar](repeating: 0, count: gd * d)
        for r in 0..<gd {
            for k in 0..<d { transposed[k * gd + r] = recurrentWeights[r * d + k] }
        }
        return DenseRecurrentPack(
            weights: transposed, bias: [Scalar](repeating: 0, count: d), outputs: d, hidden: gd)
    }

    /// Backpropagation through time for a dense cell, fused: per sequence, backwards in t,
    ///
    ///     λ_t = ∂L/∂s_t + c_t,   c_{t−1} = J_tᵀ λ_t = (direct part) + W_hhᵀ δ_t,
    ///
    /// where δ_t = ∂L/∂(W_hh h_{t−1} + b_hh) comes from the gate derivatives at step t
    /// (recomputed from the stored states, one packed product per step) — no Jacobian is ever
    /// formed, so a step costs two d × G·d products instead of a d² Jacobian and an O(d³)
    /// dense-scan composition. Sequences are split across the pool's workers (each owns its
    /// batch entries); then ∂L/∂W_hh = Σ_t δ_t h_{t−1}ᵀ and ∂L/∂b_hh = Σ_t δ_t by GEMMs over
    /// chunks of t.
    func denseBackward(
        _ arguments: FusedBackwardArguments<Scalar>, pool: WorkerPool,
        kernel: @Sendable (DenseAdjointWork<Scalar>) -> Void
    ) {
        let (steps, batch) = (arguments.steps, arguments.batch)
        let gd = gateCount * hiddenSize, row = stateRowSize(batch: batch)
        let pre = UnsafeMutablePointer<Scalar>.allocate(capacity: max(1, steps * batch * gd))
        defer { pre.deallocate() }
        let shared = UnsafeSendableArguments(arguments), preShared = UnsafeMutableSendable(pre)
        let workers = max(1, min(batch, pool.threadCount))
        pool.forEach(workers) { w in
            kernel(DenseAdjointWork(
                arguments: shared.value, entries: ChunkPlan.evenRange(index: w, of: workers, total: batch),
                preGradients: preShared.base))
        }
        // Weight gradients: one GEMM per chunk of t into its own accumulator, summed in order.
        let count = recurrentParameterCount
        let parts = max(1, min(pool.threadCount, steps / 64))
        let partial = UnsafeMutablePointer<Scalar>.allocate(capacity: parts * count)
        defer { partial.deallocate() }
        zeroFill(partial, count: parts * count)
        let partialShared = UnsafeMutableSendable(partial)
        pool.forEach(parts) { c in
            let range = ChunkPlan.evenRange(index: c, of: parts, total: steps)
            if range.isEmpty { return }
            let a = shared.value
            let first = range.lowerBound == 0 ? a.previous : a.states + (range.lowerBound - 1) * row
            accumulateRecurrentGradients(
                steps: range, batch: batch, previous: first, states: a.states,
                preGradients: preShared.base + range.lowerBound * batch * gd,
                parameterGradients: partialShared.base + c * count)
        }
        for c in 0..<parts {
            for i in 0..<count { arguments.parameterGradients[i] += partial[c * count + i] }
        }
    }
}

/// Arguments shared by the workers of a fused backward pass (disjoint entries).
struct UnsafeSendableArguments<Scalar>: @unchecked Sendable {
    let value: FusedBackwardArguments<Scalar>
    init(_ value: FusedBackwardArguments<Scalar>) { self.value = value }
}

extension GRU {
    /// The fused GRU BPTT of ``DenseAdjointWork/entries`` (see ``DenseRecurrence/denseBackward(_:pool:kernel:)``):
    /// with g = W_hh h + b_hh recomputed,
    ///
    ///     g_pn = λ(1−z)(1−n²),  g_pz = λ(h−n)z(1−z),  g_pr = g_pn g_n r(1−r)
    ///     ∂L/∂u = (g_pr, g_pz, g_pn),  δ = (g_pr, g_pz, g_pn r),  c_{t−1} = z λ + W_hhᵀ δ.
    func adjointKernel(_ work: DenseAdjointWork<Scalar>) {
        let a = work.arguments, batch = a.batch
        let d = hiddenSize, lanes = batch * d, gd = 3 * d
        let forward = packedRecurrence, backward = transposedRecurrencePack()
        let g = UnsafeMutablePointer<Scalar>.allocate(capacity: forward.stride)
        let carry = UnsafeMutablePointer<Scalar>.allocate(capacity: backward.stride)
        let direct = UnsafeMutablePointer<Scalar>.allocate(capacity: backward.stride)
        defer { g.deallocate(); carry.deallocate(); direct.deallocate() }
        zeroFill(direct, count: backward.stride)
        forward.withPointers { wf, bf in
            backward.withPointers { wb, _ in
                for b in work.entries {
                    zeroFill(carry, count: backward.stride)
                    for t in stride(from: a.steps - 1, through: 0, by: -1) {
                        let h = t == 0 ? a.previous + b * d : a.states + (t - 1) * lanes + b * d
                        DenseRecurrentPack<Scalar>.product(
                            h: h, hidden: d, weights: wf, stride: forward.stride, bias: bf, into: g,
                            descending: t & 1 == 1)
                        let u = a.projections + t * 3 * lanes + b * d
                        let du = a.projectionGradients + t * 3 * lanes + b * d
                        let delta = work.preGradients + (t * batch + b) * gd
                        let gl = a.stateGradients + t * lanes + b * d
                        for i in 0..<d {
                            let lambda = gl[i] + carry[i]
                            let r = Scalar.sigmoid(u[i] + g[i])
                            let z = Scalar.sigmoid(u[lanes + i] + g[d + i])
                            let n = Scalar.tanh(multiplyAdd(r, g[2 * d + i], u[2 * lanes + i]))
                            let gpn = lambda * (1 - z) * (1 - n * n)
                            let gpz = lambda * (h[i] - n) * z * (1 - z)
                            let gpr = gpn * g[2 * d + i] * r * (1 - r)
                            du[i] = gpr
                            du[lanes + i] = gpz
                            du[2 * lanes + i] = gpn
                            delta[i] = gpr
                            delta[d + i] = gpz
                            delta[2 * d + i] = gpn * r
                            direct[i] = z * lambda
                        }
                        DenseRecurrentPack<Scalar>.product(
                            h: delta, hidden: gd, weights: wb, stride: backward.stride, bias: direct,
                            into: carry, descending: t & 1 == 1)
                    }
                    copyScalars(a.initialGradient + b * d, carry, count: d)
                }
            }
        }
    }
}

extension LSTM {
    /// The fused LSTM BPTT of ``DenseAdjointWork/entries``: with the gates recomputed and
    /// τ = tanh(c'),
    ///
    ///     g_c = λ_c + λ_h o(1−τ²)
    ///     δ = ∂L/∂u = (g_c g i(1−i), g_c c f(1−f), g_c i(1−g²), λ_h τ o(1−o))
    ///     c_{t−1} = (g_c f, W_hhᵀ δ)   (for the (c, h) halves of the state).
    func adjointKernel(_ work: DenseAdjointWork<Scalar>) {
        let a = work.arguments, batch = a.batch
        let d = hiddenSize, n = 2 * d, lanes = batch * d, row = batch * n, gd = 4 * d
        let forward = packedRecurrence, backward = transposedRecurrencePack()
        let g = UnsafeMutablePointer<Scalar>.allocate(capacity: forward.stride)
        let carryC = UnsafeMutablePointer<Scalar>.allocate(capacity: d)
        let carryH = UnsafeMutablePointer<Scalar>.allocate(capacity: backward.stride)
        let zeros = UnsafeMutablePointer<Scalar>.allocate(capacity: backward.stride)
        defer { g.deallocate(); carryC.deallocate(); carryH.deallocate(); zeros.deallocate() }
        zeroFill(zeros, count: backward.stride)
        forward.withPointers { wf, bf in
            backward.withPointers { wb, _ in
                for b in work.entries {
                    zeroFill(carryC, count: d)
                    zeroFill(carryH, count: backward.stride)
                    for t in stride(from: a.steps - 1, through: 0, by: -1) {
                        let s = t == 0 ? a.previous + b * n : a.states + (t - 1) * row + b * n
                        DenseRecurrentPack<Scalar>.product(
                            h: s + d, hidden: d, weights: wf, stride: forward.stride, bias: bf, into: g,
                            descending: t & 1 == 1)
                        let u = a.projections + t * 4 * lanes + b * d
                        let du = a.projectionGradients + t * 4 * lanes + b * d
                        let delta = work.preGradients + (t * batch + b) * gd
                        let gl = a.stateGradients + t * row + b * n
                        for j in 0..<d {
                            let lc = gl[j] + carryC[j], lh = gl[d + j] + carryH[j]
                            let ig = Scalar.sigmoid(u[j] + g[j])
                            let fg = Scalar.sigmoid(u[lanes + j] + g[d + j])
                            let gg = Scalar.tanh(u[2 * lanes + j] + g[2 * d + j])
                            let og = Scalar.sigmoid(u[3 * lanes + j] + g[3 * d + j])
                            let tau = Scalar.tanh(multiplyAdd(fg, s[j], ig * gg))
                            let gc = lc + lh * og * (1 - tau * tau)
                            let pi = gc * gg * ig * (1 - ig), pf = gc * s[j] * fg * (1 - fg)
                            let pg = gc * ig * (1 - gg * gg), po = lh * tau * og * (1 - og)
                            du[j] = pi
                            du[lanes + j] = pf
                            du[2 * lanes + j] = pg
                            du[3 * lanes + j] = po
                            delta[j] = pi
                            delta[d + j] = pf
                            delta[2 * d + j] = pg
                            delta[3 * d + j] = po
                            carryC[j] = gc * fg
                        }
                        DenseRecurrentPack<Scalar>.product(
                            h: delta, hidden: gd, weights: wb, stride: backward.stride, bias: zeros,
                            into: carryH, descending: t & 1 == 1)
                    }
                    copyScalars(a.initialGradient + b * n, carryC, count: d)
                    copyScalars(a.initialGradient + b * n + d, carryH, count: d)
                }
            }
        }
    }
}

extension ElmanRNN {
    /// The fused Elman BPTT of ``DenseAdjointWork/entries``: δ = ∂L/∂u = λ(1 − h'²),
    /// c_{t−1} = W_hhᵀ δ (h' is the stored state; nothing is recomputed).
    func adjointKernel(_ work: DenseAdjointWork<Scalar>) {
        let a = work.arguments, batch = a.batch
        let d = hiddenSize, lanes = batch * d
        let backward = transposedRecurrencePack()
        let carry = UnsafeMutablePointer<Scalar>.allocate(capacity: backward.stride)
        let zeros = UnsafeMutablePointer<Scalar>.allocate(capacity: backward.stride)
        defer { carry.deallocate(); zeros.deallocate() }
        zeroFill(zeros, count: backward.stride)
        backward.withPointers { wb, _ in
            for b in work.entries {
                zeroFill(carry, count: backward.stride)
                for t in stride(from: a.steps - 1, through: 0, by: -1) {
                    let h = a.states + t * lanes + b * d, gl = a.stateGradients + t * lanes + b * d
                    let du = a.projectionGradients + t * lanes + b * d
                    let delta = work.preGradients + (t * batch + b) * d
                    for i in 0..<d {
                        let value = (gl[i] + carry[i]) * (1 - h[i] * h[i])
                        du[i] = value
                        delta[i] = value
                    }
                    DenseRecurrentPack<Scalar>.product(
                        h: delta, hidden: d, weights: wb, stride: backward.stride, bias: zeros,
                        into: carry, descending: t & 1 == 1)
                }
                copyScalars(a.initialGradient + b * d, carry, count: d)
            }
        }
    }
}
