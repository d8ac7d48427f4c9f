import ParallelScan

/// PyTorch's `nn.RNN(nonlinearity="relu")` cell: h' = max(0, W_ih x + b_ih + W_hh h + b_hh).
///
/// Dense Jacobian ∂h'_i/∂h_k = [h'_i > 0] W_hh[i,k] (from the generic dual-number path).
/// State row `[B][d]`.
///
///     let cell = try ReLURNN<Float>(inputSize: 3, hiddenSize: 5, weightIH: wih, weightHH: whh,
///                                   biasIH: bih, biasHH: bhh)
///     let h = try SequenceSolver(cell: cell).solve(inputs: x, steps: T, batch: B).states
public struct ReLURNN<Scalar: CellMath>: GenericStepCell {
    public static var cellName: String { "elman" }
    public let inputSize: Int
    public let hiddenSize: Int
    public let inputWeights: [Scalar]
    public let inputBias: [Scalar]
    public let recurrentWeights: [Scalar]
    public let recurrentBias: [Scalar]
    public var stateSize: Int { hiddenSize }
    public var gateCount: Int { 1 }
    public var structure: JacobianStructure { .dense }

    /// Creates the cell from `weight_ih` `[d][m]`, `weight_hh` `[d][d]`, `bias_ih`, `bias_hh` `[d]`.
    public init(
        inputSize m: Int, hiddenSize d: Int, weightIH: [Scalar], weightHH: [Scalar],
        biasIH: [Scalar], biasHH: [Scalar]
    ) throws(CellError) {
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
    }

    public func step<T: CellNumber>(state h: [T], projection u: [T]) -> [T] where T.Base == Scalar {
        let d = hiddenSize
        return (0..<d).map { i in
            var acc = u[i] + T(recurrentBias[i])
            for k in 0..<d { acc = acc + T(recurrentWeights[i * d + k]) * h[k] }
            return acc.value > 0 ? acc : T(0)
        }
    }
}

/// PyTorch's `nn.LSTM(proj_size=p)` cell (gate rows i, f, g, o) with a projected hidden state:
///
///     i, f, g, o = σ, σ, tanh, σ of (W_i· x + b_i· + W_h· h + b_h·)     (W_h· is [4d][p])
///     c' = f ⊙ c + i ⊙ g
///     h' = W_hr (o ⊙ tanh(c'))                                           (W_hr is [p][d])
///
/// The recurrent state is (c, h): row `[B][d + p]` (c first, then h), dense Jacobian
/// `[B][d+p][d+p]` (DEER; its diagonal for quasi-Newton). ``hiddenSize`` is the cell size d
/// (the projections' width); the output h has ``projectionSize`` p values.
///
///     let cell = try ProjectedLSTM<Float>(inputSize: 3, hiddenSize: 6, projectionSize: 3,
///         weightIH: wih, weightHH: whh, weightHR: whr, biasIH: bih, biasHH: bhh)
public struct ProjectedLSTM<Scalar: CellMath>: GenericStepCell {
    public static var cellName: String { "lstm" }
    public let inputSize: Int
    /// d: the cell size (rows of each gate).
    public let hiddenSize: Int
    /// p: the size of the output h.
    public let projectionSize: Int
    public let inputWeights: [Scalar]
    public let inputBias: [Scalar]
    /// W_hh, `[4d][p]`.
    public let recurrentWeights: [Scalar]
    public let recurrentBias: [Scalar]
    /// W_hr, `[p][d]`.
    public let projectionWeights: [Scalar]
    public var stateSize: Int { hiddenSize + projectionSize }
    public var gateCount: Int { 4 }
    public var structure: JacobianStructure { .dense }

    /// Creates the cell from PyTorch's `weight_ih` `[4d][m]`, `weight_hh` `[4d][p]`,
    /// `weight_hr` `[p][d]`, `bias_ih`, `bias_hh` `[4d]`.
    public init(
        inputSize m: Int, hiddenSize d: Int, projectionSize p: Int, weightIH: [Scalar],
        weightHH: [Scalar], weightHR: [Scalar], biasIH: [Scalar], biasHH: [Scalar]
    ) throws(CellError) {
        if d <= 0 || m < 0 || p <= 0 {
            throw .invalidShape("hidden size \(d), projection size \(p) and input size \(m) must be positive")
        }
        try checkParameter("weight_ih", weightIH, [4 * d, m])
        try checkParameter("weight_hh", weightHH, [4 * d, p])
        try checkParameter("weight_hr", weightHR, [p, d])
        try checkParameter("bias_ih", biasIH, [4 * d])
        try checkParameter("bias_hh", biasHH, [4 * d])
        inputSize = m
        hiddenSize = d
        projectionSize = p
        inputWeights = weightIH
        inputBias = biasIH
        recurrentWeights = weightHH
        recurrentBias = biasHH
        projectionWeights = weightHR
    }

    public func step<T: CellNumber>(state s: [T], projection u: [T]) -> [T] where T.Base == Scalar {
        let d = hiddenSize, p = projectionSize
        func pre(_ gate: Int, _ j: Int) -> T {
            var acc = u[gate * d + j] + T(recurrentBias[gate * d + j])
            let w = (gate * d + j) * p
            for k in 0..<p { acc = acc + T(recurrentWeights[w + k]) * s[d + k] }
            return acc
        }
        var next = [T](repeating: T(0), count: d + p)
        var gated = [T](repeating: T(0), count: d)
        for j in 0..<d {
            let i = T.sigmoid(pre(0, j)), f = T.sigmoid(pre(1, j))
            let g = T.tanh(pre(2, j)), o = T.sigmoid(pre(3, j))
            let c = f * s[j] + i * g
            next[j] = c
            gated[j] = o * T.tanh(c)
        }
        for q in 0..<p {
            var acc = T(0)
            for j in 0..<d { acc = acc + T(projectionWeights[q * d + j]) * gated[j] }
            next[d + q] = acc
        }
        return next
    }

    /// The projected h of one state row: `[B][p]` (the last p values of each entry).
    public func hidden(ofStateRow row: UnsafePointer<Scalar>, batch: Int, into h: UnsafeMutablePointer<Scalar>) {
        let n = stateSize, p = projectionSize
        for b in 0..<batch { (h + b * p).update(from: row + b * n + (n - p), count: p) }
    }
}
