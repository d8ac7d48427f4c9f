extension ParaSLSTM: CatalogueCell {
    /// `A` `[4, d]` (diagonal gains, rows i, f, z, o), `B` `[H, m/H, 4, d/H]`, `b` `[4, d]`.
    public static var schema: CellSchema { CellSchema(name: "paraslstm", gates: 4, naming: .paraRNN) }

    public static func make<T: CellMath>(_ t: CellTensors, as _: T.Type) throws(CellError) -> any RecurrentCell<T> {
        try ParaSLSTM<T>(tensors: t)
    }

    public static func trainableType<T: CellMath>(_: T.Type) -> (any TrainableCell<T>.Type)? { ParaSLSTM<T>.self }
}
