/// A cell with dense recurrent weights that is nothing but its ``DenseWeights`` (GRU, LSTM):
/// built from PyTorch's four tensors with G = the schema's gate count, rebuilt with other
/// weights, initialised the PyTorch way.
///
///     let gru = try GRU<Float>(inputSize: 2, hiddenSize: 4, weightIH: wih, weightHH: whh, biasIH: bih, biasHH: bhh)
public protocol DenseGateCell: DenseRecurrence, CatalogueCell {
    /// The cell with these weights (shapes already validated by ``DenseWeights``).
    init(weights: DenseWeights<Scalar>)
}

extension DenseGateCell {
    /// Creates the cell from PyTorch's `weight_ih` `[G·d][m]`, `weight_hh` `[G·d][d]`, `bias_ih`,
    /// `bias_hh` `[G·d]` (gate rows in the cell's order).
    public init(
        inputSize m: Int, hiddenSize d: Int, weightIH: [Scalar], weightHH: [Scalar], biasIH: [Scalar],
        biasHH: [Scalar]
    ) throws(CellError) {
        self.init(
            weights: try DenseWeights(
                inputSize: m, hiddenSize: d, gates: Self.schema.gates, weightIH: weightIH, weightHH: weightHH,
                biasIH: biasIH, biasHH: biasHH))
    }

    /// Creates the cell from a model file's `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`.
    public init(tensors t: CellTensors) throws(CellError) {
        try self.init(
            inputSize: t.inputSize, hiddenSize: t.hiddenSize, weightIH: t["weight_ih"], weightHH: t["weight_hh"],
            biasIH: t["bias_ih"], biasHH: t["bias_hh"])
    }

    public func with(weights: DenseWeights<Scalar>) -> Self { Self(weights: weights) }

    public var parameterTensors: [String: ParameterTensor] { pytorchTensors }

    /// PyTorch's default: every weight and bias ∼ U(±1/√d)
    /// (``DenseWeights/uniform(inputSize:hiddenSize:gates:using:)``).
    public static func initialized<G: RandomNumberGenerator>(
        inputSize m: Int, hiddenSize d: Int, using generator: inout G
    ) throws(CellError) -> Self {
        Self(weights: try .uniform(inputSize: m, hiddenSize: d, gates: schema.gates, using: &generator))
    }
}
