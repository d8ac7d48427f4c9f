extension GRU: CatalogueCell {
    public static var schema: CellSchema { CellSchema(name: "gru", gates: 3, naming: .pytorch) }

    public static func make<T: CellMath>(_ t: CellTensors, as _: T.Type) throws(CellError) -> any RecurrentCell<T> {
        try GRU<T>(tensors: t)
    }

    public static func trainableType<T: CellMath>(_: T.Type) -> (any TrainableCell<T>.Type)? { GRU<T>.self }
}
