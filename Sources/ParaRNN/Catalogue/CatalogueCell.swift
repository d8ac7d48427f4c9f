/// A cell type the catalogue can build from a model file's tensors, write back, and (if
/// trainable) initialise for `fit`: everything the model files, the CLI, the harness and the
/// trainer need to know about a cell beyond ``RecurrentCell``.
///
/// A conformance states the schema once and says how to build the cell in any precision:
///
///     extension ParaGRU: CatalogueCell {
///         public static var schema: CellSchema { CellSchema(name: "paragru", gates: 3, naming: .paraRNN) }
///         public static func make<T: CellMath>(_ t: CellTensors, as _: T.Type) throws(CellError) -> any RecurrentCell<T> {
///             try ParaGRU<T>(inputSize: t.inputSize, hiddenSize: t.hiddenSize, heads: t.heads, A: t["A"], B: t["B"], b: t["b"])
///         }
///         public static func trainableType<T: CellMath>(_: T.Type) -> (any TrainableCell<T>.Type)? { ParaGRU<T>.self }
///         public var parameterTensors: [String: ParameterTensor] { … }
///     }
///
/// and one line registers it (``CellCatalogue/register(_:)``); the built-in cells are listed in
/// ``CellCatalogue``.
public protocol CatalogueCell: RecurrentCell {
    /// The name, gates and tensors of the cell type (the same for every precision).
    static var schema: CellSchema { get }
    /// Builds the cell in precision `T` from validated tensors (shapes already checked against
    /// ``schema``; the cell's initialiser checks the rest).
    static func make<T: CellMath>(_ tensors: CellTensors, as _: T.Type) throws(CellError) -> any RecurrentCell<T>
    /// The cell type in precision `T` if it can be trained (``TrainableCell``), else `nil`.
    static func trainableType<T: CellMath>(_: T.Type) -> (any TrainableCell<T>.Type)?
    /// The cell's parameters as a model file writes them (``CellSchema/parameterNames``;
    /// ParaRNN-style input projections with H = 1).
    var parameterTensors: [String: ParameterTensor] { get }
}

extension CatalogueCell {
    /// The model-file name is the schema's.
    public static var cellName: String { schema.name }

    public static func trainableType<T: CellMath>(_: T.Type) -> (any TrainableCell<T>.Type)? { nil }
}

extension RecurrentCell where Scalar: BinaryFloatingPoint {
    /// The tensors of a ParaRNN-style cell: `A` `[G, d]` (recurrent gains), `B` `[1, m, G, d]`,
    /// `b` `[G, d]` and the given channel tensors.
    public func paraRNNTensors(
        gains: [Scalar], channels: [String: (rows: Int, values: [Scalar])] = [:]
    ) -> [String: ParameterTensor] {
        let g = gateCount
        let d = hiddenSize
        var out: [String: ParameterTensor] = [
            "A": ParameterTensor(shape: [gains.count / d, d], gains),
            "B": .headProjection(inputWeights: inputWeights, inputSize: inputSize, hiddenSize: d, gates: g),
            "b": ParameterTensor(shape: [g, d], inputBias),
        ]
        for (name, tensor) in channels { out[name] = ParameterTensor(shape: [tensor.rows, d], tensor.values) }
        return out
    }
}
