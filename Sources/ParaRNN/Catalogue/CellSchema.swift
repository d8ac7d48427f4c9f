/// How a cell's tensors are named and shaped in a model file.
public enum TensorNaming: String, Sendable, Codable {
    /// ParaRNN's diagonal cells: `A` `[G, d]` (diagonal recurrent gains, one row per gate),
    /// `B` `[H, m/H, G, d/H]` (block-diagonal multi-head input projection), `b` `[G, d]`, plus the
    /// schema's ``CellSchema/channelTensors`` (e.g. ParaLSTM's peepholes `C` `[2, d]`). One layer:
    /// plain names; several: `layers.{l}.A`.
    case paraRNN
    /// PyTorch's `nn.GRU` / `nn.LSTM` / `nn.RNN`: `weight_ih_l{l}` `[G·d, m]`, `weight_hh_l{l}`
    /// `[G·d, d]`, `bias_ih_l{l}`, `bias_hh_l{l}` `[G·d]` (and `_reverse` twins, `weight_hr`).
    case pytorch
}

/// An extra per-channel tensor of a ParaRNN-style cell: `rows` × d values.
public struct ChannelTensor: Sendable, Equatable {
    public var name: String
    public var rows: Int
    /// What the rows are, for error messages ("peepholes").
    public var meaning: String

    public init(name: String, rows: Int, meaning: String) {
        (self.name, self.rows, self.meaning) = (name, rows, meaning)
    }
}

/// What the catalogue knows about a cell type: its model-file name, gate count and tensors.
///
///     let schema = CellSchema(name: "paralstm", gates: 3, naming: .paraRNN,
///                             channelTensors: [ChannelTensor(name: "C", rows: 2, meaning: "peepholes")])
///     schema.parameterNames   // ["A", "B", "C", "b"]
public struct CellSchema: Sendable, Equatable {
    /// The `__metadata__["cell"]` name (lower case).
    public var name: String
    /// Gate rows G of the input projection (`A` has G rows for ParaRNN-style cells).
    public var gates: Int
    public var naming: TensorNaming
    /// ParaRNN-style cells: tensors beyond `A`, `B`, `b` (each `[rows, d]`).
    public var channelTensors: [ChannelTensor]
    /// Whether `fit` can train it (its type conforms to ``TrainableCell`` and
    /// ``CatalogueCell/trainableType(_:)`` returns it).
    public var trainable: Bool

    public init(
        name: String, gates: Int, naming: TensorNaming, channelTensors: [ChannelTensor] = [],
        trainable: Bool = true
    ) {
        self.name = name.lowercased()
        self.gates = gates
        self.naming = naming
        self.channelTensors = channelTensors
        self.trainable = trainable
    }

    /// The tensor names of one layer, without layer prefix/suffix: `A`, `B`, extras, `b` for
    /// ParaRNN-style cells; `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh` for PyTorch ones.
    public var parameterNames: [String] {
        switch naming {
        case .paraRNN: return ["A", "B"] + channelTensors.map(\.name) + ["b"]
        case .pytorch: return ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
        }
    }
}
