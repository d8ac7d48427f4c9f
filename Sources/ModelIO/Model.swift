import ParaRNN
import SequenceIO

/// The cells a model file can hold (`__metadata__["cell"]`).
public enum CellKind: String, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case paragru, paralstm, gru, lstm, elman

    /// "paragru", "paralstm", "gru", "lstm", "elman".
    public static var allNames: String { allCases.map(\.rawValue).joined(separator: ", ") }

    public var description: String { rawValue }

    /// Whether the cell uses ParaRNN's tensors (`A`, `B`, `b`, `C`) rather than PyTorch's.
    public var isDiagonal: Bool { self == .paragru || self == .paralstm }

    /// Gate rows G of the input projection.
    public var gates: Int {
        switch self {
        case .paragru, .paralstm, .gru: return 3
        case .lstm: return 4
        case .elman: return 1
        }
    }

    /// The tensor names of one layer, without the layer prefix/suffix.
    public var parameterNames: [String] {
        switch self {
        case .paragru: return ["A", "B", "b"]
        case .paralstm: return ["A", "B", "C", "b"]
        case .gru, .lstm, .elman: return ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
        }
    }

    /// The name a layer's parameter has in a file of `layers` layers: ParaRNN cells use
    /// `A` (one layer) or `layers.{l}.A`; PyTorch cells always `weight_ih_l{l}`.
    public func fileName(of parameter: String, layer: Int, layers: Int) -> String {
        if isDiagonal { return layers == 1 ? parameter : "layers.\(layer).\(parameter)" }
        return "\(parameter)_l\(layer)"
    }
}

/// One parameter tensor: a shape and row-major values (in Double, whatever the file held).
public struct ParameterTensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Double]

    public init(shape: [Int], values: [Double]) {
        self.shape = shape
        self.values = values
    }
}

/// One layer of a model: validated parameters and the sizes inferred from their shapes.
public struct ModelLayer: Sendable, Equatable {
    public let kind: CellKind
    /// m: input features.
    public let inputSize: Int
    /// d: hidden channels (the output size).
    public let hiddenSize: Int
    /// H: heads of ParaRNN's block-diagonal input projection (1 for dense cells).
    public let heads: Int
    /// Parameters by their per-layer name (``CellKind/parameterNames``).
    public let parameters: [String: ParameterTensor]

    /// Validates the parameters of a layer of `kind`; errors name `file` and the tensor as it is
    /// (or would be) called in the file.
    public init(
        kind: CellKind, parameters: [String: ParameterTensor], file: String = "",
        layer: Int = 0, layers: Int = 1
    ) throws(ModelError) {
        func full(_ p: String) -> String { kind.fileName(of: p, layer: layer, layers: layers) }
        func get(_ p: String) throws(ModelError) -> ParameterTensor {
            guard let t = parameters[p] else { throw .missingTensor(file: file, tensor: full(p)) }
            guard t.values.count == t.shape.reduce(1, *) else {
                throw .wrongShape(file: file, tensor: full(p), shape: t.shape,
                                  detail: "holds \(t.values.count) values")
            }
            if let bad = t.values.firstIndex(where: { !$0.isFinite }) {
                throw .nonFinite(file: file, tensor: full(p), index: bad)
            }
            return t
        }
        for name in parameters.keys.sorted() where !kind.parameterNames.contains(name) {
            throw .unexpectedTensor(file: file, tensor: full(name))
        }
        func expect(_ p: String, _ t: ParameterTensor, _ shape: [Int], _ why: String) throws(ModelError) {
            if t.shape != shape {
                throw .wrongShape(
                    file: file, tensor: full(p), shape: t.shape,
                    detail: "expected [\(shape.map(String.init).joined(separator: ", "))] (\(why))")
            }
        }
        let g = kind.gates
        var m = 0, d = 0, h = 1
        if kind.isDiagonal {
            let a = try get("A")
            guard a.shape.count == 2, a.shape[0] == 3, a.shape[1] > 0 else {
                throw .wrongShape(file: file, tensor: full("A"), shape: a.shape,
                                  detail: "expected [3, d] (rows of the diagonal recurrent gains)")
            }
            d = a.shape[1]
            let bt = try get("B")
            guard bt.shape.count == 4, bt.shape[0] > 0, bt.shape[2] == 3 else {
                throw .wrongShape(file: file, tensor: full("B"), shape: bt.shape,
                                  detail: "expected [H, m/H, 3, d/H] (heads, inputs per head, gates, channels per head)")
            }
            h = bt.shape[0]
            if d % h != 0 {
                throw .wrongShape(file: file, tensor: full("B"), shape: bt.shape,
                                  detail: "H = \(h) heads do not divide the hidden size d = \(d) (from A)")
            }
            try expect("B", bt, [h, bt.shape[1], 3, d / h], "d = \(d) from A, H = \(h) heads")
            m = h * bt.shape[1]
            try expect("b", try get("b"), [3, d], "d = \(d) from A")
            if kind == .paralstm { try expect("C", try get("C"), [2, d], "peepholes, d = \(d) from A") }
        } else {
            let whh = try get("weight_hh")
            guard whh.shape.count == 2, whh.shape[1] > 0, whh.shape[0] == g * whh.shape[1] else {
                throw .wrongShape(file: file, tensor: full("weight_hh"), shape: whh.shape,
                                  detail: "expected [\(g)·d, d] for \(kind) (\(g) gate rows)")
            }
            d = whh.shape[1]
            let wih = try get("weight_ih")
            guard wih.shape.count == 2, wih.shape[0] == g * d else {
                throw .wrongShape(file: file, tensor: full("weight_ih"), shape: wih.shape,
                                  detail: "expected [\(g * d), m] (\(g)·d rows, d = \(d) from weight_hh)")
            }
            m = wih.shape[1]
            try expect("bias_ih", try get("bias_ih"), [g * d], "\(g)·d, d = \(d) from weight_hh")
            try expect("bias_hh", try get("bias_hh"), [g * d], "\(g)·d, d = \(d) from weight_hh")
        }
        self.kind = kind
        inputSize = m
        hiddenSize = d
        heads = h
        self.parameters = parameters
    }

    func values<S: BinaryFloatingPoint>(_ name: String, as _: S.Type) -> [S] {
        parameters[name]!.values.map { S($0) }
    }
}

/// A model: a stack of layers of one cell kind; layer l + 1 reads layer l's hidden output.
public struct Model: Sendable, Equatable {
    public let kind: CellKind
    public let layers: [ModelLayer]
    /// The file it came from (for error messages); empty for models built in memory.
    public var sourceName: String
    /// The readout and input normalisation of a trained model (`pararnn fit`), if any.
    public var readout: Readout? = nil

    /// Checks that the layers chain (layer l + 1's input size is layer l's hidden size).
    public init(kind: CellKind, layers: [ModelLayer], sourceName: String = "") throws(ModelError) {
        if layers.isEmpty { throw .inconsistent(file: sourceName, detail: "a model needs at least one layer") }
        for (l, layer) in layers.enumerated() {
            if layer.kind != kind {
                throw .inconsistent(file: sourceName, detail: "layer \(l) is a \(layer.kind), the model a \(kind)")
            }
            if l > 0, layer.inputSize != layers[l - 1].hiddenSize {
                throw .inconsistent(
                    file: sourceName,
                    detail: "layer \(l) expects \(layer.inputSize) inputs but layer \(l - 1) outputs \(layers[l - 1].hiddenSize) channels")
            }
        }
        self.kind = kind
        self.layers = layers
        self.sourceName = sourceName
    }

    /// m of the first layer.
    public var inputSize: Int { layers[0].inputSize }
    /// d of the last layer.
    public var hiddenSize: Int { layers[layers.count - 1].hiddenSize }

    /// A one-line description, e.g. `paragru, 1 layer: 1 → 8 (H = 1)`.
    public var summary: String {
        var sizes = "\(inputSize)"
        for layer in layers { sizes += " → \(layer.hiddenSize)" }
        let heads = kind.isDiagonal ? " (H = \(layers.map { String($0.heads) }.joined(separator: ", ")))" : ""
        return "\(kind), \(layers.count) layer\(layers.count == 1 ? "" : "s"): \(sizes)\(heads)"
    }

    /// The typed cells of the layers, parameters converted to `S`.
    public func cells<S: CellMath>(as _: S.Type) throws(ModelError) -> [AnyLayer<S>] {
        var out: [AnyLayer<S>] = []
        for (l, layer) in layers.enumerated() {
            do {
                out.append(try AnyLayer<S>(layer))
            } catch {
                throw .cell(file: sourceName, layer: l, error)
            }
        }
        return out
    }
}
