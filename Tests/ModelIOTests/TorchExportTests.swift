import Foundation
import ModelIO
import ParaRNN
import ParallelScan
import SequenceIO
import Testing

/// Plain `safetensors.torch.save_file(model.state_dict(), …)` exports of real PyTorch 2.11
/// modules (`scripts/torch_exports.py`, fixtures in `Fixtures/torch/`), checked against
/// PyTorch's own outputs.
@Suite struct TorchExportTests {
    func torch(_ name: String) -> URL { fixture("torch/\(name)") }

    /// `[B][T][d]` → time-major `[T][B][d]`.
    func timeMajor(_ t: Tensor) -> [Double] {
        let (B, T, d) = (t.shape[0], t.shape[1], t.shape[2])
        let v = t.asDouble()
        var out = [Double](repeating: 0, count: v.count)
        for b in 0..<B { for s in 0..<T { for i in 0..<d { out[(s * B + b) * d + i] = v[(b * T + s) * d + i] } } }
        return out
    }

    /// Solves `model` in Float by `method` (no fallback) and returns max |h − PyTorch|.
    func worstDifference(
        _ model: Model, expected name: String, method: SolverMethod, initialStates: [[Double]]? = nil
    ) throws -> Double {
        let input = try NPY.read(contentsOf: torch("x.npy"))
        let (B, T) = (input.shape[0], input.shape[1])
        let x = timeMajor(input).map { Float($0) }
        let expected = timeMajor(try NPY.read(contentsOf: torch(name)))
        // 1e-6: a residual certificate tight enough that quasi-Newton's answer is within 1e-5 too.
        let options = SolverOptions(method: method, tolerance: 1e-6, fallback: false, pool: .serial)
        let result = try model.solve(
            as: Float.self, inputs: x, steps: T, batch: B, options: options,
            initialStates: initialStates?.map { $0.map { Float($0) } })
        #expect(result.converged, "\(name) \(method)")
        #expect(result.layers.allSatisfy { $0.method == method }, "\(name) \(method)")
        #expect(result.layers.count == model.layers.count * model.directions)
        #expect(result.hidden.count == expected.count)
        guard result.hidden.count == expected.count else { return .infinity }
        return maxAbsDiff(result.hidden.map { Double($0) }, expected)
    }

    static let cases: [(String, CellKind, Int, Int, Nonlinearity?)] = [
        ("gru2", .gru, 2, 1, nil), ("lstm", .lstm, 1, 1, nil), ("rnn", .elman, 1, 1, nil),
        ("rnn_relu", .elman, 1, 1, .relu), ("gru_bi", .gru, 1, 2, nil), ("gru_bi2", .gru, 2, 2, nil),
        ("lstm_bi2", .lstm, 2, 2, nil), ("lstm_proj", .lstm, 1, 1, nil),
        ("lstm_proj_bi2", .lstm, 2, 2, nil), ("rnn_bi2_relu", .elman, 2, 2, .relu),
        ("gru_nobias", .gru, 1, 1, nil), ("grucell", .gru, 1, 1, nil), ("lstmcell", .lstm, 1, 1, nil),
        ("rnncell", .elman, 1, 1, nil), ("sub", .gru, 1, 1, nil),
    ]

    @Test(arguments: cases)
    func plainExportMatchesPyTorch(
        name: String, kind: CellKind, layers: Int, directions: Int, nonlinearity: Nonlinearity?
    ) throws {
        let model = try ModelFile.load(
            contentsOf: torch("\(name).safetensors"), options: LoadOptions(nonlinearity: nonlinearity))
        #expect(model.kind == kind && model.layers.count == layers && model.directions == directions)
        var report: [String] = []
        for method in [SolverMethod.newton, .quasiNewton, .sequential] {
            let worst = try worstDifference(model, expected: "\(name)_out.npy", method: method)
            #expect(worst < 1e-5, "\(name) \(method): max |Δ| vs PyTorch \(worst)")
            report.append("\(method.rawValue) \(String(format: "%.2e", worst))")
        }
        print("torch fixture \(name): max |Δ| vs PyTorch: \(report.joined(separator: ", "))")
    }

    @Test func projectionsAndSizes() throws {
        let model = try ModelFile.load(contentsOf: torch("lstm_proj_bi2.safetensors"))
        #expect(model.layers.map(\.projectionSize) == [3, 3])
        #expect(model.layers.map(\.hiddenSize) == [6, 6])
        #expect(model.layers.map(\.inputSize) == [3, 6])  // 2·p
        #expect(model.outputSize == 6)
        #expect(model.summary == "lstm, bidirectional, 2 layers: 3 → 2×(6 → proj 3) → 2×(6 → proj 3)")
        let cells = try model.cells(as: Double.self)
        #expect(cells[0].outputSize == 6 && cells[0].stateSize == 9 && cells[0].directions == 2)
    }

    @Test(arguments: ["gru_bi2", "lstm_proj_bi2"])
    func initialStatesInPyTorchsShape(name: String) throws {
        let model = try ModelFile.load(contentsOf: torch("\(name).safetensors"))
        let h0 = try NPY.read(contentsOf: torch("\(name)_h0.npy"))
        let c0 = model.kind == .lstm ? try NPY.read(contentsOf: torch("\(name)_c0.npy")) : nil
        let rows = try model.initialStates(h0: h0, c0: c0, batch: 2, batched: true)
        #expect(rows.count == 4)
        var report: [String] = []
        for method in [SolverMethod.newton, .quasiNewton, .sequential] {
            let worst = try worstDifference(model, expected: "\(name)_h0_out.npy", method: method, initialStates: rows)
            #expect(worst < 1e-5, "\(name) h0 \(method): \(worst)")
            report.append("\(method.rawValue) \(String(format: "%.2e", worst))")
        }
        print("torch fixture \(name) with h0/c0: max |Δ| vs PyTorch: \(report.joined(separator: ", "))")
        // Wrong shapes name the file and the expected shape.
        let bad = Tensor(shape: [2, 2, 3], float32: [Float](repeating: 0, count: 12))
        #expect(throws: ModelError.self) {
            try model.initialStates(h0: bad, h0Name: "h0.npy", c0: nil, batch: 2, batched: true)
        }
        do { _ = try model.initialStates(h0: bad, h0Name: "h0.npy", c0: nil, batch: 2, batched: true) } catch {
            #expect(error.description.hasPrefix("h0.npy: tensor 'h0' has shape [2, 2, 3]: expected [L·D = 4, B = 2"))
        }
    }

    @Test func submoduleAndIgnoredTensors() throws {
        let model = try ModelFile.load(contentsOf: torch("sub.safetensors"))
        #expect(model.module == "encoder.rnn.")
        #expect(model.ignoredTensors == ["head.bias", "head.weight"])
        #expect(model.readout == nil)
        let explicit = try ModelFile.load(
            contentsOf: torch("sub.safetensors"), options: LoadOptions(module: "encoder.rnn"))
        #expect(explicit == model)
    }

    @Test func severalModulesNeedAChoice() throws {
        do {
            _ = try ModelFile.load(contentsOf: torch("two.safetensors"))
            Issue.record("loaded a file of two modules without --module")
        } catch {
            #expect(error == .ambiguousModule(file: "two.safetensors", modules: ["a.", "b."]))
            #expect(
                error.description == "two.safetensors: holds 2 recurrent modules (a, b): pick one with --module PREFIX")
        }
        let b = try ModelFile.load(contentsOf: torch("two.safetensors"), options: LoadOptions(module: "b"))
        #expect(b.kind == .lstm && b.ignoredTensors.count == 4)
        #expect(try worstDifference(b, expected: "two_b_out.npy", method: .newton) < 1e-5)
        do {
            _ = try ModelFile.load(contentsOf: torch("two.safetensors"), options: LoadOptions(module: "c"))
            Issue.record("loaded an absent module")
        } catch {
            #expect(error.description == "two.safetensors: no recurrent module 'c' (found: a, b)")
        }
    }

    /// Writes the fixture `name` with `metadata` added; returns the loading error.
    func failure(_ name: String, metadata: [String: String], options: LoadOptions = LoadOptions()) throws -> ModelError?
    {
        let dir = TempDir()
        defer { dir.cleanup() }
        var file = try SafeTensors.read(contentsOf: torch("\(name).safetensors"))
        file.metadata.merge(metadata) { $1 }
        let url = dir.file("\(name).safetensors")
        try SafeTensors.write(file, to: url)
        do { _ = try ModelFile.load(contentsOf: url, options: options) } catch { return error }
        return nil
    }

    @Test func metadataIsCheckedAgainstTheInference() throws {
        #expect(try failure("lstm", metadata: ["cell": "lstm", "layers": "1", "hidden_size": "6"]) == nil)
        #expect(try failure("rnn", metadata: ["cell": "rnn"]) == nil)
        let e = try failure("lstm", metadata: ["cell": "gru"])
        #expect(
            e?.description
                == "lstm.safetensors: tensor 'weight_hh_l0' has shape [24, 6]: expected [3·d, d] for gru (3 gate rows) as __metadata__ \"cell\": \"gru\" says, but 24 = 4·6 rows describe a lstm"
        )
        #expect(try failure("gru2", metadata: ["layers": "3"])?.description.contains("\"layers\": \"3\"") == true)
        // relu from the metadata; a flag that disagrees, or relu on a GRU, is an error.
        #expect(try failure("rnn_relu", metadata: ["nonlinearity": "relu"]) == nil)
        #expect(
            try failure("rnn_relu", metadata: ["nonlinearity": "relu"], options: LoadOptions(nonlinearity: .tanh))?
                .description.contains("__metadata__ says \"nonlinearity\": \"relu\"") == true)
        #expect(
            try failure("gru2", metadata: [:], options: LoadOptions(nonlinearity: .relu))?.description
                == "gru2.safetensors: nonlinearity relu applies only to nn.RNN, but the tensors describe a gru")
        #expect(
            try failure("rnn", metadata: ["nonlinearity": "gelu"])?.description.contains(
                "neither \"tanh\" nor \"relu\"") == true)
        // Options that only apply to state dicts are refused for a ParaRNN model.
        let dir = TempDir()
        defer { dir.cleanup() }
        let para = dir.write("para.safetensors", fileTensors(.paragru, sizes: [2, 4]), metadata: ["cell": "paragru"])
        #expect(throws: ModelError.self) {
            try ModelFile.load(contentsOf: para, options: LoadOptions(nonlinearity: .relu))
        }
        #expect(throws: ModelError.self) { try ModelFile.load(contentsOf: para, options: LoadOptions(module: "rnn")) }
    }

    @Test func brokenStateDicts() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let file = try SafeTensors.read(contentsOf: torch("gru_bi2.safetensors"))
        func load(_ change: (inout [String: Tensor]) -> Void) -> String {
            var tensors = file.tensors
            change(&tensors)
            let url = dir.write("bad.safetensors", tensors, metadata: [:])
            do { _ = try ModelFile.load(contentsOf: url) } catch { return error.description }
            return "loaded"
        }
        #expect(load { $0["weight_hh_l1_reverse"] = nil } == "bad.safetensors: missing tensor 'weight_hh_l1_reverse'")
        #expect(load { $0["bias_ih_l0"] = nil } == "bad.safetensors: missing tensor 'bias_ih_l0'")
        #expect(
            load { $0["weight_ih_l0x"] = $0["weight_ih_l0"] }
                == "bad.safetensors: unexpected tensor 'weight_ih_l0x' (not a parameter of this cell)")
        #expect(
            load { $0["weight_ih"] = $0["weight_ih_l0"] }
                == "bad.safetensors: unexpected tensor 'bias_hh_l0' (not a parameter of this cell)")
        #expect(
            load { $0["weight_hh_l0"] = Tensor(shape: [10, 4], float32: [Float](repeating: 0, count: 40)) }
                == "bad.safetensors: tensor 'weight_hh_l0' has shape [10, 4]: expected [G·d, d] with G = 3 (GRU), 4 (LSTM) or 1 (RNN)"
        )
        #expect(
            load { $0["weight_ih_l1_reverse"] = Tensor(shape: [12, 4], float32: [Float](repeating: 0, count: 48)) }
                == "bad.safetensors: tensor 'weight_ih_l1_reverse' has shape [12, 4]: expected [12, 8] (as the forward direction)"
        )
        #expect(
            load { t in for k in t.keys where k.hasSuffix("_l1") { t[k] = nil } }
                == "bad.safetensors: missing tensor 'weight_hh_l1'")
        // A huge layer index is refused by name, not a huge allocation; one below the limit
        // is a missing layer.
        #expect(
            load { $0["weight_hh_l999999999"] = $0["weight_hh_l1"] }
                == "bad.safetensors: tensor 'weight_hh_l999999999' names layer 999999999; layers are numbered 0, 1, … and a model has at most 1024"
        )
        #expect(load { $0["weight_hh_l1023"] = $0["weight_hh_l1"] } == "bad.safetensors: missing tensor 'weight_hh_l2'")
    }

    /// `pararnn fit --cell lstm` wrote `fit_lstm.safetensors`; PyTorch loaded it with
    /// `nn.LSTM.load_state_dict(load_file(path), strict=False)` (unexpected keys: the readout
    /// only) and computed `fit_lstm_torch.npy` for `fit_input.npy`.
    @Test func fitModelRoundTripsThroughPyTorch() throws {
        let file = try SafeTensors.read(contentsOf: torch("fit_lstm.safetensors"))
        #expect(
            Set(file.tensors.keys) == [
                "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "readout.weight", "readout.bias",
            ])
        let model = try ModelFile.load(contentsOf: torch("fit_lstm.safetensors"))
        #expect(model.kind == .lstm && model.readout != nil && model.ignoredTensors.isEmpty)
        let input = try NPY.read(contentsOf: torch("fit_input.npy"))
        let (B, T) = (input.shape[0], input.shape[1])
        let x = timeMajor(input).map { Float($0) }
        let expected = timeMajor(try NPY.read(contentsOf: torch("fit_lstm_torch.npy")))
        for method in [SolverMethod.newton, .quasiNewton, .sequential] {
            let options = SolverOptions(method: method, tolerance: 1e-6, fallback: false, pool: .serial)
            let result = try model.solve(as: Float.self, inputs: x, steps: T, batch: B, options: options)
            #expect(result.converged)
            let worst = maxAbsDiff(result.hidden.map { Double($0) }, expected)
            #expect(worst < 1e-5, "\(method): \(worst)")
            print(
                "torch fixture fit_lstm (pararnn fit → nn.LSTM): \(method.rawValue) max |Δ| \(String(format: "%.2e", worst))"
            )
        }
    }

    /// Saving a loaded export keeps everything: reverse, projection and relu.
    @Test(arguments: ["lstm_proj_bi2", "rnn_bi2_relu", "gru_nobias"])
    func savedExportsLoadBack(name: String) throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        var model = try ModelFile.load(
            contentsOf: torch("\(name).safetensors"),
            options: LoadOptions(nonlinearity: name.hasSuffix("relu") ? .relu : nil))
        let url = dir.file("saved.safetensors")
        try ModelFile.save(model, to: url)
        var back = try ModelFile.load(contentsOf: url)
        (model.sourceName, back.sourceName) = ("", "")
        #expect(back == model)
    }
}
