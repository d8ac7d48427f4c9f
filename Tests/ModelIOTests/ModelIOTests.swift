import Foundation
import ModelIO
import ParaRNN
import ParallelScan
import SequenceIO
import Testing

@Suite struct ModelLoadingTests {
    @Test(arguments: CellKind.builtIn)
    func loadsEveryCellKind(kind: CellKind) throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let heads = kind.isDiagonal ? 2 : 1
        let url = dir.write(
            "m.safetensors", fileTensors(kind, sizes: [4, 6], heads: heads), metadata: ["cell": kind.rawValue])
        let model = try ModelFile.load(contentsOf: url)
        #expect(model.kind == kind)
        #expect(model.layers.count == 1)
        #expect(model.inputSize == 4 && model.hiddenSize == 6)
        #expect(model.layers[0].heads == heads)
        #expect(model.sourceName == "m.safetensors")
        // The typed cell solves: parallel Newton agrees with the rollout.
        let (T, B) = (40, 2)
        let x = randomInputs(count: T * B * 4, seed: 9)
        let cells = try model.cells(as: Double.self)
        #expect(cells[0].kind == kind && cells[0].hiddenSize == 6)
        let newton = try solveStack(
            cells, inputs: x, steps: T, batch: B,
            options: SolverOptions(method: .newton, fallback: false, pool: .serial))
        let sequential = try solveStack(
            cells, inputs: x, steps: T, batch: B, options: SolverOptions(method: .sequential, pool: .serial))
        #expect(newton.converged)
        #expect(newton.hidden.count == T * B * 6)
        #expect(maxAbsDiff(newton.hidden, sequential.hidden) < 1e-8)
    }

    @Test func paraGRUMatchesTheDirectlyBuiltCell() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let tensors = fileTensors(.paragru, sizes: [4, 6], heads: 2, float64: true)
        let url = dir.write("g.safetensors", tensors, metadata: ["cell": "paragru", "heads": "2"])
        let layers = try ModelFile.load(contentsOf: url).cells(as: Double.self)
        let cell = try ParaGRU<Double>(
            inputSize: 4, hiddenSize: 6, heads: 2, A: tensors["A"]!.asDouble(), B: tensors["B"]!.asDouble(),
            b: tensors["b"]!.asDouble())
        let x = randomInputs(count: 30 * 4, seed: 3)
        let direct = try SequenceSolver(cell: cell, options: SolverOptions(method: .sequential)).solve(
            inputs: x, steps: 30, batch: 1)
        let viaModel = try solveStack(
            layers, inputs: x, steps: 30, batch: 1, options: SolverOptions(method: .sequential))
        #expect(viaModel.hidden == direct.states)
    }

    @Test(arguments: [CellKind.paragru, .paralstm, .gru, .lstm, .elman, .paraslstm])
    func multiLayerStacksChain(kind: CellKind) throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let sizes = kind.isDiagonal ? [2, 4, 3] : [3, 4, 4]
        let url = dir.write(
            "stack.safetensors", fileTensors(kind, sizes: sizes), metadata: ["cell": kind.rawValue, "layers": "2"])
        let model = try ModelFile.load(contentsOf: url)
        #expect(model.layers.map(\.inputSize) == Array(sizes.dropLast()))
        #expect(model.layers.map(\.hiddenSize) == Array(sizes.dropFirst()))
        let layers = try model.cells(as: Double.self)
        let (T, B) = (25, 3)
        let x = randomInputs(count: T * B * sizes[0], seed: 4)
        let options = SolverOptions(method: .newton, fallback: false, pool: .serial)
        let stack = try solveStack(layers, inputs: x, steps: T, batch: B, options: options)
        // By hand: layer 1 reads layer 0's hidden output.
        let first = try layers[0].solve(inputs: x, steps: T, batch: B, options: options)
        let second = try layers[1].solve(inputs: first.hidden, steps: T, batch: B, options: options)
        #expect(stack.hidden == second.hidden)
        #expect(stack.layers.count == 2 && stack.converged)
        #expect(stack.hidden.count == T * B * sizes[2])
    }

    @Test func float64WeightsKeepTheirPrecision() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        var tensors = fileTensors(.gru, sizes: [2, 3], float64: true)
        let precise = 0.1 + 1e-12  // not representable in Float
        var w = tensors["weight_ih_l0"]!.asDouble()
        w[0] = precise
        tensors["weight_ih_l0"] = Tensor(shape: [9, 2], float64: w)
        let url = dir.write("d.safetensors", tensors, metadata: ["cell": "gru"])
        let model = try ModelFile.load(contentsOf: url)
        #expect(model.layers[0].parameters["weight_ih"]!.values[0] == precise)
        // Both compute precisions build.
        _ = try model.cells(as: Float.self)
        _ = try model.cells(as: Double.self)
    }

    @Test func saveThenLoadRoundTrips() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        for kind in CellKind.builtIn {
            let sizes = [2, 4, 4]
            var layers: [ModelLayer] = []
            for l in 0..<2 {
                layers.append(
                    try ModelLayer(
                        kind: kind,
                        parameters: randomParameters(kind, m: sizes[l], d: sizes[l + 1], seed: UInt64(l + 7))))
            }
            let model = try Model(kind: kind, layers: layers)
            let url = dir.file("\(kind).safetensors")
            try ModelFile.save(model, to: url)
            var back = try ModelFile.load(contentsOf: url)
            #expect(back.sourceName == "\(kind).safetensors")
            back.sourceName = ""
            #expect(back == model)
            // float32 storage rounds every value to Float.
            try ModelFile.save(model, to: url, dtype: .float32)
            let rounded = try ModelFile.load(contentsOf: url)
            for (a, b) in zip(rounded.layers, model.layers) {
                for (name, t) in b.parameters {
                    #expect(a.parameters[name]!.values == t.values.map { Double(Float($0)) })
                }
            }
            let file = try SafeTensors.read(contentsOf: url)
            #expect(file.metadata["cell"] == kind.rawValue && file.metadata["layers"] == "2")
        }
    }

    @Test func singleParaLayerUsesPlainNames() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let model = try Model(
            kind: .paralstm,
            layers: [
                ModelLayer(kind: .paralstm, parameters: randomParameters(.paralstm, m: 2, d: 4, heads: 2, seed: 5))
            ])
        let url = dir.file("one.safetensors")
        try ModelFile.save(model, to: url)
        let file = try SafeTensors.read(contentsOf: url)
        #expect(Set(file.tensors.keys) == ["A", "B", "C", "b"])
        #expect(file.metadata["heads"] == "2")
    }
}

@Suite struct BadModelTests {
    /// Loads a model that must fail; returns the error.
    func failure(
        _ tensors: [String: Tensor], metadata: [String: String], name: String = "bad.safetensors"
    ) throws -> ModelError {
        let dir = TempDir()
        defer { dir.cleanup() }
        let url = dir.write(name, tensors, metadata: metadata)
        do {
            _ = try ModelFile.load(contentsOf: url)
        } catch {
            #expect(error.description.hasPrefix(name + ": "), "\(error)")
            #expect(!error.description.contains("\n"))
            return error
        }
        Issue.record("\(name) loaded but should not")
        return .missingCell(file: "")
    }

    @Test func missingTensor() throws {
        var t = fileTensors(.paragru, sizes: [1, 4])
        t["b"] = nil
        let e = try failure(t, metadata: ["cell": "paragru"])
        #expect(e == .missingTensor(file: "bad.safetensors", tensor: "b"))
        #expect(e.description == "bad.safetensors: missing tensor 'b'")
        var g = fileTensors(.gru, sizes: [2, 3, 3])
        g["bias_hh_l1"] = nil
        #expect(try failure(g, metadata: ["cell": "gru"]).description == "bad.safetensors: missing tensor 'bias_hh_l1'")
        var p = fileTensors(.paralstm, sizes: [2, 2, 2])
        p["layers.1.C"] = nil
        #expect(
            try failure(p, metadata: ["cell": "paralstm"]).description == "bad.safetensors: missing tensor 'layers.1.C'"
        )
    }

    @Test func wrongShape() throws {
        var t = fileTensors(.paragru, sizes: [1, 4])
        t["b"] = Tensor(shape: [3, 5], float32: [Float](repeating: 0, count: 15))
        let e = try failure(t, metadata: ["cell": "paragru"])
        #expect(e.description.contains("tensor 'b' has shape [3, 5]"))
        #expect(e.description.contains("expected [3, 4]"))
        var g = fileTensors(.lstm, sizes: [2, 3])
        g["weight_hh_l0"] = Tensor(shape: [9, 3], float32: [Float](repeating: 0, count: 27))
        let ge = try failure(g, metadata: ["cell": "lstm"])
        #expect(ge.description.contains("'weight_hh_l0' has shape [9, 3]"))
        #expect(ge.description.contains("[4·d, d]"))
        var w = fileTensors(.gru, sizes: [2, 3])
        w["weight_ih_l0"] = Tensor(shape: [8, 2], float32: [Float](repeating: 0, count: 16))
        #expect(
            try failure(w, metadata: ["cell": "gru"]).description.contains(
                "'weight_ih_l0' has shape [8, 2]: expected [9, m]"))
    }

    @Test func unknownOrMissingCell() throws {
        let t = fileTensors(.paragru, sizes: [1, 4])
        let e = try failure(t, metadata: ["cell": "transformer"])
        #expect(e.description.contains("unknown cell \"transformer\""))
        #expect(e.description.contains("paragru, paralstm, gru, lstm, elman"))
        #expect(try failure(t, metadata: [:]) == .missingCell(file: "bad.safetensors"))
    }

    @Test func headsThatDoNotDivideTheHiddenSize() throws {
        var t = fileTensors(.paragru, sizes: [3, 8])
        t["B"] = Tensor(shape: [3, 1, 3, 2], float32: [Float](repeating: 0.1, count: 18))
        let e = try failure(t, metadata: ["cell": "paragru"])
        #expect(e.description.contains("'B'"))
        #expect(e.description.contains("H = 3 heads do not divide the hidden size d = 8"))
        // The metadata's "heads" must match B.
        let ok = fileTensors(.paragru, sizes: [4, 8], heads: 2)
        let m = try failure(ok, metadata: ["cell": "paragru", "heads": "3"])
        #expect(m.description.contains("\"heads\": \"3\""))
        #expect(m.description.contains("H = 3 heads do not divide the hidden size d = 8"))
    }

    @Test func nonFiniteWeight() throws {
        var t = fileTensors(.paralstm, sizes: [1, 4])
        var c = t["C"]!.asFloat()
        c[5] = .nan
        t["C"] = Tensor(shape: [2, 4], float32: c)
        let e = try failure(t, metadata: ["cell": "paralstm"])
        #expect(e == .nonFinite(file: "bad.safetensors", tensor: "C", index: 5))
        #expect(e.description == "bad.safetensors: tensor 'C' holds NaN or Inf at flat index 5")
        var g = fileTensors(.elman, sizes: [2, 3], float64: true)
        var w = g["weight_hh_l0"]!.asDouble()
        w[0] = .infinity
        g["weight_hh_l0"] = Tensor(shape: [3, 3], float64: w)
        #expect(try failure(g, metadata: ["cell": "elman"]).description.contains("'weight_hh_l0' holds NaN or Inf"))
    }

    @Test func valuesBeyondFloatRangeFailOnlyInFloat() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        var t = fileTensors(.gru, sizes: [2, 3], float64: true)
        var b = t["bias_ih_l0"]!.asDouble()
        b[0] = 1e300
        t["bias_ih_l0"] = Tensor(shape: [9], float64: b)
        let url = dir.write("big.safetensors", t, metadata: ["cell": "gru"])
        let model = try ModelFile.load(contentsOf: url)
        _ = try model.cells(as: Double.self)
        #expect(throws: ModelError.self) { _ = try model.cells(as: Float.self) }
        do { _ = try model.cells(as: Float.self) } catch {
            #expect(error.description.hasPrefix("big.safetensors: layer 0: "))
            #expect(error.description.contains("bias_ih"))
        }
    }

    @Test func unexpectedTensorsAndLayerMismatch() throws {
        var t = fileTensors(.lstm, sizes: [2, 3])
        t["weight_ih_l0_reverse"] = Tensor(shape: [1], float32: [0])
        // A lone reverse tensor: the reverse direction of a bidirectional layer is incomplete.
        #expect(
            try failure(t, metadata: ["cell": "lstm"])
                == .missingTensor(file: "bad.safetensors", tensor: "weight_hh_l0_reverse"))
        var mixed = fileTensors(.paragru, sizes: [1, 2, 2])
        mixed["A"] = Tensor(shape: [3, 2], float32: [Float](repeating: 0, count: 6))
        #expect(
            try failure(mixed, metadata: ["cell": "paragru"]) == .unexpectedTensor(file: "bad.safetensors", tensor: "A")
        )
        // Layer 1's input size must be layer 0's hidden size.
        var chain = fileTensors(.paragru, sizes: [1, 4])
        for (k, v) in fileTensors(.paragru, sizes: [1, 4]) {
            chain["layers.0.\(k)"] = v
            chain[k] = nil
        }
        for (k, v) in fileTensors(.paragru, sizes: [2, 4]) { chain["layers.1.\(k)"] = v }
        let e = try failure(chain, metadata: ["cell": "paragru"])
        #expect(e.description.contains("layer 1 expects 2 inputs but layer 0 outputs 4 channels"))
        // A missing layer in the middle.
        var gap = fileTensors(.gru, sizes: [2, 2, 2, 2])
        for k in gap.keys where k.hasSuffix("_l1") { gap[k] = nil }
        #expect(
            try failure(gap, metadata: ["cell": "gru"])
                == .missingTensor(file: "bad.safetensors", tensor: "weight_hh_l1"))
        #expect(
            try failure(fileTensors(.gru, sizes: [2, 2]), metadata: ["cell": "gru", "layers": "2"]).description
                .contains("\"layers\": \"2\""))
    }

    @Test func unsupportedDTypeNamesTheTensor() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        var header =
            #"{"__metadata__":{"cell":"elman"},"weight_ih_l0":{"dtype":"F16","shape":[2,1],"data_offsets":[0,4]}}"#
        header += String(repeating: " ", count: (8 - header.utf8.count % 8) % 8)
        var data = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(Data(header.utf8))
        data.append(Data(count: 4))
        let url = dir.file("half.safetensors")
        try data.write(to: url)
        do {
            _ = try ModelFile.load(contentsOf: url)
            Issue.record("loaded an F16 model")
        } catch {
            #expect(error.description.hasPrefix("half.safetensors: "))
            #expect(error.description.contains("'weight_ih_l0'") && error.description.contains("F16"))
        }
    }

    @Test func corruptFilesAreIOErrors() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let url = dir.write("t.safetensors", fileTensors(.paragru, sizes: [1, 4]), metadata: ["cell": "paragru"])
        let data = try Data(contentsOf: url)
        try data.prefix(data.count - 5).write(to: url)
        #expect(throws: ModelError.self) { _ = try ModelFile.load(contentsOf: url) }
        do { _ = try ModelFile.load(contentsOf: url) } catch {
            guard case .io = error else {
                Issue.record("\(error)")
                return
            }
            #expect(error.description.hasPrefix("t.safetensors: "))
        }
        do { _ = try ModelFile.load(contentsOf: dir.file("absent.safetensors")) } catch {
            #expect(error.description.hasPrefix("absent.safetensors: "))
        }
    }
}

@Suite struct PyTorchCompatibilityTests {
    /// `[B][T][d]` fixture → time-major `[T][B][d]`.
    func timeMajor(_ t: Tensor) -> [Double] {
        let (B, T, d) = (t.shape[0], t.shape[1], t.shape[2])
        let v = t.asDouble()
        var out = [Double](repeating: 0, count: v.count)
        for b in 0..<B { for s in 0..<T { for i in 0..<d { out[(s * B + b) * d + i] = v[(b * T + s) * d + i] } } }
        return out
    }

    @Test(arguments: [("torch_gru2", CellKind.gru, 2), ("torch_lstm1", .lstm, 1)])
    func reproducesPyTorch(name: String, kind: CellKind, layers: Int) throws {
        let model = try ModelFile.load(contentsOf: fixture("\(name).safetensors"))
        #expect(model.kind == kind && model.layers.count == layers)
        let input = try NPY.read(contentsOf: fixture("torch_input.npy"))
        let expected = timeMajor(try NPY.read(contentsOf: fixture("\(name)_expected.npy")))
        let (B, T) = (input.shape[0], input.shape[1])
        let x = timeMajor(input)
        let cells = try model.cells(as: Double.self)
        for method in [SolverMethod.newton, .sequential] {
            // A tight tolerance: Newton's last step is quadratic, so this costs one iteration.
            let result = try solveStack(
                cells, inputs: x, steps: T, batch: B,
                options: SolverOptions(method: method, tolerance: 1e-14, fallback: false))
            #expect(result.converged)
            #expect(maxAbsDiff(result.hidden, expected) < 1e-12, "\(name) \(method)")
        }
    }
}
