import ParaRNN
import SequenceIO

/// How ``ModelFile`` reads a file: which recurrent module, and what a state dict cannot say.
///
///     let model = try ModelFile.load(contentsOf: url, options: LoadOptions(module: "encoder.rnn"))
public struct LoadOptions: Sendable, Equatable {
    /// The prefix of the recurrent module to use (`"encoder.rnn"` or `"encoder.rnn."`) when the
    /// file holds several; `nil` picks the only one.
    public var module: String?
    /// The activation of an `nn.RNN` (`nonlinearity="relu"` cannot be told from the weights);
    /// `nil`: `__metadata__["nonlinearity"]`, else tanh (PyTorch's default).
    public var nonlinearity: Nonlinearity?

    public init(module: String? = nil, nonlinearity: Nonlinearity? = nil) {
        self.module = module
        self.nonlinearity = nonlinearity
    }
}

/// One PyTorch recurrent parameter name, split: `encoder.rnn.weight_hh_l1_reverse` →
/// prefix `encoder.rnn.`, parameter `weight_hh_reverse`, layer 1; `cell.weight_ih` (an
/// `nn.GRUCell` / `LSTMCell` / `RNNCell`) → layer nil.
struct TorchName {
    static let bases = ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"]
    let prefix: String
    let parameter: String
    let layer: Int?
    /// The layer index as written, when it is not below ``ModelFile/maximumLayerCount``.
    var oversizedIndex: String? = nil

    /// nil when `key` is no recurrent parameter name.
    init?(_ key: String) {
        let leaf: Substring
        if let dot = key.lastIndex(of: ".") {
            prefix = String(key[...dot])
            leaf = key[key.index(after: dot)...]
        } else {
            prefix = ""
            leaf = Substring(key)
        }
        guard let base = Self.bases.first(where: { leaf.hasPrefix($0) }) else { return nil }
        var rest = leaf.dropFirst(base.count)
        if rest.isEmpty {
            parameter = base
            layer = nil
            return
        }
        guard rest.hasPrefix("_l") else { return nil }
        rest = rest.dropFirst(2)
        var reverse = false
        if rest.hasSuffix("_reverse") {
            reverse = true
            rest = rest.dropLast(8)
        }
        // Digits only, no sign or leading zeros; an index past the layer limit (Int.max
        // included) is kept as the limit, so the loader names it instead of overflowing.
        guard !rest.isEmpty, rest.allSatisfy({ $0.isASCII && $0.isNumber }),
            rest == "0" || rest.first != "0"
        else { return nil }
        let l = rest.count <= 9 ? Int(rest)! : ModelFile.maximumLayerCount
        if l >= ModelFile.maximumLayerCount { oversizedIndex = String(rest) }
        parameter = base + (reverse ? "_reverse" : "")
        layer = l
    }

    /// Whether `key`'s last part starts like a recurrent parameter (for typos under the module).
    static func looksRecurrent(_ key: String) -> Bool {
        let leaf = key.split(separator: ".", omittingEmptySubsequences: false).last ?? ""
        return bases.contains { leaf.hasPrefix($0) }
    }
}

extension ModelFile {
    /// Decodes a PyTorch state dict (`nn.GRU` / `nn.LSTM` / `nn.RNN`, their `*Cell` variants, at
    /// the top or under a submodule prefix), inferring the cell from names and shapes.
    static func decodeTorch(
        _ file: SafeTensors.File, name: String, options: LoadOptions
    ) throws(ModelError) -> Model {
        var declared: CellKind? = nil
        if let text = file.metadata["cell"] {
            let lower = text.lowercased()
            guard let kind = lower == "rnn" ? CellKind.elman : CellKind(rawValue: lower) else {
                throw .unknownCell(file: name, name: text)
            }
            declared = kind
        }
        // The recurrent modules, by prefix.
        var modules: [String: [String: (TorchName, Tensor)]] = [:]
        for (key, tensor) in file.tensors {
            guard let parsed = TorchName(key) else { continue }
            if let index = parsed.oversizedIndex {
                throw .inconsistent(
                    file: name,
                    detail:
                        "tensor '\(key)' names layer \(index); layers are numbered 0, 1, … and a model has at most \(maximumLayerCount)"
                )
            }
            modules[parsed.prefix, default: [:]][key] = (parsed, tensor)
        }
        let found = modules.keys.sorted()
        if found.isEmpty {
            if declared != nil { throw .missingTensor(file: name, tensor: "weight_ih_l0") }
            throw .missingCell(file: name)
        }
        let prefix: String
        if let wanted = options.module {
            let normalised = wanted.isEmpty || wanted.hasSuffix(".") ? wanted : wanted + "."
            guard modules[normalised] != nil else {
                throw .moduleNotFound(file: name, module: wanted, modules: found)
            }
            prefix = normalised
        } else {
            guard found.count == 1 else { throw .ambiguousModule(file: name, modules: found) }
            prefix = found[0]
        }
        let entries = modules[prefix]!
        // Names under the module that look recurrent but do not parse are typos, not other modules.
        for key in file.tensors.keys.sorted() where key.hasPrefix(prefix) && entries[key] == nil {
            let leaf = key.dropFirst(prefix.count)
            if !leaf.contains("."), TorchName.looksRecurrent(key) {
                throw .unexpectedTensor(file: name, tensor: key)
            }
        }
        // Layers; the *Cell variant has no `_l{k}` and is one layer.
        let cellVariant = entries.values.contains { $0.0.layer == nil }
        if cellVariant, let layered = entries.keys.sorted().first(where: { entries[$0]!.0.layer != nil }) {
            throw .unexpectedTensor(file: name, tensor: layered)
        }
        var byLayer: [Int: [String: ParameterTensor]] = [:]
        for (_, (parsed, tensor)) in entries {
            byLayer[parsed.layer ?? 0, default: [:]][parsed.parameter] = ParameterTensor(
                shape: tensor.shape, values: tensor.asDouble())
        }
        let indices = byLayer.keys.sorted()
        // Layers must be 0, 1, …: the first gap is reported as that layer's missing weight_hh.
        let count = indices.enumerated().first { $0.offset != $0.element }?.offset ?? indices.count
        func naming(_ layer: Int) -> (String) -> String {
            { p in
                if cellVariant { return prefix + p }
                return prefix + CellKind.gru.fileName(of: p, layer: layer, layers: 2)
            }
        }
        // The cell, from layer 0's recurrent weights: [G·d, d] (or [G·d, p] with weight_hr [p, d]).
        let first = byLayer[0] ?? [:]
        let whhName = naming(0)("weight_hh")
        guard let whh = first["weight_hh"] else { throw .missingTensor(file: name, tensor: whhName) }
        let d =
            first["weight_hr"].flatMap { $0.shape.count == 2 ? $0.shape[1] : nil }
            ?? (whh.shape.count == 2 ? whh.shape[1] : 0)
        let rows = whh.shape.first ?? 0
        let inferred: CellKind
        switch (whh.shape.count == 2 && d > 0 && rows % d == 0) ? rows / d : 0 {
        case 3: inferred = .gru
        case 4: inferred = .lstm
        case 1: inferred = .elman
        default:
            throw .wrongShape(
                file: name, tensor: whhName, shape: whh.shape,
                detail:
                    "expected [G·d, d] with G = 3 (GRU), 4 (LSTM) or 1 (RNN)\(first["weight_hr"] != nil ? ", d = \(d) from weight_hr" : "")"
            )
        }
        if let declared, declared != inferred {
            let g = declared.gates
            let columns = first["weight_hr"] == nil ? "d" : "p"
            throw .wrongShape(
                file: name, tensor: whhName, shape: whh.shape,
                detail:
                    "expected [\(g)·d, \(columns)] for \(declared) (\(g) gate rows) as __metadata__ \"cell\": \"\(file.metadata["cell"]!)\" says, but \(rows) = \(rows / d)·\(d) rows describe \(inferred == .elman ? "an RNN (elman)" : "a " + inferred.rawValue)"
            )
        }
        if inferred != .lstm, first["weight_hr"] != nil {
            throw .unexpectedTensor(file: name, tensor: naming(0)("weight_hr"))
        }
        // The activation.
        var nonlinearity = Nonlinearity.tanh
        let fromMetadata = file.metadata["nonlinearity"]
        if let fromMetadata {
            guard let value = Nonlinearity(rawValue: fromMetadata.lowercased()) else {
                throw .inconsistent(
                    file: name,
                    detail: "__metadata__ \"nonlinearity\": \"\(fromMetadata)\" is neither \"tanh\" nor \"relu\"")
            }
            nonlinearity = value
        }
        if let option = options.nonlinearity {
            if let fromMetadata, option.rawValue != fromMetadata.lowercased() {
                throw .inconsistent(
                    file: name,
                    detail:
                        "nonlinearity \(option) was asked for but __metadata__ says \"nonlinearity\": \"\(fromMetadata)\""
                )
            }
            nonlinearity = option
        }
        if inferred != .elman, nonlinearity != .tanh {
            throw .inconsistent(
                file: name,
                detail:
                    "nonlinearity \(nonlinearity) applies only to nn.RNN, but the tensors describe a \(inferred.rawValue)"
            )
        }
        if let text = file.metadata["layers"] {
            guard let n = Int(text), n == count, count == indices.count else {
                throw .inconsistent(
                    file: name,
                    detail:
                        "__metadata__ says \"layers\": \"\(text)\" but the tensors describe \(indices.count) layer\(indices.count == 1 ? "" : "s")"
                )
            }
        }
        var layers: [ModelLayer] = []
        for l in 0...min(count, indices.count - 1) {
            layers.append(
                try ModelLayer(
                    kind: inferred, parameters: byLayer[l] ?? [:], file: name, nonlinearity: nonlinearity,
                    naming: naming(l)))
        }
        for (l, layer) in layers.enumerated() where layer.directions != layers[0].directions {
            throw .missingTensor(
                file: name, tensor: naming(l)(layer.directions == 1 ? "weight_ih_reverse" : "weight_ih"))
        }
        if let text = file.metadata["input_size"], text != String(layers[0].inputSize) {
            throw .inconsistent(
                file: name,
                detail:
                    "__metadata__ says \"input_size\": \"\(text)\" but the weights take \(layers[0].inputSize) inputs")
        }
        if let text = file.metadata["hidden_size"], text != String(layers[layers.count - 1].hiddenSize) {
            throw .inconsistent(
                file: name,
                detail:
                    "__metadata__ says \"hidden_size\": \"\(text)\" but the weights have \(layers[layers.count - 1].hiddenSize) channels"
            )
        }
        var model = try Model(kind: inferred, layers: layers, sourceName: name)
        model.module = prefix
        var ignored = file.tensors.keys.filter { entries[$0] == nil }
        if prefix.isEmpty {
            model.readout = try decodeReadout(file, name: name, hidden: model.outputSize, inputs: model.inputSize)
            ignored.removeAll { $0.hasPrefix("readout.") }
        }
        model.ignoredTensors = ignored.sorted()
        return model
    }
}
