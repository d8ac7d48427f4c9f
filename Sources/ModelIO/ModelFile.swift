import Foundation
import ParaRNN
import SequenceIO

/// Loading and saving models as `.safetensors` (names and shapes: `reference/cells.md`).
///
/// - ParaGRU / ParaLSTM: `A` [3, d], `B` [H, m/H, 3, d/H], `b` [3, d] (ParaLSTM: `C` [2, d]);
///   several layers use the prefix `layers.{l}.`.
/// - GRU / LSTM / Elman: PyTorch `nn.GRU` / `nn.LSTM` / `nn.RNN` state dicts as
///   `model.state_dict()` saves them: `weight_ih_l{l}`, `weight_hh_l{l}`, `bias_ih_l{l}`,
///   `bias_hh_l{l}` (biases optional), `weight_hr_l{l}` (LSTM `proj_size`), `*_reverse`
///   (bidirectional), the `nn.GRUCell`/`LSTMCell`/`RNNCell` names `weight_ih`, …, under any
///   submodule prefix (`encoder.rnn.`; ``LoadOptions/module`` picks one of several). The cell is
///   inferred from weight_hh's rows: 3·d GRU, 4·d LSTM, d RNN (tanh unless
///   `"nonlinearity": "relu"` or ``LoadOptions/nonlinearity``). Other tensors are listed in
///   ``Model/ignoredTensors``.
/// - `__metadata__`: `"cell"` (required for ParaRNN cells, checked for PyTorch ones); optional `"layers"`, `"heads"`, `"input_size"`,
///   `"hidden_size"` are checked against the shapes when present.
/// Float32 and float64 tensors are accepted; values are held in Double.
public enum ModelFile {
    /// The most layers a model file may describe (layer indices in tensor names are below it).
    public static let maximumLayerCount = 1024

    /// Reads and validates the model at `url`.
    ///
    ///     let model = try ModelFile.load(contentsOf: URL(fileURLWithPath: "gru.safetensors"))
    public static func load(contentsOf url: URL, options: LoadOptions = LoadOptions()) throws(ModelError) -> Model {
        let file: SafeTensors.File
        do { file = try SafeTensors.read(contentsOf: url) } catch { throw .io(error) }
        return try decode(file, name: url.lastPathComponent, options: options)
    }

    /// Validates a decoded safetensors file; `name` labels the errors. PyTorch state dicts
    /// (no `"cell"`, or `"cell"` gru / lstm / elman / rnn) go through the name-and-shape inference.
    public static func decode(
        _ file: SafeTensors.File, name: String, options: LoadOptions = LoadOptions()
    ) throws(ModelError) -> Model {
        let declared = file.metadata["cell"]?.lowercased()
        if declared == nil || declared == "rnn" || CellKind(rawValue: declared!)?.schema.naming == .pytorch {
            return try decodeTorch(file, name: name, options: options)
        }
        if options.nonlinearity == .relu {
            throw .inconsistent(
                file: name, detail: "nonlinearity relu applies only to nn.RNN, but the model is a \(declared!)")
        }
        if let module = options.module, !module.isEmpty {
            throw .inconsistent(
                file: name,
                detail:
                    "a module prefix ('\(module)') applies only to PyTorch state dicts, but the model is a \(declared!)"
            )
        }
        guard let cellName = file.metadata["cell"] else { throw .missingCell(file: name) }
        guard let kind = CellKind(rawValue: cellName.lowercased()) else {
            throw .unknownCell(file: name, name: cellName)
        }
        // Group the tensors by layer.
        var byLayer: [Int: [String: ParameterTensor]] = [:]
        var prefixed = false
        var plain = false
        for (key, tensor) in file.tensors where !key.hasPrefix("readout.") {
            guard let (layer, parameter, isPrefixed) = split(key, kind: kind) else {
                throw .unexpectedTensor(file: name, tensor: key)
            }
            if isPrefixed { prefixed = true } else { plain = true }
            byLayer[layer, default: [:]][parameter] = ParameterTensor(
                shape: tensor.shape, values: tensor.asDouble())
        }
        if kind.isDiagonal, prefixed, plain {
            let stray = file.tensors.keys.sorted().first { !$0.hasPrefix("layers.") } ?? ""
            throw .unexpectedTensor(file: name, tensor: stray)
        }
        // Layer indices come from tensor names: bound them before counting (an index near
        // Int.max would overflow the count and every loop over the layers).
        let highest = byLayer.keys.max() ?? -1
        if highest >= maximumLayerCount {
            let key = file.tensors.keys.sorted().first { split($0, kind: kind)?.0 == highest } ?? "\(highest)"
            throw .inconsistent(
                file: name,
                detail:
                    "tensor '\(key)' names layer \(highest); layers are numbered 0, 1, … and a model has at most \(maximumLayerCount)"
            )
        }
        let count = highest + 1
        if count == 0 {
            throw .missingTensor(file: name, tensor: kind.fileName(of: kind.parameterNames[0], layer: 0, layers: 1))
        }
        if let text = file.metadata["layers"] {
            guard let declared = Int(text), declared == count else {
                throw .inconsistent(
                    file: name,
                    detail:
                        "__metadata__ says \"layers\": \"\(text)\" but the tensors describe \(count) layer\(count == 1 ? "" : "s")"
                )
            }
        }
        // Name the file's own convention in errors: one ParaRNN layer has no prefix.
        let naming = kind.isDiagonal && !prefixed ? 1 : max(count, 2)
        var layers: [ModelLayer] = []
        for l in 0..<count {
            layers.append(
                try ModelLayer(
                    kind: kind, parameters: byLayer[l] ?? [:], file: name, layer: l, layers: naming))
        }
        if let text = file.metadata["heads"], kind.isDiagonal {
            for (l, layer) in layers.enumerated() where String(layer.heads) != text {
                let detail =
                    Int(text).map {
                        $0 > 0 && layer.hiddenSize % $0 != 0
                            ? "H = \($0) heads do not divide the hidden size d = \(layer.hiddenSize)" : ""
                    } ?? ""
                throw .inconsistent(
                    file: name,
                    detail:
                        "__metadata__ says \"heads\": \"\(text)\" but layer \(l)'s B has \(layer.heads)\(detail.isEmpty ? "" : ": " + detail)"
                )
            }
        }
        if let text = file.metadata["input_size"], text != String(layers[0].inputSize) {
            throw .inconsistent(
                file: name,
                detail:
                    "__metadata__ says \"input_size\": \"\(text)\" but the weights take \(layers[0].inputSize) inputs")
        }
        if let text = file.metadata["hidden_size"], text != String(layers[count - 1].hiddenSize) {
            throw .inconsistent(
                file: name,
                detail:
                    "__metadata__ says \"hidden_size\": \"\(text)\" but the weights have \(layers[count - 1].hiddenSize) channels"
            )
        }
        if kind == .elman, let nl = file.metadata["nonlinearity"], nl != "tanh" {
            throw .inconsistent(file: name, detail: "only tanh Elman RNNs are supported (nonlinearity \"\(nl)\")")
        }
        var model = try Model(kind: kind, layers: layers, sourceName: name)
        model.readout = try decodeReadout(file, name: name, hidden: model.outputSize, inputs: model.inputSize)
        return model
    }

    /// The optional `readout.weight` / `readout.bias` tensors and normalisation metadata.
    static func decodeReadout(_ file: SafeTensors.File, name: String, hidden d: Int, inputs m: Int) throws(ModelError)
        -> Readout?
    {
        let weight = file.tensors["readout.weight"]
        let bias = file.tensors["readout.bias"]
        for key in file.tensors.keys where key.hasPrefix("readout.") && key != "readout.weight" && key != "readout.bias"
        {
            throw .unexpectedTensor(file: name, tensor: key)
        }
        guard let weight, let bias else {
            if weight != nil || bias != nil {
                throw .missingTensor(file: name, tensor: weight == nil ? "readout.weight" : "readout.bias")
            }
            return nil
        }
        guard weight.shape.count == 2, weight.shape[1] == d, weight.shape[0] > 0 else {
            throw .wrongShape(
                file: name, tensor: "readout.weight", shape: weight.shape,
                detail: "expected [p, \(d)] (outputs × hidden size)")
        }
        guard bias.shape == [weight.shape[0]] else {
            throw .wrongShape(
                file: name, tensor: "readout.bias", shape: bias.shape, detail: "expected [\(weight.shape[0])]")
        }
        func numbers(_ key: String, count: Int? = nil) throws(ModelError) -> [Double] {
            let count = count ?? m
            guard let text = file.metadata[key] else {
                return [Double](repeating: key.hasSuffix("_std") ? 1 : 0, count: count)
            }
            let values = text.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard values.count == count, values.allSatisfy(\.isFinite) else {
                throw .inconsistent(file: name, detail: "__metadata__ \"\(key)\" must hold \(count) finite numbers")
            }
            return values
        }
        let p = weight.shape[0]
        let outputStd = file.metadata["output_std"] == nil ? nil : try numbers("output_std", count: p)
        if outputStd?.contains(where: { $0 <= 0 }) == true {
            throw .inconsistent(file: name, detail: "__metadata__ \"output_std\" must be positive")
        }
        let outputMean = file.metadata["output_mean"] == nil ? nil : try numbers("output_mean", count: p)
        let std = try numbers("input_std")
        if std.contains(where: { $0 <= 0 }) {
            throw .inconsistent(file: name, detail: "__metadata__ \"input_std\" must be positive")
        }
        let w = weight.asDouble()
        let b = bias.asDouble()
        if let bad = w.firstIndex(where: { !$0.isFinite }) {
            throw .nonFinite(file: name, tensor: "readout.weight", index: bad)
        }
        if let bad = b.firstIndex(where: { !$0.isFinite }) {
            throw .nonFinite(file: name, tensor: "readout.bias", index: bad)
        }
        return Readout(
            weight: ParameterTensor(shape: weight.shape, values: w),
            bias: ParameterTensor(shape: bias.shape, values: b),
            inputMean: try numbers("input_mean"), inputStandardDeviation: std,
            inputSkip: file.metadata["readout_skip"] == "true", outputMean: outputMean,
            outputStandardDeviation: outputStd)
    }

    /// (layer, parameter name, whether a ParaRNN `layers.{l}.` prefix was used), or nil.
    static func split(_ key: String, kind: CellKind) -> (Int, String, Bool)? {
        if kind.isDiagonal {
            if kind.parameterNames.contains(key) { return (0, key, false) }
            let parts = key.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0] == "layers", let l = Int(parts[1]), l >= 0,
                String(l) == parts[1], kind.parameterNames.contains(String(parts[2]))
            else { return nil }
            return (l, String(parts[2]), true)
        }
        for p in kind.parameterNames where key.hasPrefix(p + "_l") {
            let digits = key.dropFirst(p.count + 2)
            guard let l = Int(digits), l >= 0, String(l) == digits else { return nil }
            return (l, p, true)
        }
        return nil
    }

    /// The safetensors contents of `model`, tensors stored as `dtype`.
    public static func encode(_ model: Model, dtype: ScalarType = .float64) -> SafeTensors.File {
        var tensors: [String: Tensor] = [:]
        let count = model.layers.count
        for (l, layer) in model.layers.enumerated() {
            for (p, t) in layer.parameters {
                let name = model.kind.fileName(of: p, layer: l, layers: count)
                tensors[name] =
                    dtype == .float32
                    ? Tensor(shape: t.shape, float32: t.values.map { Float($0) })
                    : Tensor(shape: t.shape, float64: t.values)
            }
        }
        var metadata = [
            "cell": model.kind.rawValue, "layers": String(count),
            "input_size": String(model.inputSize), "hidden_size": String(model.hiddenSize),
        ]
        if model.kind == .elman, model.layers[0].nonlinearity != .tanh {
            metadata["nonlinearity"] = model.layers[0].nonlinearity.rawValue
        }
        if model.kind.isDiagonal, Set(model.layers.map(\.heads)).count == 1 {
            metadata["heads"] = String(model.layers[0].heads)
        }
        if let readout = model.readout {
            tensors["readout.weight"] =
                dtype == .float32
                ? Tensor(shape: readout.weight.shape, float32: readout.weight.values.map { Float($0) })
                : Tensor(shape: readout.weight.shape, float64: readout.weight.values)
            tensors["readout.bias"] =
                dtype == .float32
                ? Tensor(shape: readout.bias.shape, float32: readout.bias.values.map { Float($0) })
                : Tensor(shape: readout.bias.shape, float64: readout.bias.values)
            metadata["input_mean"] = readout.inputMean.map { String($0) }.joined(separator: ",")
            metadata["input_std"] = readout.inputStandardDeviation.map { String($0) }.joined(separator: ",")
            if readout.inputSkip { metadata["readout_skip"] = "true" }
            if let mean = readout.outputMean {
                metadata["output_mean"] = mean.map { String($0) }.joined(separator: ",")
            }
            if let std = readout.outputStandardDeviation {
                metadata["output_std"] = std.map { String($0) }.joined(separator: ",")
            }
        }
        return SafeTensors.File(tensors: tensors, metadata: metadata)
    }

    /// Writes `model` to `url` atomically.
    public static func save(_ model: Model, to url: URL, dtype: ScalarType = .float64) throws(ModelError) {
        do { try SafeTensors.write(encode(model, dtype: dtype), to: url) } catch { throw .io(error) }
    }
}
