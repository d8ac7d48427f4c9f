/// A layer's validated parameters and the sizes inferred from their shapes: what a
/// ``CatalogueCell`` is built from.
///
///     let cell = try ParaGRU<Float>(inputSize: t.inputSize, hiddenSize: t.hiddenSize,
///                                   heads: t.heads, A: t["A"], B: t["B"], b: t["b"])
public struct CellTensors: Sendable, Equatable {
    /// m: input features.
    public var inputSize: Int
    /// d: hidden channels.
    public var hiddenSize: Int
    /// H: heads of a ParaRNN-style block-diagonal input projection (1 for PyTorch cells).
    public var heads: Int
    /// p of an LSTM with projections (`weight_hr`), else `nil`.
    public var projectionSize: Int?
    /// The Elman activation ("tanh" or "relu"); "tanh" for every other cell.
    public var nonlinearity: String
    /// Parameters by their per-layer name (``CellSchema/parameterNames``).
    public var parameters: [String: ParameterTensor]

    public init(
        inputSize: Int, hiddenSize: Int, heads: Int = 1, projectionSize: Int? = nil,
        nonlinearity: String = "tanh", parameters: [String: ParameterTensor]
    ) {
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.heads = heads
        self.projectionSize = projectionSize
        self.nonlinearity = nonlinearity
        self.parameters = parameters
    }

    /// The values of tensor `name` in precision `S` (empty if absent).
    public func values<S: BinaryFloatingPoint>(_ name: String, as _: S.Type = S.self) -> [S] {
        (parameters[name]?.values ?? []).map { S($0) }
    }

    /// The values of tensor `name` in the precision the context asks for.
    public subscript<S: BinaryFloatingPoint>(_ name: String) -> [S] { values(name, as: S.self) }

    /// A ParaRNN-style input projection `B` `[H, m/H, G, d/H]` as dense input weights W
    /// `[G·d][m]` (see ``headProjectionToDense(_:inputSize:hiddenSize:heads:gates:)``).
    public func denseInputWeights<S: BinaryFloatingPoint>(gates: Int, as _: S.Type = S.self) throws(CellError) -> [S] {
        try headProjectionToDense(
            values("B", as: S.self), inputSize: inputSize, hiddenSize: hiddenSize, heads: heads, gates: gates)
    }
}
