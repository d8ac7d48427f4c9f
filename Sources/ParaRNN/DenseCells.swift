import ParallelScan

/// Shared machinery of the cells with dense recurrent weights (GRU, LSTM, Elman): for a range
/// of steps, the recurrent pre-activations g_t = W_hh h_{t−1} + b_hh of every step come from one
/// GEMM over the previous states of the range.
protocol DenseRecurrence: RecurrentCell {
    /// W_hh, `[G·d][d]` row-major.
    var recurrentWeights: [Scalar] { get }
    /// b_hh, `[G·d]`.
    var recurrentBias: [Scalar] { get }
}

extension DenseRecurrence {
    /// For a rollout (`inPlace`) of a cell without a fused rollout kernel, runs `kernel` one
    /// step at a time, so that each step's recurrent product sees the state the previous step
    /// has just written; returns whether it did (the caller then has nothing left to do).
    func steppedInPlace(
        _ arguments: LinearizeArguments<Scalar>, _ kernel: (LinearizeArguments<Scalar>) -> Void
    ) -> Bool {
        guard arguments.inPlace else { return false }
        var single = arguments
        single.inPlace = false
        let row = stateRowSize(batch: arguments.batch)
        for t in arguments.steps {
            single.steps = t..<(t + 1)
            single.previous = t == arguments.steps.lowerBound
                ? arguments.previous : arguments.states + (t - 1) * row
            kernel(single)
        }
        return true
    }

    /// g = W_hh h_{t−1} + b_hh for every step of `steps`: `[count][B][G·d]`.
    /// h_{t−1} is the hidden part (last d values per entry) of the previous state row.
    func recurrentPreactivations(
        steps: Range<Int>, batch: Int, previous: UnsafePointer<Scalar>,
        states: UnsafePointer<Scalar>, into g: UnsafeMutablePointer<Scalar>
    ) {
        let d = hiddenSize, n = stateSize, gd = gateCount * d, row = batch * n
        for i in 0..<(steps.count * batch) { (g + i * gd).update(from: recurrentBias, count: gd) }
        recurrentWeights.withUnsafeBufferPointer { w in
            // First step of the range from `previous`, the rest from `states`.
            if batch == 1 {
                Scalar.gemv(
                    transposed: false, rows: gd, cols: d, alpha: 1, a: w.baseAddress!,
                    x: previous + (n - d), beta: 1, y: g)
            } else {
                Scalar.gemm(
                    transposeA: false, transposeB: true, m: batch, n: gd, k: d, alpha: 1,
                    a: previous + (n - d), lda: n, b: w.baseAddress!, ldb: d, beta: 1, c: g,
                    ldc: gd)
            }
            if steps.count > 1 {
                Scalar.gemm(
                    transposeA: false, transposeB: true, m: (steps.count - 1) * batch, n: gd,
                    k: d, alpha: 1, a: states + steps.lowerBound * row + (n - d), lda: n,
                    b: w.baseAddress!, ldb: d, beta: 1, c: g + batch * gd, ldc: gd)
            }
        }
    }
}

/// PyTorch's `nn.GRU` cell (gate rows r, z, n), dense recurrent weights: DEER territory.
///
///     r  = σ(W_ir x + b_ir + W_hr h + b_hr)
///     z  = σ(W_iz x + b_iz + W_hz h + b_hz)
///     n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
///     h' = (1 − z) ⊙ n + z ⊙ h
///
///     ∂h'_i/∂h_k = α_i W_hr[i,k] + β_i W_hn[i,k] + γ_i W_hz[i,k] + z_i δ_ik,
///     α = (1−z)(1−n²) r(1−r) (W_hn h + b_hn),  β = (1−z)(1−n²) r,  γ = (h − n) z(1−z)
///
/// State row `[B][d]`; projection `[3][B][d]` (r, z, n) holding W_i· x + b_i·; Jacobian
/// `[B][d][d]`.
public struct GRU<Scalar: CellMath>: KernelCell, DenseRecurrence {
    /// The fused rollout runs any subset of the batch on its own (``DenseRecurrentPack``).
    public var rollsOutEntriesIndependently: Bool { true }
    public let inputSize: Int
    public let hiddenSize: Int
    public let inputWeights: [Scalar]
    public let inputBias: [Scalar]
    public let recurrentWeights: [Scalar]
    public let recurrentBias: [Scalar]
    /// W_hh and b_hh packed for the fused rollout (built once, here).
    let packedRecurrence: DenseRecurrentPack<Scalar>
    public var stateSize: Int { hiddenSize }
    public var gateCount: Int { 3 }
    public var structure: JacobianStructure { .dense }

    /// Creates a GRU from PyTorch's `weight_ih` `[3d][m]`, `weight_hh` `[3d][d]`, `bias_ih`,
    /// `bias_hh` `[3d]` (rows r, z, n).
    public init(
        inputSize m: Int, hiddenSize d: Int, weightIH: [Scalar], weightHH: [Scalar],
        biasIH: [Scalar], biasHH: [Scalar]
    ) throws(CellError) {
        if d <= 0 || m < 0 { throw .invalidShape("hidden size \(d) and input size \(m) must be positive") }
        try checkParameter("weight_ih", weightIH, [3 * d, m])
        try checkParameter("weight_hh", weightHH, [3 * d, d])
        try checkParameter("bias_ih", biasIH, [3 * d])
        try checkParameter("bias_hh", biasHH, [3 * d])
        inputSize = m
        hiddenSize = d
        inputWeights = weightIH
        inputBias = biasIH
        recurrentWeights = weightHH
        recurrentBias = biasHH
        packedRecurrence = DenseRecurrentPack(weights: weightHH, bias: biasHH, outputs: weightHH.count / d, hidden: d)
    }

    public func step<T: CellNumber>(state h: [T], projection u: [T]) -> [T] where T.Base == Scalar {
        let d = hiddenSize
        func recurrent(_ gate: Int, _ i: Int) -> T {
            var acc = T(recurrentBias[gate * d + i])
            for k in 0..<d { acc = acc + T(recurrentWeights[(gate * d + i) * d + k]) * h[k] }
            return acc
        }
        return (0..<d).map { i in
            let r = T.sigmoid(u[i] + recurrent(0, i))
            let z = T.sigmoid(u[d + i] + recurrent(1, i))
            let n = T.tanh(u[2 * d + i] + r * recurrent(2, i))
            return (T(1) - z) * n + z * h[i]
        }
    }

    public func linearize(_ arguments: LinearizeArguments<Scalar>) { Scalar._linearize(self, arguments) }

    /// The vectorised kernel, reached through ``CellMath`` so it runs specialised per precision.
    func kernel(_ arguments: LinearizeArguments<Scalar>) {
        let (steps, batch, previous, states) = (arguments.steps, arguments.batch, arguments.previous, arguments.states)
        let (projections, values, jacobians, request) = (arguments.projections, arguments.values, arguments.jacobians, arguments.request)
        if arguments.inPlace {
            fusedRollout(DenseRolloutBuffers(arguments), entries: arguments.batchEntries ?? 0..<arguments.batch)
            return
        }
        let d = hiddenSize, lanes = batch * d, gd = 3 * d
        let g = UnsafeMutablePointer<Scalar>.allocate(capacity: steps.count * batch * gd)
        defer { g.deallocate() }
        recurrentPreactivations(steps: steps, batch: batch, previous: previous, states: states, into: g)
        recurrentWeights.withUnsafeBufferPointer { w in
            let whr = w.baseAddress!, whz = whr + d * d, whn = whr + 2 * d * d
            for (offset, t) in steps.enumerated() {
                let prev = t == steps.lowerBound ? previous : states + (t - 1) * lanes
                let u = projections + t * 3 * lanes
                for b in 0..<batch {
                    let gt = g + (offset * batch + b) * gd
                    let h = prev + b * d, out = values + t * lanes + b * d
                    for i in 0..<d {
                        let r = Scalar.sigmoid(u[b * d + i] + gt[i])
                        let z = Scalar.sigmoid(u[lanes + b * d + i] + gt[d + i])
                        let n = Scalar.tanh(u[2 * lanes + b * d + i] + r * gt[2 * d + i])
                        out[i] = (1 - z) * n + z * h[i]
                        guard let jacobians else { continue }
                        let common = (1 - z) * (1 - n * n)
                        let alpha = common * r * (1 - r) * gt[2 * d + i]
                        let beta = common * r
                        let gamma = (h[i] - n) * z * (1 - z)
                        if request == .diagonalOnly {
                            let ii = i * d + i
                            jacobians[t * lanes + b * d + i] = alpha * whr[ii] + beta * whn[ii] + gamma * whz[ii] + z
                        } else {
                            let jr = jacobians + t * lanes * d + (b * d + i) * d
                            let rr = whr + i * d, rz = whz + i * d, rn = whn + i * d
                            for k in 0..<d { jr[k] = alpha * rr[k] + beta * rn[k] + gamma * rz[k] }
                            jr[i] += z
                        }
                    }
                }
            }
        }
    }
}

/// PyTorch's `nn.LSTM` cell (gate rows i, f, g, o), dense recurrent weights.
///
///     i, f, g, o = σ, σ, tanh, σ of (W_i· x + b_i· + W_h· h + b_h·)
///     c' = f ⊙ c + i ⊙ g
///     h' = o ⊙ tanh(c')
///
/// State (c, h) per sequence: row `[B][2d]` (c first, then h); Jacobian `[B][2d][2d]`:
///
///     ∂c'/∂c = diag(f)                 ∂c'/∂h = diag(c f(1−f)) W_hf + diag(g i(1−i)) W_hi + diag(i(1−g²)) W_hg
///     ∂h'/∂c = diag(o(1−τ²) f)         ∂h'/∂h = diag(o(1−o) τ) W_ho + diag(o(1−τ²)) ∂c'/∂h,   τ = tanh(c')
public struct LSTM<Scalar: CellMath>: KernelCell, DenseRecurrence {
    /// The fused rollout runs any subset of the batch on its own (``DenseRecurrentPack``).
    public var rollsOutEntriesIndependently: Bool { true }
    public let inputSize: Int
    public let hiddenSize: Int
    public let inputWeights: [Scalar]
    public let inputBias: [Scalar]
    public let recurrentWeights: [Scalar]
    public let recurrentBias: [Scalar]
    /// W_hh and b_hh packed for the fused rollout (built once, here).
    let packedRecurrence: DenseRecurrentPack<Scalar>
    public var stateSize: Int { 2 * hiddenSize }
    public var gateCount: Int { 4 }
    public var structure: JacobianStructure { .dense }

    /// Creates an LSTM from PyTorch's `weight_ih` `[4d][m]`, `weight_hh` `[4d][d]`, `bias_ih`,
    /// `bias_hh` `[4d]` (rows i, f, g, o).
    public init(
        inputSize m: Int, hiddenSize d: Int, weightIH: [Scalar], weightHH: [Scalar],
        biasIH: [Scalar], biasHH: [Scalar]
    ) throws(CellError) {
        if d <= 0 || m < 0 { throw .invalidShape("hidden size \(d) and input size \(m) must be positive") }
        try checkParameter("weight_ih", weightIH, [4 * d, m])
        try checkParameter("weight_hh", weightHH, [4 * d, d])
        try checkParameter("bias_ih", biasIH, [4 * d])
        try checkParameter("bias_hh", biasHH, [4 * d])
        inputSize = m
        hiddenSize = d
        inputWeights = weightIH
        inputBias = biasIH
        recurrentWeights = weightHH
        recurrentBias = biasHH
        packedRecurrence = DenseRecurrentPack(weights: weightHH, bias: biasHH, outputs: weightHH.count / d, hidden: d)
    }

    public func step<T: CellNumber>(state s: [T], projection u: [T]) -> [T] where T.Base == Scalar {
        let d = hiddenSize
        func pre(_ gate: Int, _ j: Int) -> T {
            var acc = u[gate * d + j] + T(recurrentBias[gate * d + j])
            for k in 0..<d { acc = acc + T(recurrentWeights[(gate * d + j) * d + k]) * s[d + k] }
            return acc
        }
        var next = [T](repeating: T(0), count: 2 * d)
        for j in 0..<d {
            let i = T.sigmoid(pre(0, j)), f = T.sigmoid(pre(1, j))
            let g = T.tanh(pre(2, j)), o = T.sigmoid(pre(3, j))
            let c = f * s[j] + i * g
            next[j] = c
            next[d + j] = o * T.tanh(c)
        }
        return next
    }

    public func linearize(_ arguments: LinearizeArguments<Scalar>) { Scalar._linearize(self, arguments) }

    /// The vectorised kernel, reached through ``CellMath`` so it runs specialised per precision.
    func kernel(_ arguments: LinearizeArguments<Scalar>) {
        let (steps, batch, previous, states) = (arguments.steps, arguments.batch, arguments.previous, arguments.states)
        let (projections, values, jacobians, request) = (arguments.projections, arguments.values, arguments.jacobians, arguments.request)
        if arguments.inPlace {
            fusedRollout(DenseRolloutBuffers(arguments), entries: arguments.batchEntries ?? 0..<arguments.batch)
            return
        }
        let d = hiddenSize, n = 2 * d, lanes = batch * d, row = batch * n, gd = 4 * d
        let g = UnsafeMutablePointer<Scalar>.allocate(capacity: steps.count * batch * gd)
        defer { g.deallocate() }
        recurrentPreactivations(steps: steps, batch: batch, previous: previous, states: states, into: g)
        recurrentWeights.withUnsafeBufferPointer { w in
            let whi = w.baseAddress!, whf = whi + d * d, whg = whi + 2 * d * d, who = whi + 3 * d * d
            for (offset, t) in steps.enumerated() {
                let prev = t == steps.lowerBound ? previous : states + (t - 1) * row
                let u = projections + t * 4 * lanes
                for b in 0..<batch {
                    let gt = g + (offset * batch + b) * gd
                    let s = prev + b * n, out = values + t * row + b * n
                    for j in 0..<d {
                        let ig = Scalar.sigmoid(u[b * d + j] + gt[j])
                        let fg = Scalar.sigmoid(u[lanes + b * d + j] + gt[d + j])
                        let gg = Scalar.tanh(u[2 * lanes + b * d + j] + gt[2 * d + j])
                        let og = Scalar.sigmoid(u[3 * lanes + b * d + j] + gt[3 * d + j])
                        let c = fg * s[j] + ig * gg
                        let tau = Scalar.tanh(c)
                        out[j] = c
                        out[d + j] = og * tau
                        guard let jacobians else { continue }
                        let cf = s[j] * fg * (1 - fg), ci = gg * ig * (1 - ig), cg = ig * (1 - gg * gg)
                        let hc = og * (1 - tau * tau), ho = og * (1 - og) * tau
                        if request == .diagonalOnly {
                            let jj = j * d + j
                            let dcdh = cf * whf[jj] + ci * whi[jj] + cg * whg[jj]
                            jacobians[t * row + b * n + j] = fg
                            jacobians[t * row + b * n + d + j] = ho * who[jj] + hc * dcdh
                        } else {
                            let jm = jacobians + t * row * n + b * n * n
                            let rowC = jm + j * n, rowH = jm + (d + j) * n
                            for k in 0..<d {
                                rowC[k] = 0
                                rowH[k] = 0
                                let dcdh = cf * whf[j * d + k] + ci * whi[j * d + k] + cg * whg[j * d + k]
                                rowC[d + k] = dcdh
                                rowH[d + k] = ho * who[j * d + k] + hc * dcdh
                            }
                            rowC[j] = fg
                            rowH[j] = hc * fg
                        }
                    }
                }
            }
        }
    }
}

/// The Elman RNN h' = φ(W_ih x + b_ih + W_hh h + b_hh), PyTorch `nn.RNN`: φ = tanh (the default)
/// or ReLU (`nn.RNN(nonlinearity="relu")`). Jacobian ∂h'_i/∂h_k = φ'_i W_hh[i,k] with
/// φ' = 1 − h'² (tanh) or [h' > 0] (ReLU).
///
///     let relu = try ElmanRNN<Float>(inputSize: 3, hiddenSize: 5, weightIH: wih, weightHH: whh,
///                                    biasIH: bih, biasHH: bhh, activation: .relu)
public struct ElmanRNN<Scalar: CellMath>: KernelCell, DenseRecurrence {
    /// The fused rollout runs any subset of the batch on its own (``DenseRecurrentPack``).
    public var rollsOutEntriesIndependently: Bool { true }
    public let inputSize: Int
    public let hiddenSize: Int
    public let inputWeights: [Scalar]
    public let inputBias: [Scalar]
    public let recurrentWeights: [Scalar]
    public let recurrentBias: [Scalar]
    /// W_hh and b_hh packed for the fused rollout (built once, here).
    let packedRecurrence: DenseRecurrentPack<Scalar>
    public var stateSize: Int { hiddenSize }
    public var gateCount: Int { 1 }
    public var structure: JacobianStructure { .dense }

    /// The nonlinearity φ.
    public enum Activation: String, Sendable { case tanh, relu }
    public let activation: Activation

    /// Creates an Elman RNN from `weight_ih` `[d][m]`, `weight_hh` `[d][d]`, `bias_ih`, `bias_hh`.
    public init(
        inputSize m: Int, hiddenSize d: Int, weightIH: [Scalar], weightHH: [Scalar],
        biasIH: [Scalar], biasHH: [Scalar], activation: Activation = .tanh
    ) throws(CellError) {
        self.activation = activation
        if d <= 0 || m < 0 { throw .invalidShape("hidden size \(d) and input size \(m) must be positive") }
        try checkParameter("weight_ih", weightIH, [d, m])
        try checkParameter("weight_hh", weightHH, [d, d])
        try checkParameter("bias_ih", biasIH, [d])
        try checkParameter("bias_hh", biasHH, [d])
        inputSize = m
        hiddenSize = d
        inputWeights = weightIH
        inputBias = biasIH
        recurrentWeights = weightHH
        recurrentBias = biasHH
        packedRecurrence = DenseRecurrentPack(weights: weightHH, bias: biasHH, outputs: weightHH.count / d, hidden: d)
    }

    public func step<T: CellNumber>(state h: [T], projection u: [T]) -> [T] where T.Base == Scalar {
        let d = hiddenSize
        return (0..<d).map { i in
            var acc = u[i] + T(recurrentBias[i])
            for k in 0..<d { acc = acc + T(recurrentWeights[i * d + k]) * h[k] }
            return activation == .tanh ? T.tanh(acc) : (acc.value > 0 ? acc : T(0))
        }
    }

    public func linearize(_ arguments: LinearizeArguments<Scalar>) { Scalar._linearize(self, arguments) }

    /// The vectorised kernel, reached through ``CellMath`` so it runs specialised per precision.
    func kernel(_ arguments: LinearizeArguments<Scalar>) {
        let (steps, batch, previous, states) = (arguments.steps, arguments.batch, arguments.previous, arguments.states)
        let (projections, values, jacobians, request) = (arguments.projections, arguments.values, arguments.jacobians, arguments.request)
        if arguments.inPlace {
            fusedRollout(DenseRolloutBuffers(arguments), entries: arguments.batchEntries ?? 0..<arguments.batch)
            return
        }
        let d = hiddenSize, lanes = batch * d
        let g = UnsafeMutablePointer<Scalar>.allocate(capacity: steps.count * lanes)
        defer { g.deallocate() }
        recurrentPreactivations(steps: steps, batch: batch, previous: previous, states: states, into: g)
        recurrentWeights.withUnsafeBufferPointer { w in
            for (offset, t) in steps.enumerated() {
                for b in 0..<batch {
                    let gt = g + (offset * batch + b) * d, u = projections + t * lanes + b * d
                    let out = values + t * lanes + b * d
                    for i in 0..<d {
                        let h = activate(u[i] + gt[i])
                        out[i] = h
                        guard let jacobians else { continue }
                        let slope = self.slope(h)
                        if request == .diagonalOnly {
                            jacobians[t * lanes + b * d + i] = slope * w[i * d + i]
                        } else {
                            let jr = jacobians + t * lanes * d + (b * d + i) * d
                            for k in 0..<d { jr[k] = slope * w[i * d + k] }
                        }
                    }
                }
            }
        }
    }

    /// φ(a): tanh, or a where a > 0 and 0 elsewhere (ReLU).
    @inline(__always)
    func activate(_ a: Scalar) -> Scalar { activation == .tanh ? Scalar.tanh(a) : (a > 0 ? a : 0) }

    /// φ(a) lane-wise.
    @inline(__always)
    func activate(_ a: SIMD4<Scalar>) -> SIMD4<Scalar> {
        activation == .tanh ? Scalar.tanh(a) : blend(SIMD4(repeating: 0), a, a .> 0)
    }

    /// φ' from the output h' = φ(a): 1 − h'² (tanh) or [h' > 0] (ReLU).
    @inline(__always)
    func slope(_ h: Scalar) -> Scalar { activation == .tanh ? 1 - h * h : (h > 0 ? 1 : 0) }

    /// φ' lane-wise.
    @inline(__always)
    func slope(_ h: SIMD4<Scalar>) -> SIMD4<Scalar> {
        activation == .tanh ? 1 - h * h : blend(SIMD4(repeating: 0), SIMD4(repeating: 1), h .> 0)
    }

}
