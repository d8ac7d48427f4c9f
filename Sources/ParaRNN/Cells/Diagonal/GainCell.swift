/// A ParaRNN-style cell whose only tensors are ``DiagonalGains`` (ParaGRU, ParaSLSTM): it is
/// built from dense or head-block tensors, read from a model file and trained the same way.
///
///     let cell = try ParaGRU<Float>(inputSize: 2, hiddenSize: 4, heads: 1, A: a, B: b, b: bias)
public protocol DiagonalGainCell: DiagonalRecurrence, CatalogueCell {
    /// The cell with these tensors (gates as in ``CatalogueCell/schema``).
    init(gains: DiagonalGains<Scalar>)
    /// The name of the gains in error messages and the cell's documentation ("A" or "R").
    static var gainsName: String { get }
}

extension DiagonalGainCell {
    public static var gainsName: String { "A" }

    /// Creates the cell from dense input weights: `recurrentGains` `[G][d]`, `inputWeights`
    /// `[G·d][m]`, `inputBias` `[G·d]` (gate rows in the cell's order).
    public init(
        inputSize m: Int, hiddenSize d: Int, recurrentGains: [Scalar], inputWeights: [Scalar], inputBias: [Scalar]
    ) throws(CellError) {
        self.init(
            gains: try DiagonalGains(
                inputSize: m, hiddenSize: d, gates: Self.schema.gates, gainsName: Self.gainsName,
                recurrentGains: recurrentGains, inputWeights: inputWeights, inputBias: inputBias))
    }

    /// Creates the cell from ParaRNN's tensors: gains `A` `[G, d]`, the block-diagonal multi-head
    /// input projection `B` `[H, m/H, G, d/H]` (head k maps inputs k·m/H… to channels k·d/H…),
    /// and `b` `[G, d]`.
    public init(
        inputSize m: Int, hiddenSize d: Int, heads: Int, A: [Scalar], B: [Scalar], b: [Scalar]
    ) throws(CellError) {
        let w = try headProjectionToDense(B, inputSize: m, hiddenSize: d, heads: heads, gates: Self.schema.gates)
        try self.init(inputSize: m, hiddenSize: d, recurrentGains: A, inputWeights: w, inputBias: b)
    }

    /// Creates the cell from a model file's tensors `A`, `B`, `b`.
    public init(tensors t: CellTensors) throws(CellError) {
        try self.init(inputSize: t.inputSize, hiddenSize: t.hiddenSize, heads: t.heads, A: t["A"], B: t["B"], b: t["b"])
    }

    public var parameterTensors: [String: ParameterTensor] { paraRNNTensors(gains: recurrentGains) }
}

extension DiagonalGainCell where Self: TrainableCell {
    /// The training vector: the gains, W, b.
    public var parameterVector: [Scalar] { recurrentGains + inputWeights + inputBias }

    public func with(parameterVector vector: [Scalar]) throws(CellError) -> Self {
        let (recurrent, w, b) = try split(vector)
        return try Self(
            inputSize: inputSize, hiddenSize: hiddenSize, recurrentGains: recurrent[0], inputWeights: w, inputBias: b)
    }
}
