import ParaRNN
import SequenceIO

/// The activation of an Elman RNN (`nn.RNN(nonlinearity=…)`); a state dict cannot tell them
/// apart, so it comes from `__metadata__["nonlinearity"]` or ``LoadOptions/nonlinearity``.
public enum Nonlinearity: String, Sendable, CaseIterable, Codable {
    case tanh, relu
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
    /// Parameters by their per-layer name (``CellKind/parameterNames``; PyTorch cells also
    /// `weight_hr` (projections) and the `_reverse` twins of a bidirectional layer).
    /// Absent PyTorch biases (`bias=False`) are held as zeros.
    public let parameters: [String: ParameterTensor]
    /// The Elman activation (tanh for every other cell).
    public var nonlinearity: Nonlinearity = .tanh
    /// p of an LSTM with projections (`proj_size`, tensor `weight_hr`): h has p values.
    public let projectionSize: Int?
    /// 1, or 2 for a bidirectional PyTorch layer (`*_reverse` tensors).
    public let directions: Int
    /// The size of the layer's output (what the next layer reads): (p or d) × directions.
    public var outputSize: Int { (projectionSize ?? hiddenSize) * directions }

    /// Validates the parameters of a layer of `kind`; errors name `file` and the tensor as it is
    /// (or would be) called in the file.
    ///
    ///     let layer = try ModelLayer(kind: .gru, parameters: ["weight_ih": wih, "weight_hh": whh])
    public init(
        kind: CellKind, parameters: [String: ParameterTensor], file: String = "",
        layer: Int = 0, layers: Int = 1, nonlinearity: Nonlinearity = .tanh
    ) throws(ModelError) {
        try self.init(
            kind: kind, parameters: parameters, file: file, nonlinearity: nonlinearity,
            naming: { kind.fileName(of: $0, layer: layer, layers: layers) })
    }

    /// The validation, with `naming` giving a parameter's name in the file.
    init(
        kind: CellKind, parameters: [String: ParameterTensor], file: String,
        nonlinearity: Nonlinearity, naming: (String) -> String
    ) throws(ModelError) {
        func full(_ p: String) -> String { naming(p) }
        var parameters = parameters
        func get(_ p: String) throws(ModelError) -> ParameterTensor {
            guard let t = parameters[p] else { throw .missingTensor(file: file, tensor: full(p)) }
            guard t.values.count == t.shape.reduce(1, *) else {
                throw .wrongShape(
                    file: file, tensor: full(p), shape: t.shape,
                    detail: "holds \(t.values.count) values")
            }
            if let bad = t.values.firstIndex(where: { !$0.isFinite }) {
                throw .nonFinite(file: file, tensor: full(p), index: bad)
            }
            return t
        }
        let reversed = !kind.isDiagonal && parameters.keys.contains { $0.hasSuffix("_reverse") }
        let projected = kind == .lstm && parameters["weight_hr"] != nil
        var allowed = kind.parameterNames + (projected ? ["weight_hr"] : [])
        if reversed { allowed += allowed.map { $0 + "_reverse" } }
        for name in parameters.keys.sorted() where !allowed.contains(name) {
            throw .unexpectedTensor(file: file, tensor: full(name))
        }
        var p: Int? = nil
        func expect(_ p: String, _ t: ParameterTensor, _ shape: [Int], _ why: String) throws(ModelError) {
            if t.shape != shape {
                throw .wrongShape(
                    file: file, tensor: full(p), shape: t.shape,
                    detail: "expected [\(shape.map(String.init).joined(separator: ", "))] (\(why))")
            }
        }
        let g = kind.gates
        var m = 0
        var d = 0
        var h = 1
        if kind.isDiagonal {
            let a = try get("A")
            guard a.shape.count == 2, a.shape[0] == g, a.shape[1] > 0 else {
                throw .wrongShape(
                    file: file, tensor: full("A"), shape: a.shape,
                    detail: "expected [\(g), d] (rows of the diagonal recurrent gains)")
            }
            d = a.shape[1]
            let bt = try get("B")
            guard bt.shape.count == 4, bt.shape[0] > 0, bt.shape[2] == g else {
                throw .wrongShape(
                    file: file, tensor: full("B"), shape: bt.shape,
                    detail: "expected [H, m/H, \(g), d/H] (heads, inputs per head, gates, channels per head)")
            }
            h = bt.shape[0]
            if d % h != 0 {
                throw .wrongShape(
                    file: file, tensor: full("B"), shape: bt.shape,
                    detail: "H = \(h) heads do not divide the hidden size d = \(d) (from A)")
            }
            try expect("B", bt, [h, bt.shape[1], g, d / h], "d = \(d) from A, H = \(h) heads")
            m = h * bt.shape[1]
            try expect("b", try get("b"), [g, d], "d = \(d) from A")
            for extra in kind.schema.channelTensors {
                try expect(extra.name, try get(extra.name), [extra.rows, d], "\(extra.meaning), d = \(d) from A")
            }
        } else {
            for index in 0..<(reversed ? 2 : 1) {
                let s = index == 0 ? "" : "_reverse"
                let whh = try get("weight_hh" + s)
                if projected {
                    let whr = try get("weight_hr" + s)
                    guard whr.shape.count == 2, whr.shape[0] > 0, whr.shape[1] > 0,
                        index == 0 || whr.shape == [p!, d]
                    else {
                        throw .wrongShape(
                            file: file, tensor: full("weight_hr" + s), shape: whr.shape,
                            detail: index == 0
                                ? "expected [p, d] (projection size × hidden size)"
                                : "expected [\(p!), \(d)] (as the forward direction)")
                    }
                    if index == 0 { (p, d) = (whr.shape[0], whr.shape[1]) }
                    try expect(
                        "weight_hh" + s, whh, [g * d, p!], "\(g)·d rows, p columns; p = \(p!), d = \(d) from weight_hr")
                } else if index == 0 {
                    guard whh.shape.count == 2, whh.shape[1] > 0, whh.shape[0] == g * whh.shape[1] else {
                        throw .wrongShape(
                            file: file, tensor: full("weight_hh"), shape: whh.shape,
                            detail: "expected [\(g)·d, d] for \(kind) (\(g) gate rows)")
                    }
                    d = whh.shape[1]
                } else {
                    try expect("weight_hh" + s, whh, [g * d, d], "\(g)·d, d = \(d) from the forward weight_hh")
                }
                let wih = try get("weight_ih" + s)
                guard wih.shape.count == 2, wih.shape[0] == g * d, index == 0 || wih.shape[1] == m else {
                    throw .wrongShape(
                        file: file, tensor: full("weight_ih" + s), shape: wih.shape,
                        detail: index == 0
                            ? "expected [\(g * d), m] (\(g)·d rows, d = \(d) from weight_hh)"
                            : "expected [\(g * d), \(m)] (as the forward direction)")
                }
                m = wih.shape[1]
                // nn.*(bias=False) has no biases: zeros. Half of them is an error.
                let biases = ["bias_ih" + s, "bias_hh" + s]
                if biases.allSatisfy({ parameters[$0] == nil }) {
                    for b in biases {
                        parameters[b] = ParameterTensor(shape: [g * d], values: [Double](repeating: 0, count: g * d))
                    }
                }
                try expect("bias_ih" + s, try get("bias_ih" + s), [g * d], "\(g)·d, d = \(d) from weight_hh")
                try expect("bias_hh" + s, try get("bias_hh" + s), [g * d], "\(g)·d, d = \(d) from weight_hh")
            }
        }
        self.kind = kind
        inputSize = m
        hiddenSize = d
        heads = h
        projectionSize = p
        directions = reversed ? 2 : 1
        self.nonlinearity = kind == .elman ? nonlinearity : .tanh
        self.parameters = parameters
    }

    /// The parameters and sizes a catalogue cell is built from; `suffix` picks a direction's
    /// tensors (`"_reverse"`), named without it.
    public func tensors(suffix: String = "") -> CellTensors {
        var own: [String: ParameterTensor] = [:]
        for (name, tensor) in parameters where suffix.isEmpty ? !name.hasSuffix("_reverse") : name.hasSuffix(suffix) {
            own[String(name.dropLast(suffix.count))] = tensor
        }
        return CellTensors(
            inputSize: inputSize, hiddenSize: hiddenSize, heads: heads, projectionSize: projectionSize,
            nonlinearity: nonlinearity.rawValue, parameters: own)
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
    /// The recurrent module's prefix in a PyTorch state dict (`"encoder.rnn."`; empty at the top).
    public var module: String = ""
    /// Tensors of the file that are not part of the model (e.g. `head.weight`), sorted.
    public var ignoredTensors: [String] = []

    /// Checks that the layers chain (layer l + 1's input size is layer l's hidden size).
    public init(kind: CellKind, layers: [ModelLayer], sourceName: String = "") throws(ModelError) {
        if layers.isEmpty { throw .inconsistent(file: sourceName, detail: "a model needs at least one layer") }
        for (l, layer) in layers.enumerated() {
            if layer.kind != kind {
                throw .inconsistent(file: sourceName, detail: "layer \(l) is a \(layer.kind), the model a \(kind)")
            }
            if l > 0, layer.inputSize != layers[l - 1].outputSize {
                throw .inconsistent(
                    file: sourceName,
                    detail:
                        "layer \(l) expects \(layer.inputSize) inputs but layer \(l - 1) outputs \(layers[l - 1].outputSize) channels"
                )
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
    /// The size of the output h of the last layer: (p or d) × directions.
    public var outputSize: Int { layers[layers.count - 1].outputSize }
    /// 1, or 2 for a bidirectional PyTorch model.
    public var directions: Int { layers[0].directions }

    /// A one-line description, e.g. `paragru, 1 layer: 1 → 8 (H = 1)` or
    /// `lstm, bidirectional, 2 layers: 3 → 2×(6 → proj 3) → 2×(6 → proj 3)`.
    public var summary: String {
        var sizes = "\(inputSize)"
        for layer in layers {
            let one = layer.projectionSize.map { "\(layer.hiddenSize) → proj \($0)" } ?? "\(layer.hiddenSize)"
            sizes += layer.directions == 2 ? " → 2×\(layer.projectionSize == nil ? one : "(" + one + ")")" : " → \(one)"
        }
        let heads = kind.isDiagonal ? " (H = \(layers.map { String($0.heads) }.joined(separator: ", ")))" : ""
        var what = "\(kind)"
        if kind == .elman { what += " (\(layers[0].nonlinearity))" }
        if directions == 2 { what += ", bidirectional" }
        return "\(what), \(layers.count) layer\(layers.count == 1 ? "" : "s"): \(sizes)\(heads)"
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
