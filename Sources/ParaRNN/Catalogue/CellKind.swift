/// A cell type by its model-file name (`__metadata__["cell"]`): any cell in the
/// ``CellCatalogue``, built-in or registered.
///
///     let kind = CellKind(rawValue: "paragru")!     // nil for names nobody registered
///     kind.gates                                    // 3
///     kind.fileName(of: "A", layer: 1, layers: 2)   // "layers.1.A"
public struct CellKind: RawRepresentable, Hashable, Sendable, Codable, CaseIterable, Comparable,
    CustomStringConvertible
{
    /// The lower-case name.
    public let rawValue: String

    /// The registered cell of that name (case-insensitive), or nil.
    public init?(rawValue: String) {
        guard let entry = CellCatalogue.entry(named: rawValue) else { return nil }
        self.rawValue = entry.schema.name
    }

    private init(builtIn name: String) { rawValue = name }

    public static let paragru = CellKind(builtIn: "paragru")
    public static let paralstm = CellKind(builtIn: "paralstm")
    public static let gru = CellKind(builtIn: "gru")
    public static let lstm = CellKind(builtIn: "lstm")
    public static let elman = CellKind(builtIn: "elman")
    /// xLSTM's sLSTM with diagonal recurrence (``ParaSLSTM``): `A` `[4, d]`, `B` `[H, m/H, 4, d/H]`, `b` `[4, d]`.
    public static let paraslstm = CellKind(builtIn: "paraslstm")

    /// Every registered cell (built-in first).
    public static var allCases: [CellKind] { CellCatalogue.entries.map { CellKind(builtIn: $0.schema.name) } }

    /// The cells that come with the package (whatever else has been registered).
    public static var builtIn: [CellKind] { CellCatalogue.builtIn.map { CellKind(builtIn: $0.schema.name) } }

    /// "paragru, paralstm, gru, lstm, elman, paraslstm" and any registered names.
    public static var allNames: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// The catalogue entry (always present: a kind exists only for registered names).
    public var entry: CellCatalogue.Entry {
        guard let entry = CellCatalogue.entry(named: rawValue) else {
            preconditionFailure("cell \(rawValue) is not in the catalogue")
        }
        return entry
    }

    public var schema: CellSchema { entry.schema }
    public var description: String { rawValue }

    /// Whether the cell uses ParaRNN's tensors (`A`, `B`, `b`, …) rather than PyTorch's.
    public var isDiagonal: Bool { schema.naming == .paraRNN }
    /// Gate rows G of the input projection.
    public var gates: Int { schema.gates }
    /// The tensor names of one layer, without the layer prefix/suffix.
    public var parameterNames: [String] { schema.parameterNames }

    /// The name a layer's parameter has in a file of `layers` layers: ParaRNN cells use
    /// `A` (one layer) or `layers.{l}.A`; PyTorch cells always `weight_ih_l{l}`.
    public func fileName(of parameter: String, layer: Int, layers: Int) -> String {
        if isDiagonal { return layers == 1 ? parameter : "layers.\(layer).\(parameter)" }
        if parameter.hasSuffix("_reverse") { return "\(parameter.dropLast(8))_l\(layer)_reverse" }
        return "\(parameter)_l\(layer)"
    }

    /// Catalogue order.
    public static func < (l: CellKind, r: CellKind) -> Bool {
        let names = CellCatalogue.entries.map(\.schema.name)
        return (names.firstIndex(of: l.rawValue) ?? .max) < (names.firstIndex(of: r.rawValue) ?? .max)
    }
}
