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
