import Foundation
import SequenceIO
import Testing

@Suite struct SolveTests {
    let model = TestParaGRU(m: 2, d: 3, seed: 11)

    func input(steps: Int, batch: Int? = nil, seed: UInt64 = 5) -> Tensor {
        var rng = Rng(seed)
        let shape = batch.map { [$0, steps, 2] } ?? [steps, 2]
        return Tensor(shape: shape, float64: rng.values(shape.reduce(1, *)))
    }

    @Test func solvesAndMatchesTheSequentialRollout() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m.safetensors", model)
        let x = input(steps: 300)
        ws.writeNPY("x.npy", x)
        let r = try ws.run([
            "solve", "--model", "m.safetensors", "--input", "x.npy", "--output", "h.npy",
            "--method", "newton", "--precision", "double", "--report", "r.json",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.isEmpty)
        #expect(r.stdout.contains("paragru, 1 layer: 2 → 3"))
        #expect(r.stdout.contains("converged"))
        let h = try NPY.read(contentsOf: ws.path("h.npy"))
        #expect(h.shape == [300, 3])
        #expect(h.scalarType == .float64)
        #expect(maxAbsDiff(h.asDouble(), model.rollout(x.asDouble(), steps: 300)) < 1e-9)
        // The sequential method gives the same states.
        let s = try ws.run([
            "solve", "--model", "m.safetensors", "--input", "x.npy", "--output", "s.npy",
            "--method", "sequential", "--precision", "double",
        ])
        #expect(s.status == 0)
        #expect(maxAbsDiff(try NPY.read(contentsOf: ws.path("s.npy")).asDouble(), h.asDouble()) < 1e-9)
        // The report holds per-layer attempts with their residual history.
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.path("r.json"))) as! [String: Any]
        #expect(json["converged"] as? Bool == true)
        let layers = json["layers"] as! [[String: Any]]
        #expect(layers.count == 1)
        let attempt = (layers[0]["attempts"] as! [[String: Any]])[0]
        #expect(attempt["method"] as? String == "newton")
        let history = attempt["residualHistory"] as! [Double]
        #expect(history.count == (attempt["iterations"] as! Int) + 1)
        #expect(history.last! <= json["tolerance"] as! Double)
        #expect(ws.files() == ["m.safetensors", "x.npy", "h.npy", "s.npy", "r.json"])
    }

    @Test func floatPrecisionBatchedInputAndVerify() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m.safetensors", model)
        let x = input(steps: 120, batch: 3)
        ws.writeNPY("x.npy", x)
        let r = try ws.run([
            "solve", "--model", "m.safetensors", "--input", "x.npy", "--output", "out/h.npy",
            "--verify", "--threads", "2",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("max |h − h_seq| = "))
        #expect(r.stdout.contains("speedup"))
        #expect(r.stdout.contains("2 threads"))
        let h = try NPY.read(contentsOf: ws.path("out/h.npy"))
        #expect(h.shape == [3, 120, 3])
        #expect(h.scalarType == .float32)
        let xs = x.asDouble()
        let hs = h.asDouble()
        for b in 0..<3 {
            let seq = Array(xs[(b * 240)..<((b + 1) * 240)])
            let ref = model.rollout(seq, steps: 120)
            #expect(maxAbsDiff(Array(hs[(b * 360)..<((b + 1) * 360)]), ref) < 1e-4)
        }
    }

    @Test func runsAPyTorchStateDictUnchanged() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ModelIOTests/Fixtures")
        let ws = Workspace()
        defer { ws.cleanup() }
        let r = try ws.run([
            "solve", "--model", fixtures.appendingPathComponent("torch_gru2.safetensors").path,
            "--input", fixtures.appendingPathComponent("torch_input.npy").path, "--output", "h.npy",
            "--precision", "double", "--method", "newton", "--tolerance", "1e-14",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("gru, 2 layers: 3 → 4 → 4"))
        let h = try NPY.read(contentsOf: ws.path("h.npy"))
        let expected = try NPY.read(contentsOf: fixtures.appendingPathComponent("torch_gru2_expected.npy"))
        #expect(h.shape == [2, 7, 4])
        #expect(maxAbsDiff(h.asDouble(), expected.asDouble()) < 1e-12)
    }

    @Test func csvInputWorks() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m.safetensors", model)
        let rows = (0..<20).map { t in "\(Double(t) / 10),\(-Double(t) / 20)" }
        ws.writeBytes("x.csv", Data(rows.joined(separator: "\n").utf8))
        let r = try ws.run([
            "solve", "--model", "m.safetensors", "--input", "x.csv", "--output", "h.npy", "--precision", "double",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let x = (0..<20).flatMap { t in [Double(t) / 10, -Double(t) / 20] }
        #expect(maxAbsDiff(try NPY.read(contentsOf: ws.path("h.npy")).asDouble(), model.rollout(x, steps: 20)) < 1e-9)
    }

    @Test func nonConvergenceExitsWithTwo() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m.safetensors", model)
        ws.writeNPY("x.npy", input(steps: 400))
        let args = [
            "solve", "--model", "m.safetensors", "--input", "x.npy", "--output", "h.npy", "--report", "r.json",
            "--method", "newton", "--max-iterations", "1", "--no-fallback", "--precision", "double",
        ]
        let r = try ws.run(args)
        #expect(r.status == 2, "\(r.stdout)\(r.stderr)")
        #expect(r.stderr.contains("x.npy: did not converge"))
        #expect(r.stdout.contains("NOT converged"))
        #expect(!ws.exists("h.npy"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.path("r.json"))) as! [String: Any]
        #expect(json["converged"] as? Bool == false)
        let allowed = try ws.run(args + ["--allow-unconverged"])
        #expect(allowed.status == 2)
        #expect(try NPY.read(contentsOf: ws.path("h.npy")).shape == [400, 3])
        // With the default fallback the same limits still give an exact answer.
        let fallback = try ws.run([
            "solve", "--model", "m.safetensors", "--input", "x.npy", "--method", "newton", "--max-iterations", "1",
            "--precision", "double",
        ])
        #expect(fallback.status == 0)
        #expect(fallback.stdout.contains("attempts: newton → elk → sequential"))
    }

    @Test func helpDocumentsEverything() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        let top = try ws.run(["--help"])
        #expect(top.status == 0)
        #expect(top.stdout.contains("solve"))
        let help = try ws.run(["solve", "--help"])
        #expect(help.status == 0)
        for option in [
            "--model", "--input", "--output", "--report", "--method", "--tolerance", "--max-iterations",
            "--threads", "--precision", "--segment-length", "--verify", "--allow-unconverged", "--no-fallback",
            "quasi-newton", "Exit codes",
        ] {
            #expect(help.stdout.contains(option), "\(option)")
        }
    }
}

@Suite struct BadInputTests {
    let model = TestParaGRU(m: 1, d: 2, seed: 3)

    /// Runs a solve that must fail with exit 1, a one-line message on stderr naming `names`,
    /// and no output anywhere.
    func expectFailure(
        _ ws: Workspace, model: String = "m.safetensors", input: String = "x.npy", extra: [String] = [],
        naming names: [String], usage: Bool = false, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let before = ws.files()
        let r = try ws.run(
            ["solve", "--model", model, "--input", input, "--output", "h.npy", "--report", "r.json"] + extra)
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)", sourceLocation: sourceLocation)
        let lines = r.stderr.split(separator: "\n")
        // Input errors: exactly one line. Usage errors: the problem first, then a usage hint.
        #expect(usage ? lines.count >= 1 : lines.count == 1, "\(r.stderr)", sourceLocation: sourceLocation)
        for name in names {
            #expect(
                lines.first?.contains(name) == true, "\(r.stderr) should name \(name)", sourceLocation: sourceLocation)
        }
        #expect(ws.files() == before, "outputs or temp files were left", sourceLocation: sourceLocation)
    }

    func workspace() -> Workspace {
        let ws = Workspace()
        ws.writeModel("m.safetensors", model)
        ws.writeNPY("x.npy", Tensor(shape: [50, 1], float32: (0..<50).map { Float($0) / 50 }))
        return ws
    }

    @Test func truncatedAndCorruptInputs() throws {
        let ws = workspace()
        defer { ws.cleanup() }
        let npy = try Data(contentsOf: ws.path("x.npy"))
        ws.writeBytes("short.npy", npy.prefix(npy.count - 7))
        try expectFailure(ws, input: "short.npy", naming: ["short.npy", "200 needed"])
        ws.writeBytes("junk.npy", Data("not a numpy file at all".utf8))
        try expectFailure(ws, input: "junk.npy", naming: ["junk.npy"])
        ws.writeBytes("short.wav", Data("RIFF\u{10}\u{0}\u{0}\u{0}WAVEfmt ".utf8))
        try expectFailure(ws, input: "short.wav", naming: ["short.wav"])
        try expectFailure(ws, input: "absent.npy", naming: ["absent.npy"])
        ws.writeBytes("x.txt", Data("1\n".utf8))
        try expectFailure(ws, input: "x.txt", naming: ["x.txt", "unknown input format"])
    }

    @Test func wrongDTypeAndNonFiniteInputs() throws {
        let ws = workspace()
        defer { ws.cleanup() }
        // An int32 .npy.
        var header = "{'descr': '<i4', 'fortran_order': False, 'shape': (4, 1), }"
        header += String(repeating: " ", count: 128 - 10 - header.utf8.count - 1) + "\n"
        var bytes = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0])
        bytes.append(Data(header.utf8))
        bytes.append(Data(count: 16))
        ws.writeBytes("int.npy", bytes)
        try expectFailure(ws, input: "int.npy", naming: ["int.npy", "dtype"])
        ws.writeNPY("nan.npy", Tensor(shape: [5, 1], float64: [0, 1, .nan, 2, 3]))
        try expectFailure(ws, input: "nan.npy", naming: ["nan.npy", "nan"])
        ws.writeNPY("inf.npy", Tensor(shape: [3, 1], float32: [0, .infinity, 1]))
        try expectFailure(ws, input: "inf.npy", naming: ["inf.npy", "inf"])
        // Finite as float64, not as float.
        ws.writeNPY("huge.npy", Tensor(shape: [3, 1], float64: [0, 1e300, 1]))
        try expectFailure(ws, input: "huge.npy", naming: ["huge.npy", "float precision"])
    }

    @Test func shapeMismatch() throws {
        let ws = workspace()
        defer { ws.cleanup() }
        ws.writeNPY("x3.npy", Tensor(shape: [10, 3], float32: [Float](repeating: 0.1, count: 30)))
        try expectFailure(ws, input: "x3.npy", naming: ["x3.npy", "m.safetensors", "3 features", "m = 1"])
        ws.writeNPY("x4d.npy", Tensor(shape: [1, 2, 3, 1], float32: [Float](repeating: 0.1, count: 6)))
        try expectFailure(ws, input: "x4d.npy", naming: ["x4d.npy"])
    }

    @Test func badModels() throws {
        let ws = workspace()
        defer { ws.cleanup() }
        var missing = model.tensors
        missing["b"] = nil
        try SafeTensors.write(
            SafeTensors.File(tensors: missing, metadata: ["cell": "paragru"]), to: ws.path("missing.safetensors"))
        try expectFailure(ws, model: "missing.safetensors", naming: ["missing.safetensors", "'b'"])
        ws.writeModel("unknown.safetensors", model, metadata: ["cell": "mamba"])
        try expectFailure(ws, model: "unknown.safetensors", naming: ["unknown.safetensors", "mamba"])
        var shape = model.tensors
        shape["A"] = Tensor(shape: [2, 3], float64: [Double](repeating: 0, count: 6))
        try SafeTensors.write(
            SafeTensors.File(tensors: shape, metadata: ["cell": "paragru"]), to: ws.path("shape.safetensors"))
        try expectFailure(ws, model: "shape.safetensors", naming: ["shape.safetensors", "'A'", "[2, 3]"])
        var nan = model.tensors
        nan["b"] = Tensor(shape: [3, 2], float64: [0, 0, .nan, 0, 0, 0])
        try SafeTensors.write(
            SafeTensors.File(tensors: nan, metadata: ["cell": "paragru"]), to: ws.path("nan.safetensors"))
        try expectFailure(ws, model: "nan.safetensors", naming: ["nan.safetensors", "'b'", "NaN"])
        let good = try Data(contentsOf: ws.path("m.safetensors"))
        ws.writeBytes("cut.safetensors", good.prefix(good.count - 3))
        try expectFailure(ws, model: "cut.safetensors", naming: ["cut.safetensors", "truncated"])
        ws.writeBytes("garbage.safetensors", Data(repeating: 0xFF, count: 40))
        try expectFailure(ws, model: "garbage.safetensors", naming: ["garbage.safetensors"])
    }

    @Test func usageErrorsExitWithOne() throws {
        let ws = workspace()
        defer { ws.cleanup() }
        try expectFailure(ws, extra: ["--threads", "0"], naming: ["--threads"], usage: true)
        try expectFailure(ws, extra: ["--method", "magic"], naming: ["magic"], usage: true)
        try expectFailure(ws, extra: ["--tolerance", "0"], naming: ["--tolerance"], usage: true)
        try expectFailure(ws, extra: ["--bogus"], naming: ["--bogus"], usage: true)
        let noModel = try ws.run(["solve", "--input", "x.npy"])
        #expect(noModel.status == 1)
        #expect(noModel.stderr.contains("--model"))
    }
}
