/// The four tensors of a cell with dense recurrent weights (PyTorch's `weight_ih`, `weight_hh`,
/// `bias_ih`, `bias_hh`), validated once, with W_hh packed for the fused kernels. GRU, LSTM,
/// Elman and the projected LSTM hold one and get their sizes and weights from it
/// (``DenseRecurrence``).
///
///     let w = try DenseWeights<Float>(inputSize: 2, hiddenSize: 4, gates: 3,
///                                     weightIH: wih, weightHH: whh, biasIH: bih, biasHH: bhh)
public struct DenseWeights<Scalar: CellMath>: Sendable {
    /// m.
    public let inputSize: Int
    /// d: rows of each gate.
    public let hiddenSize: Int
    /// G: gate blocks of d rows.
    public let gates: Int
    /// W_ih, `[G·d][m]`.
    public let inputWeights: [Scalar]
    /// b_ih, `[G·d]`.
    public let inputBias: [Scalar]
    /// W_hh, `[G·d][c]` (c = d, or p for a projected LSTM).
    public let recurrentWeights: [Scalar]
    /// b_hh, `[G·d]`.
    public let recurrentBias: [Scalar]
    /// W_hh and b_hh packed for the fused rollout and BPTT (square W_hh only).
    let packed: DenseRecurrentPack<Scalar>?

    /// Validates the shapes (W_hh has `recurrentColumns` columns, d by default) and values.
    public init(
        inputSize m: Int, hiddenSize d: Int, gates g: Int, recurrentColumns: Int? = nil,
        weightIH: [Scalar], weightHH: [Scalar], biasIH: [Scalar], biasHH: [Scalar]
    ) throws(CellError) {
        if d <= 0 || m < 0 { throw .invalidShape("hidden size \(d) and input size \(m) must be positive") }
        let columns = recurrentColumns ?? d
        try checkParameter("weight_ih", weightIH, [g * d, m])
        try checkParameter("weight_hh", weightHH, [g * d, columns])
        try checkParameter("bias_ih", biasIH, [g * d])
        try checkParameter("bias_hh", biasHH, [g * d])
        (inputSize, hiddenSize, gates) = (m, d, g)
        (inputWeights, inputBias, recurrentWeights, recurrentBias) = (weightIH, biasIH, weightHH, biasHH)
        packed = columns == d ? DenseRecurrentPack(weights: weightHH, bias: biasHH, outputs: g * d, hidden: d) : nil
    }

    /// PyTorch's default initialisation: every weight and bias ∼ U(±1/√d), drawn in the order
    /// W_ih, W_hh, b_ih, b_hh.
    public static func uniform<G: RandomNumberGenerator>(
        inputSize m: Int, hiddenSize d: Int, gates g: Int, using generator: inout G
    ) throws(CellError) -> DenseWeights {
        let k = 1 / Double(d).squareRoot()
        let wih: [Scalar] = uniformValues(g * d * m, k, &generator)
        let whh: [Scalar] = uniformValues(g * d * d, k, &generator)
        let bih: [Scalar] = uniformValues(g * d, k, &generator)
        let bhh: [Scalar] = uniformValues(g * d, k, &generator)
        return try DenseWeights(
            inputSize: m, hiddenSize: d, gates: g, weightIH: wih, weightHH: whh, biasIH: bih, biasHH: bhh)
    }

    /// The training vector: W_hh, b_hh, W_ih, b_ih.
    public var parameterVector: [Scalar] { recurrentWeights + recurrentBias + inputWeights + inputBias }

    /// The same shapes with the values of a training vector (``parameterVector`` order).
    public func with(parameterVector v: [Scalar]) throws(CellError) -> DenseWeights {
        let gd = gates * hiddenSize
        let (a, b, c) = (recurrentWeights.count, recurrentBias.count, inputWeights.count)
        if v.count != a + b + c + gd {
            throw .parameterSize(name: "parameter vector", expected: [a + b + c + gd], actual: v.count)
        }
        return try DenseWeights(
            inputSize: inputSize, hiddenSize: hiddenSize, gates: gates,
            recurrentColumns: recurrentWeights.count / max(1, gd),
            weightIH: Array(v[(a + b)..<(a + b + c)]), weightHH: Array(v[0..<a]),
            biasIH: Array(v[(a + b + c)...]), biasHH: Array(v[a..<(a + b)]))
    }
}
