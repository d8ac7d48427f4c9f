import ParallelScan

/// A cell whose step can be differentiated in reverse mode (vector–Jacobian products).
///
/// For a loss L of the states, the adjoint λ_t = ∂L/∂s_t + J_{t+1}ᵀ λ_{t+1} is a reverse affine
/// scan; given λ_t, the cell's VJP gives ∂L/∂u_t = (∂f/∂u)ᵀ λ_t for the projections and
/// accumulates ∂L/∂θ += (∂f/∂θ)ᵀ λ_t for its recurrent parameters. Input weights and biases get
/// their gradients from ∂L/∂u by GEMMs (the projection is shared by all cells).
public protocol DifferentiableCell<Scalar>: RecurrentCell {
    /// Names and sizes of the recurrent parameters, in the order of the gradient buffer.
    var recurrentParameterLayout: [(name: String, count: Int)] { get }

    /// For every t in `steps`: writes ∂L/∂u_t (`[T][G][B][d]` like the projections) and adds
    /// (∂f/∂θ)ᵀ λ_t into `parameterGradients` (laid out by ``recurrentParameterLayout``).
    /// s_{t−1} is `previous` for the first step of the range and `states[t−1]` after it.
    func vectorJacobianProducts(
        steps: Range<Int>, batch: Int, previous: UnsafePointer<Scalar>,
        states: UnsafePointer<Scalar>, projections: UnsafePointer<Scalar>,
        adjoints: UnsafePointer<Scalar>, projectionGradients: UnsafeMutablePointer<Scalar>,
        parameterGradients: UnsafeMutablePointer<Scalar>)

    /// Backpropagation through time fused into the cell's own kernels, if it has them: fills
    /// ∂L/∂u, ∂L/∂θ and ∂L/∂s_{−1} without forming Jacobians or scanning, and returns true;
    /// returns false (writing nothing) when the cell has none, and the solver takes the
    /// Jacobian + adjoint-scan + VJP path. The dense cells (GRU, LSTM, Elman) have one.
    func fusedBackward(_ arguments: FusedBackwardArguments<Scalar>, pool: WorkerPool) -> Bool
}

extension DifferentiableCell {
    /// Total number of recurrent parameters.
    public var recurrentParameterCount: Int { recurrentParameterLayout.reduce(0) { $0 + $1.count } }

    public func fusedBackward(_ arguments: FusedBackwardArguments<Scalar>, pool: WorkerPool) -> Bool { false }
}

extension ParaGRU: DifferentiableCell {
    public var recurrentParameterLayout: [(name: String, count: Int)] { [("A", 3 * hiddenSize)] }

    /// ParaGRU's VJP. With g_a = λ z (1 − c²), g_z = λ (c − h) z(1 − z), g_r = g_a A_h h r(1 − r):
    /// ∂L/∂u = (g_z, g_r, g_a); ∂L/∂A_z += g_z h, ∂L/∂A_r += g_r h, ∂L/∂A_h += g_a h r.
    public func vectorJacobianProducts(
        steps: Range<Int>, batch: Int, previous: UnsafePointer<Scalar>,
        states: UnsafePointer<Scalar>, projections: UnsafePointer<Scalar>,
        adjoints: UnsafePointer<Scalar>, projectionGradients: UnsafeMutablePointer<Scalar>,
        parameterGradients: UnsafeMutablePointer<Scalar>
    ) {
        Scalar._vectorJacobianProducts(
            self,
            VJPArguments(
                steps: steps, batch: batch, previous: previous, states: states,
                projections: projections, adjoints: adjoints,
                projectionGradients: projectionGradients, parameterGradients: parameterGradients))
    }

    /// The VJP loops, reached through ``CellMath`` so they run specialised per precision.
    func vjpKernel(_ arguments: VJPArguments<Scalar>) {
        let (steps, batch, previous, states) = (arguments.steps, arguments.batch, arguments.previous, arguments.states)
        let (projections, adjoints) = (arguments.projections, arguments.adjoints)
        let (projectionGradients, parameterGradients) = (arguments.projectionGradients, arguments.parameterGradients)
        let d = hiddenSize, lanes = batch * d
        recurrentGains.withUnsafeBufferPointer { gains in
            let az = gains.baseAddress!, ar = az + d, ah = az + 2 * d
            let gz = parameterGradients, gr = gz + d, gh = gz + 2 * d
            for t in steps {
                let prev = t == steps.lowerBound ? previous : states + (t - 1) * lanes
                let u = projections + t * 3 * lanes, du = projectionGradients + t * 3 * lanes
                let lambda = adjoints + t * lanes
                for b in 0..<batch {
                    for j in 0..<d {
                        let l = b * d + j
                        let h = prev[l]
                        let z = Scalar.sigmoid(az[j] * h + u[l])
                        let r = Scalar.sigmoid(ar[j] * h + u[lanes + l])
                        let c = Scalar.tanh(ah[j] * (h * r) + u[2 * lanes + l])
                        let ga = lambda[l] * z * (1 - c * c)
                        let gzPre = lambda[l] * (c - h) * z * (1 - z)
                        let grPre = ga * ah[j] * h * r * (1 - r)
                        du[l] = gzPre
                        du[lanes + l] = grPre
                        du[2 * lanes + l] = ga
                        gz[j] += gzPre * h
                        gr[j] += grPre * h
                        gh[j] += ga * h * r
                    }
                }
            }
        }
    }
}

extension ParaLSTM: DifferentiableCell {
    public var recurrentParameterLayout: [(name: String, count: Int)] {
        [("A", 3 * hiddenSize), ("C", 2 * hiddenSize)]
    }

    /// ParaLSTM's VJP. With g_po = λ_h τ o(1−o), g_c' = λ_c + λ_h o (1−τ²) + g_po C_o,
    /// g_pf = g_c' (c − ĉ) f(1−f), g_pc = g_c' (1−f)(1−ĉ²): ∂L/∂u = (g_pf, g_po, g_pc);
    /// ∂L/∂A_{f,o,c} += g_p{f,o,c} h; ∂L/∂C_f += g_pf c; ∂L/∂C_o += g_po c'.
    public func vectorJacobianProducts(
        steps: Range<Int>, batch: Int, previous: UnsafePointer<Scalar>,
        states: UnsafePointer<Scalar>, projections: UnsafePointer<Scalar>,
        adjoints: UnsafePointer<Scalar>, projectionGradients: UnsafeMutablePointer<Scalar>,
        parameterGradients: UnsafeMutablePointer<Scalar>
    ) {
        Scalar._vectorJacobianProducts(
            self,
            VJPArguments(
                steps: steps, batch: batch, previous: previous, states: states,
                projections: projections, adjoints: adjoints,
                projectionGradients: projectionGradients, parameterGradients: parameterGradients))
    }

    /// The VJP loops, reached through ``CellMath`` so they run specialised per precision.
    func vjpKernel(_ arguments: VJPArguments<Scalar>) {
        let (steps, batch, previous, states) = (arguments.steps, arguments.batch, arguments.previous, arguments.states)
        let (projections, adjoints) = (arguments.projections, arguments.adjoints)
        let (projectionGradients, parameterGradients) = (arguments.projectionGradients, arguments.parameterGradients)
        let d = hiddenSize, lanes = batch * d, row = 2 * lanes
        recurrentGains.withUnsafeBufferPointer { gains in
            peepholes.withUnsafeBufferPointer { peep in
                let af = gains.baseAddress!, ao = af + d, ac = af + 2 * d
                let cf = peep.baseAddress!, co = cf + d
                let gaf = parameterGradients, gao = gaf + d, gac = gaf + 2 * d
                let gcf = gaf + 3 * d, gco = gaf + 4 * d
                for t in steps {
                    let prev = t == steps.lowerBound ? previous : states + (t - 1) * row
                    let u = projections + t * 3 * lanes, du = projectionGradients + t * 3 * lanes
                    let lambda = adjoints + t * row
                    for b in 0..<batch {
                        for j in 0..<d {
                            let l = b * d + j
                            let c = prev[l], h = prev[lanes + l]
                            let f = Scalar.sigmoid(af[j] * h + u[l] + cf[j] * c)
                            let candidate = Scalar.tanh(ac[j] * h + u[2 * lanes + l])
                            let cNext = f * c + (1 - f) * candidate
                            let o = Scalar.sigmoid(ao[j] * h + u[lanes + l] + co[j] * cNext)
                            let tau = Scalar.tanh(cNext)
                            let lc = lambda[l], lh = lambda[lanes + l]
                            let gpo = lh * tau * o * (1 - o)
                            let gcNext = lc + lh * o * (1 - tau * tau) + gpo * co[j]
                            let gpf = gcNext * (c - candidate) * f * (1 - f)
                            let gpc = gcNext * (1 - f) * (1 - candidate * candidate)
                            du[l] = gpf
                            du[lanes + l] = gpo
                            du[2 * lanes + l] = gpc
                            gaf[j] += gpf * h
                            gao[j] += gpo * h
                            gac[j] += gpc * h
                            gcf[j] += gpf * c
                            gco[j] += gpo * cNext
                        }
                    }
                }
            }
        }
    }
}

/// VJPs of the dense cells share the structure ∂L/∂pre = (per-gate factors) ⊙ λ, with
/// ∂L/∂W_hh += ∂L/∂pre_rec ⊗ h_{t−1} and ∂L/∂b_hh += ∂L/∂pre_rec.
extension DenseRecurrence {
    /// Accumulates ∂L/∂W_hh and ∂L/∂b_hh from per-step recurrent pre-activation gradients
    /// `preGradients` `[count][B][G·d]` and the previous hidden states of the range.
    func accumulateRecurrentGradients(
        steps: Range<Int>, batch: Int, previous: UnsafePointer<Scalar>,
        states: UnsafePointer<Scalar>, preGradients: UnsafePointer<Scalar>,
        parameterGradients: UnsafeMutablePointer<Scalar>
    ) {
        let d = hiddenSize, n = stateSize, gd = gateCount * d, row = batch * n
        let dW = parameterGradients, dB = parameterGradients + gd * d
        // dW[gd][d] += Σ_rows pre[row][gd]ᵀ · h[row][d]: first step from `previous`.
        Scalar.gemm(
            transposeA: true, transposeB: false, m: gd, n: d, k: batch, alpha: 1, a: preGradients,
            lda: gd, b: previous + (n - d), ldb: n, beta: 1, c: dW, ldc: d)
        if steps.count > 1 {
            Scalar.gemm(
                transposeA: true, transposeB: false, m: gd, n: d, k: (steps.count - 1) * batch,
                alpha: 1, a: preGradients + batch * gd, lda: gd,
                b: states + steps.lowerBound * row + (n - d), ldb: n, beta: 1, c: dW, ldc: d)
        }
        for i in 0..<(steps.count * batch) {
            for k in 0..<gd { dB[k] += preGradients[i * gd + k] }
        }
    }
}

extension GRU: DifferentiableCell {
    /// The fused BPTT (``DenseRecurrence/denseBackward(_:pool:kernel:)``).
    public func fusedBackward(_ arguments: FusedBackwardArguments<Scalar>, pool: WorkerPool) -> Bool {
        Scalar._fusedBackward(self, arguments, pool: pool)
        return true
    }

    public var recurrentParameterLayout: [(name: String, count: Int)] {
        [("weight_hh", 3 * hiddenSize * hiddenSize), ("bias_hh", 3 * hiddenSize)]
    }

    /// GRU's VJP: g_pn = λ(1−z)(1−n²), g_pz = λ(h−n)z(1−z), g_pr = g_pn (W_hn h + b_hn) r(1−r);
    /// ∂L/∂u = (g_pr, g_pz, g_pn); recurrent pre-activation gradients (g_pr, g_pz, g_pn r).
    public func vectorJacobianProducts(
        steps: Range<Int>, batch: Int, previous: UnsafePointer<Scalar>,
        states: UnsafePointer<Scalar>, projections: UnsafePointer<Scalar>,
        adjoints: UnsafePointer<Scalar>, projectionGradients: UnsafeMutablePointer<Scalar>,
        parameterGradients: UnsafeMutablePointer<Scalar>
    ) {
        let d = hiddenSize, lanes = batch * d, gd = 3 * d
        let count = steps.count * batch * gd
        let g = UnsafeMutablePointer<Scalar>.allocate(capacity: count)
        let pre = UnsafeMutablePointer<Scalar>.allocate(capacity: count)
        defer { g.deallocate(); pre.deallocate() }
        recurrentPreactivations(steps: steps, batch: batch, previous: previous, states: states, into: g)
        for (offset, t) in steps.enumerated() {
            let prev = t == steps.lowerBound ? previous : states + (t - 1) * lanes
            let u = projections + t * 3 * lanes, du = projectionGradients + t * 3 * lanes
            for b in 0..<batch {
                let gt = g + (offset * batch + b) * gd, pt = pre + (offset * batch + b) * gd
                for i in 0..<d {
                    let l = b * d + i
                    let r = Scalar.sigmoid(u[l] + gt[i])
                    let z = Scalar.sigmoid(u[lanes + l] + gt[d + i])
                    let n = Scalar.tanh(u[2 * lanes + l] + r * gt[2 * d + i])
                    let lambda = adjoints[t * lanes + l]
                    let gpn = lambda * (1 - z) * (1 - n * n)
                    let gpz = lambda * (prev[l] - n) * z * (1 - z)
                    let gpr = gpn * gt[2 * d + i] * r * (1 - r)
                    du[l] = gpr
                    du[lanes + l] = gpz
                    du[2 * lanes + l] = gpn
                    pt[i] = gpr
                    pt[d + i] = gpz
                    pt[2 * d + i] = gpn * r
                }
            }
        }
        accumulateRecurrentGradients(
            steps: steps, batch: batch, previous: previous, states: states, preGradients: pre,
            parameterGradients: parameterGradients)
    }
}

extension LSTM: DifferentiableCell {
    /// The fused BPTT (``DenseRecurrence/denseBackward(_:pool:kernel:)``).
    public func fusedBackward(_ arguments: FusedBackwardArguments<Scalar>, pool: WorkerPool) -> Bool {
        Scalar._fusedBackward(self, arguments, pool: pool)
        return true
    }

    public var recurrentParameterLayout: [(name: String, count: Int)] {
        [("weight_hh", 4 * hiddenSize * hiddenSize), ("bias_hh", 4 * hiddenSize)]
    }

    /// LSTM's VJP: g_c' = λ_c + λ_h o(1−τ²); pre-activation gradients
    /// (g_c' g i(1−i), g_c' c f(1−f), g_c' i (1−g²), λ_h τ o(1−o)) for (i, f, g, o).
    public func vectorJacobianProducts(
        steps: Range<Int>, batch: Int, previous: UnsafePointer<Scalar>,
        states: UnsafePointer<Scalar>, projections: UnsafePointer<Scalar>,
        adjoints: UnsafePointer<Scalar>, projectionGradients: UnsafeMutablePointer<Scalar>,
        parameterGradients: UnsafeMutablePointer<Scalar>
    ) {
        let d = hiddenSize, n = 2 * d, lanes = batch * d, row = batch * n, gd = 4 * d
        let count = steps.count * batch * gd
        let g = UnsafeMutablePointer<Scalar>.allocate(capacity: count)
        let pre = UnsafeMutablePointer<Scalar>.allocate(capacity: count)
        defer { g.deallocate(); pre.deallocate() }
        recurrentPreactivations(steps: steps, batch: batch, previous: previous, states: states, into: g)
        for (offset, t) in steps.enumerated() {
            let prev = t == steps.lowerBound ? previous : states + (t - 1) * row
            let u = projections + t * 4 * lanes, du = projectionGradients + t * 4 * lanes
            for b in 0..<batch {
                let gt = g + (offset * batch + b) * gd, pt = pre + (offset * batch + b) * gd
                let s = prev + b * n, lambda = adjoints + t * row + b * n
                for j in 0..<d {
                    let l = b * d + j
                    let ig = Scalar.sigmoid(u[l] + gt[j])
                    let fg = Scalar.sigmoid(u[lanes + l] + gt[d + j])
                    let gg = Scalar.tanh(u[2 * lanes + l] + gt[2 * d + j])
                    let og = Scalar.sigmoid(u[3 * lanes + l] + gt[3 * d + j])
                    let c = fg * s[j] + ig * gg
                    let tau = Scalar.tanh(c)
                    let lc = lambda[j], lh = lambda[d + j]
                    let gc = lc + lh * og * (1 - tau * tau)
                    let values: (Scalar, Scalar, Scalar, Scalar) = (
                        gc * gg * ig * (1 - ig), gc * s[j] * fg * (1 - fg),
                        gc * ig * (1 - gg * gg), lh * tau * og * (1 - og))
                    du[l] = values.0
                    du[lanes + l] = values.1
                    du[2 * lanes + l] = values.2
                    du[3 * lanes + l] = values.3
                    pt[j] = values.0
                    pt[d + j] = values.1
                    pt[2 * d + j] = values.2
                    pt[3 * d + j] = values.3
                }
            }
        }
        accumulateRecurrentGradients(
            steps: steps, batch: batch, previous: previous, states: states, preGradients: pre,
            parameterGradients: parameterGradients)
    }
}

extension ElmanRNN: DifferentiableCell {
    /// The fused BPTT (``DenseRecurrence/denseBackward(_:pool:kernel:)``).
    public func fusedBackward(_ arguments: FusedBackwardArguments<Scalar>, pool: WorkerPool) -> Bool {
        Scalar._fusedBackward(self, arguments, pool: pool)
        return true
    }

    public var recurrentParameterLayout: [(name: String, count: Int)] {
        [("weight_hh", hiddenSize * hiddenSize), ("bias_hh", hiddenSize)]
    }

    /// Elman VJP: ∂L/∂pre = λ φ' (1 − h'² or [h' > 0]), for both the projection and the recurrent weights.
    public func vectorJacobianProducts(
        steps: Range<Int>, batch: Int, previous: UnsafePointer<Scalar>,
        states: UnsafePointer<Scalar>, projections: UnsafePointer<Scalar>,
        adjoints: UnsafePointer<Scalar>, projectionGradients: UnsafeMutablePointer<Scalar>,
        parameterGradients: UnsafeMutablePointer<Scalar>
    ) {
        let d = hiddenSize, lanes = batch * d
        let pre = UnsafeMutablePointer<Scalar>.allocate(capacity: steps.count * lanes)
        defer { pre.deallocate() }
        for (offset, t) in steps.enumerated() {
            for l in 0..<lanes {
                let h = states[t * lanes + l]
                let g = adjoints[t * lanes + l] * slope(h)
                projectionGradients[t * lanes + l] = g
                pre[offset * lanes + l] = g
            }
        }
        accumulateRecurrentGradients(
            steps: steps, batch: batch, previous: previous, states: states, preGradients: pre,
            parameterGradients: parameterGradients)
    }
}
