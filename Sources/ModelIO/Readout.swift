import ParaRNN

/// What `pararnn fit` adds to a recurrent stack: a linear readout y_t = W h_t + b from the last
/// layer's hidden state, and the per-feature normalisation applied to inputs (and, for
/// next-step prediction, undone on outputs).
///
/// Stored in the model file as tensors `readout.weight` `[p, d]` and `readout.bias` `[p]`, and
/// `__metadata__` `"input_mean"`, `"input_std"` (comma-separated, one per feature) and
/// `"readout_skip"` (`"true"`: y_t = x_t + W h_t + b); a model trained on other target columns
/// (`fit --targets`) also stores `"output_mean"`, `"output_std"` (one per output: y is predicted
/// normalised, y · std + mean in the recording's units).
/// `pararnn solve` reads and checks them but outputs hidden states.
public struct Readout: Sendable, Equatable {
    /// W, `[outputs][d]`.
    public var weight: ParameterTensor
    /// b, `[outputs]`.
    public var bias: ParameterTensor
    /// Per-feature mean subtracted from inputs before the model sees them.
    public var inputMean: [Double]
    /// Per-feature scale inputs are divided by.
    public var inputStandardDeviation: [Double]
    /// Whether the (normalised) input is added to the readout: y_t = x_t + W h_t + b.
    public var inputSkip: Bool
    /// Per-output mean and scale of the targets when they are not the inputs (nil: the input's).
    public var outputMean: [Double]?
    public var outputStandardDeviation: [Double]?

    public init(
        weight: ParameterTensor, bias: ParameterTensor, inputMean: [Double], inputStandardDeviation: [Double],
        inputSkip: Bool = false,
        outputMean: [Double]? = nil, outputStandardDeviation: [Double]? = nil
    ) {
        self.weight = weight
        self.bias = bias
        self.inputMean = inputMean
        self.inputStandardDeviation = inputStandardDeviation
        self.inputSkip = inputSkip
        self.outputMean = outputMean
        self.outputStandardDeviation = outputStandardDeviation
    }

    /// Number of outputs p.
    public var outputs: Int { bias.values.count }
}

extension ModelLayer {
    /// The file-format parameters of a catalogue cell (``CatalogueCell/parameterTensors``;
    /// ParaRNN cells are written with H = 1: `B[0, i, v, j] = W[v·d + j][i]`).
    public init<C: RecurrentCell>(cell: C) throws(ModelError) {
        guard let catalogued = cell as? any CatalogueCell, let kind = CellKind(rawValue: C.cellName) else {
            throw .inconsistent(file: "", detail: "cannot write a \(C.cellName) cell (not in the cell catalogue)")
        }
        try self.init(kind: kind, parameters: catalogued.parameterTensors)
    }
}
