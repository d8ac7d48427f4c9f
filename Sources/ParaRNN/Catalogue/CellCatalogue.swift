import Synchronization

/// The one list of cell types: model files, `pararnn solve`/`fit`, the harness and the bench
/// derive the cells they know from here. Built-in cells are listed below; a user cell joins
/// with one call and then loads, solves and fits like a built-in one.
///
///     try CellCatalogue.register(MinimalGRU<Double>.self)   // any precision names the family
///     let kind = CellKind(rawValue: "mingru")!              // now known to model files
public enum CellCatalogue {
    /// One registered cell type.
    public struct Entry: @unchecked Sendable {
        public let schema: CellSchema
        /// The conforming type (in whichever precision it was registered; ``make(_:as:)``
        /// builds any precision).
        public let type: any CatalogueCell.Type

        /// Builds the cell in precision `T`.
        public func make<T: CellMath>(_ tensors: CellTensors, as _: T.Type) throws(CellError) -> any RecurrentCell<T> {
            try type.make(tensors, as: T.self)
        }

        /// The trainable cell type in precision `T`, if the cell can be trained.
        public func trainableType<T: CellMath>(_: T.Type) -> (any TrainableCell<T>.Type)? {
            type.trainableType(T.self)
        }
    }

    /// The built-in cells, in the order lists and help texts show them.
    static let builtIn: [any CatalogueCell.Type] = [
        ParaGRU<Double>.self,
        ParaLSTM<Double>.self,
        GRU<Double>.self,
        LSTM<Double>.self,
        ElmanRNN<Double>.self,
        ParaSLSTM<Double>.self,
    ]

    private static let registered = Mutex<[Entry]>(builtIn.map { Entry(schema: $0.schema, type: $0) })

    /// Every registered cell, built-in ones first.
    public static var entries: [Entry] { registered.withLock { $0 } }

    /// The cell registered as `name` (case-insensitive), if any.
    public static func entry(named name: String) -> Entry? {
        let key = name.lowercased()
        return registered.withLock { list in list.first { $0.schema.name == key } }
    }

    /// Adds a cell type. Registering the same schema again is harmless; another schema under a
    /// registered name is refused.
    public static func register(_ type: any CatalogueCell.Type) throws(CellError) {
        let schema = type.schema
        if schema.name.isEmpty || schema.gates <= 0 {
            throw .invalidShape(
                "a catalogue cell needs a name and at least one gate (got \"\(schema.name)\", \(schema.gates))")
        }
        let conflict: CellSchema? = registered.withLock { list in
            if let existing = list.first(where: { $0.schema.name == schema.name }) {
                return existing.schema == schema ? nil : existing.schema
            }
            list.append(Entry(schema: schema, type: type))
            return nil
        }
        if conflict != nil {
            throw .invalidShape("a different cell is already registered as \"\(schema.name)\"")
        }
    }
}
