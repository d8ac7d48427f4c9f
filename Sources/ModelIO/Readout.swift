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

    public init(weight: ParameterTensor, bias: ParameterTensor, inputMean: [Double], inputStandardDeviation: [Double], inputSkip: Bool = false,
                outputMean: [Double]? = nil, outputStandardDeviation: [Double]? = nil) {
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
    /// The file-format parameters of a trained cell (ParaRNN cells are written with H = 1:
    /// `B[0, i, v, j] = W[v·d + j][i]`).
    public init<C: RecurrentCell>(cell: C) throws(ModelError) where C.Scalar: BinaryFloatingPoint {
        let m = cell.inputSize, d = cell.hiddenSize
        func tensor(_ shape: [Int], _ values: [C.Scalar]) -> ParameterTensor {
            ParameterTensor(shape: shape, values: values.map { Double($0) })
        }
        func headTensor(_ w: [C.Scalar], gates: Int) -> ParameterTensor {
            var b = [Double](repeating: 0, count: m * gates * d)
            for i in 0..<m { for v in 0..<gates { for j in 0..<d { b[(i * gates + v) * d + j] = Double(w[(v * d + j) * m + i]) } } }
            return ParameterTensor(shape: [1, m, gates, d], values: b)
        }
        switch cell {
        case let c as ParaGRU<C.Scalar>:
            try self.init(kind: .paragru, parameters: [
                "A": tensor([3, d], c.recurrentGains), "B": headTensor(c.inputWeights, gates: 3),
                "b": tensor([3, d], c.inputBias)])
        case let c as ParaLSTM<C.Scalar>:
            try self.init(kind: .paralstm, parameters: [
                "A": tensor([3, d], c.recurrentGains), "B": headTensor(c.inputWeights, gates: 3),
                "C": tensor([2, d], c.peepholes), "b": tensor([3, d], c.inputBias)])
        case let c as ParaSLSTM<C.Scalar>:
            try self.init(kind: .paraslstm, parameters: [
                "A": tensor([4, d], c.recurrentGains), "B": headTensor(c.inputWeights, gates: 4),
                "b": tensor([4, d], c.inputBias)])
        case let c as GRU<C.Scalar>:
            try self.init(kind: .gru, parameters: [
                "weight_ih": tensor([3 * d, m], c.inputWeights), "weight_hh": tensor([3 * d, d], c.recurrentWeights),
                "bias_ih": tensor([3 * d], c.inputBias), "bias_hh": tensor([3 * d], c.recurrentBias)])
        case let c as LSTM<C.Scalar>:
            try self.init(kind: .lstm, parameters: [
                "weight_ih": tensor([4 * d, m], c.inputWeights), "weight_hh": tensor([4 * d, d], c.recurrentWeights),
                "bias_ih": tensor([4 * d], c.inputBias), "bias_hh": tensor([4 * d], c.recurrentBias)])
        case let c as ElmanRNN<C.Scalar>:
            try self.init(kind: .elman, parameters: [
                "weight_ih": tensor([d, m], c.inputWeights), "weight_hh": tensor([d, d], c.recurrentWeights),
                "bias_ih": tensor([d], c.inputBias), "bias_hh": tensor([d], c.recurrentBias)])
        default:
            throw .inconsistent(file: "", detail: "cannot write a \(C.cellName) cell")
        }
    }
}
