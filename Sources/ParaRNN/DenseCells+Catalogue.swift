extension DenseRecurrence {
    /// PyTorch's tensors: `weight_ih` `[G·d, m]`, `weight_hh` `[G·d, d]`, `bias_ih`, `bias_hh` `[G·d]`.
    var pytorchTensors: [String: ParameterTensor] {
        let gd = gateCount * hiddenSize
        return [
            "weight_ih": ParameterTensor(shape: [gd, inputSize], inputWeights),
            "weight_hh": ParameterTensor(shape: [gd, hiddenSize], recurrentWeights),
            "bias_ih": ParameterTensor(shape: [gd], inputBias),
            "bias_hh": ParameterTensor(shape: [gd], recurrentBias),
        ]
    }
}

extension GRU: CatalogueCell {
    public static var schema: CellSchema { CellSchema(name: "gru", gates: 3, naming: .pytorch) }

    public static func make<T: CellMath>(_ t: CellTensors, as _: T.Type) throws(CellError) -> any RecurrentCell<T> {
        try GRU<T>(
            inputSize: t.inputSize, hiddenSize: t.hiddenSize, weightIH: t["weight_ih"],
            weightHH: t["weight_hh"], biasIH: t["bias_ih"], biasHH: t["bias_hh"])
    }

    public static func trainableType<T: CellMath>(_: T.Type) -> (any TrainableCell<T>.Type)? { GRU<T>.self }

    public var parameterTensors: [String: ParameterTensor] { pytorchTensors }
}

extension LSTM: CatalogueCell {
    /// PyTorch's LSTM tensors; with `weight_hr` `[p, d]` (`proj_size`) it builds a
    /// ``ProjectedLSTM``.
    public static var schema: CellSchema { CellSchema(name: "lstm", gates: 4, naming: .pytorch) }

    public static func make<T: CellMath>(_ t: CellTensors, as _: T.Type) throws(CellError) -> any RecurrentCell<T> {
        if t.projectionSize != nil {
            return try ProjectedLSTM<T>(
                inputSize: t.inputSize, hiddenSize: t.hiddenSize, projectionSize: t.projectionSize!,
                weightIH: t["weight_ih"], weightHH: t["weight_hh"], weightHR: t["weight_hr"],
                biasIH: t["bias_ih"], biasHH: t["bias_hh"])
        }
        return try LSTM<T>(
            inputSize: t.inputSize, hiddenSize: t.hiddenSize, weightIH: t["weight_ih"],
            weightHH: t["weight_hh"], biasIH: t["bias_ih"], biasHH: t["bias_hh"])
    }

    public static func trainableType<T: CellMath>(_: T.Type) -> (any TrainableCell<T>.Type)? { LSTM<T>.self }

    public var parameterTensors: [String: ParameterTensor] { pytorchTensors }
}

extension ElmanRNN: CatalogueCell {
    /// PyTorch's `nn.RNN` tensors; the activation comes from ``CellTensors/nonlinearity``.
    public static var schema: CellSchema { CellSchema(name: "elman", gates: 1, naming: .pytorch) }

    public static func make<T: CellMath>(_ t: CellTensors, as _: T.Type) throws(CellError) -> any RecurrentCell<T> {
        guard let activation = ElmanRNN<T>.Activation(rawValue: t.nonlinearity) else {
            throw .invalidShape("unknown Elman nonlinearity \"\(t.nonlinearity)\" (tanh or relu)")
        }
        return try ElmanRNN<T>(
            inputSize: t.inputSize, hiddenSize: t.hiddenSize, weightIH: t["weight_ih"],
            weightHH: t["weight_hh"], biasIH: t["bias_ih"], biasHH: t["bias_hh"], activation: activation)
    }

    public static func trainableType<T: CellMath>(_: T.Type) -> (any TrainableCell<T>.Type)? { ElmanRNN<T>.self }

    public var parameterTensors: [String: ParameterTensor] { pytorchTensors }
}
