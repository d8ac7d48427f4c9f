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
        return try LSTM<T>(tensors: t)
    }

    public static func trainableType<T: CellMath>(_: T.Type) -> (any TrainableCell<T>.Type)? { LSTM<T>.self }
}
