extension ParaLSTM: CatalogueCell {
    /// `A` `[3, d]` (f, o, c), `B` `[H, m/H, 3, d/H]`, peepholes `C` `[2, d]`, `b` `[3, d]`.
    public static var schema: CellSchema {
        CellSchema(
            name: "paralstm", gates: 3, naming: .paraRNN,
            channelTensors: [ChannelTensor(name: "C", rows: 2, meaning: "peepholes")])
    }

    public static func make<T: CellMath>(_ t: CellTensors, as _: T.Type) throws(CellError) -> any RecurrentCell<T> {
        try ParaLSTM<T>(
            inputSize: t.inputSize, hiddenSize: t.hiddenSize, heads: t.heads, A: t["A"], B: t["B"],
            C: t["C"], b: t["b"])
    }

    public static func trainableType<T: CellMath>(_: T.Type) -> (any TrainableCell<T>.Type)? { ParaLSTM<T>.self }

    public var parameterTensors: [String: ParameterTensor] {
        paraRNNTensors(gains: recurrentGains, channels: ["C": (2, peepholes)])
    }
}
