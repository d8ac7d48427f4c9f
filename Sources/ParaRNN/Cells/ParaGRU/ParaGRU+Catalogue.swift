extension ParaGRU: CatalogueCell {
    /// `A` `[3, d]` (z, r, h), `B` `[H, m/H, 3, d/H]`, `b` `[3, d]`.
    public static var schema: CellSchema { CellSchema(name: "paragru", gates: 3, naming: .paraRNN) }

    public static func make<T: CellMath>(_ t: CellTensors, as _: T.Type) throws(CellError) -> any RecurrentCell<T> {
        try ParaGRU<T>(tensors: t)
    }

    public static func trainableType<T: CellMath>(_: T.Type) -> (any TrainableCell<T>.Type)? { ParaGRU<T>.self }
}
