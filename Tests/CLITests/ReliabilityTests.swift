import Foundation
import SequenceIO
import Testing

/// Issue 20: no success with non-finite results, never destroy an input, clean `fit` I/O.
@Suite("Reliability (issue 20)")
struct ReliabilityTests {
    func expectOneLine(
        _ r: RunResult, status: Int32, containing parts: [String], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(r.status == status, "\(r.stdout)\n\(r.stderr)", sourceLocation: sourceLocation)
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count == 1, "\(r.stderr)", sourceLocation: sourceLocation)
        for part in parts {
            #expect(
                r.stderr.contains(part), "stderr should contain \(part): \(r.stderr)", sourceLocation: sourceLocation)
        }
        #expect(!r.stderr.contains("\r"), sourceLocation: sourceLocation)
    }

    func file(_ tensors: [String: Tensor], cell: String) -> Data {
        SafeTensors.encode(SafeTensors.File(tensors: tensors, metadata: ["cell": cell]))
    }

    /// ParaGRU with finite weights B = [3e38, −3e38] per gate: u = Inf − Inf = NaN for inputs 1e30.
    var overflowingParaGRU: Data {
        let d = 2
        var b = [Float](repeating: 0, count: 2 * 3 * d)
        for i in 0..<(3 * d) {
            b[i] = 3e38
            b[3 * d + i] = -3e38
        }
        return file(
            [
                "A": Tensor(shape: [3, d], float32: [Float](repeating: 0.5, count: 3 * d)),
                "B": Tensor(shape: [1, 2, 3, d], float32: b),
                "b": Tensor(shape: [3, d], float32: [Float](repeating: 0, count: 3 * d)),
            ], cell: "paragru")
    }

    // MARK: 1. Huge layer indices and sizes

    @Test("a layer index of Int.max in a tensor name: exit 1, one line, nothing written")
    func hugeLayerIndex() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeNPY("x.npy", Tensor(shape: [5, 2], float32: [Float](repeating: 0.1, count: 10)))
        let n = "9223372036854775807"
        let p = TestParaGRU(m: 2, d: 2, seed: 1).tensors
        ws.writeBytes(
            "pg.safetensors",
            file(Dictionary(uniqueKeysWithValues: p.map { ("layers.\(n).\($0.key)", $0.value) }), cell: "paragru"))
        let g: [String: Tensor] = [
            "weight_ih_l\(n)": Tensor(shape: [6, 2], float32: [Float](repeating: 0.1, count: 12)),
            "weight_hh_l\(n)": Tensor(shape: [6, 2], float32: [Float](repeating: 0.1, count: 12)),
            "bias_ih_l\(n)": Tensor(shape: [6], float32: [Float](repeating: 0.1, count: 6)),
            "bias_hh_l\(n)": Tensor(shape: [6], float32: [Float](repeating: 0.1, count: 6)),
        ]
        ws.writeBytes("gru.safetensors", file(g, cell: "gru"))
        let before = ws.files()
        for model in ["pg.safetensors", "gru.safetensors"] {
            let r = try ws.run(["solve", "--model", model, "--input", "x.npy", "--output", "h.npy"])
            expectOneLine(r, status: 1, containing: [model, "names layer \(n)", "at most 1024"])
        }
        #expect(ws.files() == before)
    }

    @Test("harness: steps or hidden = Int.max, steps 10^12: exit 1, one line, before allocating")
    func harnessHugeSizes() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        for (axes, expected) in [
            (#""steps": [9223372036854775807], "hiddenSizes": [4]"#, "overflow"),
            (#""steps": [100], "hiddenSizes": [9223372036854775807]"#, "overflow"),
            (#""steps": [1000000000000], "hiddenSizes": [4]"#, "more than this machine's"),
        ] {
            ws.writeBytes(
                "grid.json",
                Data(
                    #"{"cells": ["gru"], "methods": ["newton"], \#(axes), "batchSizes": [2], "weightScales": [0.5]}"#
                        .utf8))
            let r = try ws.run(["harness", "--config", "grid.json", "--output", "report.json"])
            expectOneLine(r, status: 1, containing: ["grid 'custom'", expected])
            #expect(!ws.exists("report.json"))
        }
    }

    // MARK: 2. Non-finite states

    @Test("ParaGRU overflow (B = ±3e38, x = 1e30): exit 2, one line, no hidden states even with --allow-unconverged")
    func nonFiniteParaGRU() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeBytes("m.safetensors", overflowingParaGRU)
        ws.writeNPY("x.npy", Tensor(shape: [50, 2], float32: [Float](repeating: 1e30, count: 100)))
        for method in ["sequential", "newton", "automatic"] {
            for extra in [[], ["--allow-unconverged"], ["--no-fallback"], ["--verify"]] {
                let r = try ws.run(
                    ["solve", "--model", "m.safetensors", "--input", "x.npy", "--output", "h.npy", "--method", method]
                        + extra)
                // Newton without fallback bounds its overflowed iterate (finite, issue 16); the
                // projections themselves overflow, so its residual is NaN.
                let bounded = method == "newton" && extra == ["--no-fallback"]
                expectOneLine(
                    r, status: 2,
                    containing: [
                        bounded
                            ? "x.npy: did not converge (layer 1): residual nan"
                            : "x.npy: non-finite hidden state at step 0, layer 1",
                        "no hidden states written",
                    ])
                #expect(!r.stdout.contains(": converged"), "\(r.stdout)")
                #expect(!ws.exists("h.npy"))
            }
        }
        // The report records where.
        let r = try ws.run([
            "solve", "--model", "m.safetensors", "--input", "x.npy", "--output", "h.npy", "--report", "r.json",
        ])
        #expect(r.status == 2)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.path("r.json"))) as! [String: Any]
        #expect(json["converged"] as? Bool == false)
        let layer = (json["layers"] as! [[String: Any]])[0]
        let state = try #require(layer["nonFiniteState"] as? [String: Any])
        #expect(state["step"] as? Int == 0)
        #expect(ws.files() == ["m.safetensors", "x.npy", "r.json"])
    }

    @Test("GRU, LSTM and Elman with weights 3e38: exit 2, and --verify never exits 0 with a non-finite difference")
    func nonFiniteDenseCells() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        var rng = Rng(4)
        // |x| up to 3: the gate sums overflow to ±Inf and meet as Inf − Inf = NaN (inputs within
        // ±1 happen to saturate finitely).
        ws.writeNPY("x.npy", Tensor(shape: [100, 2], float32: rng.values(200, scale: 3).map { Float($0) }))
        for (cell, gates) in [("gru", 3), ("lstm", 4), ("rnn", 1)] {
            let d = 2
            let g = gates * d
            func big(_ shape: [Int]) -> Tensor {
                Tensor(shape: shape, float32: [Float](repeating: 3e38, count: shape.reduce(1, *)))
            }
            let name = cell == "rnn" ? "elman" : cell
            ws.writeBytes(
                "\(name).safetensors",
                file(
                    [
                        "weight_ih_l0": big([g, 2]), "weight_hh_l0": big([g, d]), "bias_ih_l0": big([g]),
                        "bias_hh_l0": big([g]),
                    ], cell: name))
            let r = try ws.run([
                "solve", "--model", "\(name).safetensors", "--input", "x.npy", "--output", "h.npy", "--verify",
            ])
            expectOneLine(
                r, status: 2,
                containing: ["non-finite hidden state at step", "layer 1", "\(name).safetensors overflows"])
            #expect(!ws.exists("h.npy"))
        }
    }

    @Test("a finite, converged solve still exits 0 and prints the output line only once written")
    func finiteSolveUnchanged() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m.safetensors", TestParaGRU(m: 2, d: 3, seed: 2))
        var rng = Rng(3)
        ws.writeNPY("x.npy", Tensor(shape: [200, 2], float64: rng.values(400)))
        let r = try ws.run([
            "solve", "--model", "m.safetensors", "--input", "x.npy", "--output", "h.npy", "--report", "r.json",
            "--verify", "--method", "newton",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.suffix(2).first?.hasPrefix("output     h.npy: shape [200, 3]") == true, "\(r.stdout)")
        #expect(lines.last == "report     r.json")
        #expect(try NPY.read(contentsOf: ws.path("h.npy")).asDouble().allSatisfy(\.isFinite))
        // Not converged (exit 2, nothing written): no "output" line.
        let failed = try ws.run([
            "solve", "--model", "m.safetensors", "--input", "x.npy", "--output", "g.npy", "--method", "newton",
            "--max-iterations", "1", "--no-fallback", "--precision", "double",
        ])
        #expect(failed.status == 2)
        #expect(!failed.stdout.contains("output "))
        #expect(!ws.exists("g.npy"))
    }

    // MARK: 3. Outputs that are inputs

    @Test("solve: --output or --report resolving to --input or --model is refused before any work")
    func solveOutputIsAnInput() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m.safetensors", TestParaGRU(m: 1, d: 2, seed: 3))
        ws.writeNPY("x.npy", Tensor(shape: [20, 1], float32: (0..<20).map { Float($0) / 20 }))
        let fm = FileManager.default
        try fm.createDirectory(at: ws.path("sub"), withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: ws.path("model-link.npy").path, withDestinationPath: "m.safetensors")
        try fm.createSymbolicLink(atPath: ws.path("input-link.json").path, withDestinationPath: "x.npy")
        try fm.createSymbolicLink(atPath: ws.path("dir-link").path, withDestinationPath: ws.path("sub/..").path)
        let model = try Data(contentsOf: ws.path("m.safetensors"))
        let input = try Data(contentsOf: ws.path("x.npy"))
        let before = ws.files()
        for extra in [
            ["--output", "x.npy"], ["--output", "./sub/../x.npy"], ["--output", ws.path("x.npy").path],
            ["--output", "dir-link/x.npy"], ["--output", "model-link.npy"], ["--report", "input-link.json"],
            ["--output", "h.npy", "--report", "input-link.json"],
        ] {
            let r = try ws.run(["solve", "--model", "m.safetensors", "--input", "x.npy"] + extra)
            expectOneLine(r, status: 1, containing: ["is the same file as", "refusing to overwrite an input"])
            #expect(r.stdout.isEmpty, "no work may be done: \(r.stdout)")
        }
        // The input given through a link is protected too.
        try fm.createSymbolicLink(atPath: ws.path("input-link.npy").path, withDestinationPath: "x.npy")
        let r = try ws.run(["solve", "--model", "m.safetensors", "--input", "input-link.npy", "--output", "x.npy"])
        expectOneLine(r, status: 1, containing: ["--output x.npy is the same file as --input input-link.npy"])
        #expect(try Data(contentsOf: ws.path("m.safetensors")) == model)
        #expect(try Data(contentsOf: ws.path("x.npy")) == input)
        #expect(ws.files() == before.union(["input-link.npy"]))
    }

    // MARK: 4–7. fit

    func recording(steps: Int) -> Tensor {
        Tensor(
            shape: [steps, 2],
            float32: (0..<steps).flatMap { t in
                [Float(Foundation.sin(Double(t) * 0.07)), Float(Foundation.cos(Double(t) * 0.035))]
            })
    }
    let quick = ["--steps", "4", "--window", "32", "--batch-size", "2", "--hidden", "2"]

    @Test(
        "fit: outputs equal to the input or to each other, wrong extensions, unwritable folders: exit 1 before training, nothing written"
    )
    func fitPathChecks() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeNPY("signal.npy", recording(steps: 300))
        let input = try Data(contentsOf: ws.path("signal.npy"))
        let fm = FileManager.default
        try fm.createSymbolicLink(atPath: ws.path("signal.safetensors").path, withDestinationPath: "signal.npy")
        try fm.createSymbolicLink(atPath: ws.path("history-link.json").path, withDestinationPath: "model.safetensors")
        try fm.createSymbolicLink(atPath: ws.path("signal-link.json").path, withDestinationPath: "signal.npy")
        ws.writeBytes("model.safetensors", Data("old model".utf8))
        let before = ws.files()
        let cases: [([String], [String])] = [
            (["--output", "signal.npy"], ["--output must name a .safetensors file"]),
            (["--output", "model.json"], ["--output must name a .safetensors file"]),
            (
                ["--output", "model.safetensors", "--history", "model.safetensors"],
                ["--history must name a .json file"]
            ),
            (["--output", "model.safetensors", "--history", "h.txt"], ["--history must name a .json file"]),
            (
                ["--input", "signal.txt"],
                ["--input must name a .npy, .csv, .tsv, audio", "or HDF5 (file.h5:/dataset) recording"]
            ),
            (["--output", "signal.safetensors"], ["is the same file as --input", "refusing to overwrite an input"]),
            (["--output", "model.safetensors", "--history", "signal-link.json"], ["is the same file as --input"]),
            (["--output", "model.safetensors", "--history", "history-link.json"], ["name the same file"]),
            (
                ["--output", "model.safetensors", "--history", "signal.npy/h.json"],
                ["h.json: cannot write --history", "is not a folder"]
            ),
            (
                ["--output", "signal.npy/sub/m.safetensors"],
                ["m.safetensors: cannot write --output", "is not a folder"]
            ),
        ]
        for (extra, parts) in cases {
            var arguments = ["fit", "--input", "signal.npy", "--output", "model.safetensors"] + quick
            for i in stride(from: 0, to: extra.count, by: 2) {
                if let at = arguments.firstIndex(of: extra[i]) {
                    arguments[at + 1] = extra[i + 1]
                } else {
                    arguments += [extra[i], extra[i + 1]]
                }
            }
            let r = try ws.run(arguments)
            expectOneLine(r, status: 1, containing: parts)
            #expect(!r.stdout.contains("trained"), "no training may start: \(arguments)")
            #expect(ws.files() == before, "\(arguments)")
        }
        #expect(try Data(contentsOf: ws.path("signal.npy")) == input)
        #expect(try Data(contentsOf: ws.path("model.safetensors")) == Data("old model".utf8))
    }

    @Test("fit: model and history are written together; the model loads in solve")
    func fitWritesBoth() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeNPY("signal.npy", recording(steps: 300))
        let r = try ws.run(
            ["fit", "--input", "signal.npy", "--output", "out/model.safetensors", "--history", "logs/h.json"] + quick)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("model      written to out/model.safetensors; history to logs/h.json"))
        #expect(ws.exists("out/model.safetensors") && ws.exists("logs/h.json"))
        let temps =
            try FileManager.default.contentsOfDirectory(atPath: ws.path("out").path)
            + FileManager.default.contentsOfDirectory(atPath: ws.path("logs").path)
        #expect(temps.sorted() == ["h.json", "model.safetensors"])
        let solve = try ws.run(["solve", "--model", "out/model.safetensors", "--input", "signal.npy"])
        #expect(solve.status == 0, "\(solve.stderr)")
    }

    @Test("fit on a constant 1e300 recording refuses (non-finite statistics); a flat recording never prints nan %")
    func fitNonFiniteStatistics() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeNPY("huge.npy", Tensor(shape: [200, 2], float64: [Double](repeating: 1e300, count: 400)))
        let r = try ws.run(["fit", "--input", "huge.npy", "--output", "m.safetensors"] + quick)
        expectOneLine(
            r, status: 1, containing: ["huge.npy: feature", "too large to normalise", "standard deviation inf"])
        #expect(!r.stdout.contains("nan"))
        #expect(!ws.exists("m.safetensors"))
        ws.writeNPY("flat.npy", Tensor(shape: [200, 2], float32: [Float](repeating: 1, count: 400)))
        let flat = try ws.run(["fit", "--input", "flat.npy", "--output", "flat.safetensors"] + quick)
        #expect(flat.status == 0, "\(flat.stderr)")
        #expect(!flat.stdout.lowercased().contains("nan"), "\(flat.stdout)")
        let solve = try ws.run(["solve", "--model", "flat.safetensors", "--input", "flat.npy"])
        #expect(solve.status == 0, "a model fit writes must load in solve: \(solve.stderr)")
    }

    @Test("fit removes its own stale temp files on start, and on SIGTERM/SIGINT exits 143/130 leaving none")
    func fitTemporaryFiles() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeNPY("signal.npy", recording(steps: 4000))
        let stale = ".model.safetensors.\(UUID().uuidString).tmp"
        let staleHistory = ".h.json.\(UUID().uuidString).tmp"
        for name in [stale, staleHistory, ".model.safetensors.not-a-uuid.tmp", ".other.npy.\(UUID().uuidString).tmp"] {
            ws.writeBytes(name, Data("partial".utf8))
        }
        let r = try ws.run(
            ["fit", "--input", "signal.npy", "--output", "model.safetensors", "--history", "h.json"] + quick)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!ws.exists(stale) && !ws.exists(staleHistory))
        #expect(ws.exists(".model.safetensors.not-a-uuid.tmp"), "only fit's own temp names are removed")
        #expect(ws.files().filter { $0.hasSuffix(".tmp") }.count == 2)

        for (signal, status) in [(SIGTERM, Int32(143)), (SIGINT, Int32(130))] {
            try? FileManager.default.removeItem(at: ws.path("ck.safetensors"))
            let process = Process()
            process.executableURL = pararnnExecutable
            process.arguments = [
                "fit", "--input", "signal.npy", "--output", "ck.safetensors", "--steps", "100000", "--window", "64",
                "--batch-size", "2", "--hidden", "4", "--checkpoint-every", "1",
            ]
            process.currentDirectoryURL = ws.url
            var environment = ProcessInfo.processInfo.environment
            environment["PARARNN_THREADS"] = "2"
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Wait for the first checkpoint, then a little more (writes are in progress).
            let deadline = Date().addingTimeInterval(60)
            while !ws.exists("ck.safetensors"), Date() < deadline { usleep(20_000) }
            usleep(150_000)
            kill(process.processIdentifier, signal)
            process.waitUntilExit()
            #expect(process.terminationStatus == status)
            #expect(ws.files().filter { $0.hasPrefix(".ck.") }.isEmpty, "\(ws.files())")
            let checkpoint = try SafeTensors.read(contentsOf: ws.path("ck.safetensors"))
            #expect(checkpoint.metadata["cell"] == "paragru", "the checkpoint is complete")
        }
    }

    // MARK: 8. Minor

    @Test("usage errors are one line; PARARNN_THREADS=0/-5/abc is an error; CSV control characters are escaped")
    func minorItems() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m.safetensors", TestParaGRU(m: 2, d: 2, seed: 5))
        ws.writeNPY("x.npy", Tensor(shape: [10, 2], float32: [Float](repeating: 0.5, count: 20)))
        for arguments in [
            ["solve", "--bogus"], ["solve", "--model", "m.safetensors", "--input", "x.npy", "--threads", "0"],
            ["fit", "--steps", "0"], ["solve", "--model", "m.safetensors", "--input", "x.npy", "--method", "magic"],
        ] {
            let r = try ws.run(arguments)
            expectOneLine(r, status: 1, containing: ["error: "])
        }
        for value in ["0", "-5", "abc", "2x"] {
            let r = try ws.run(
                ["solve", "--model", "m.safetensors", "--input", "x.npy"], environment: ["PARARNN_THREADS": value])
            expectOneLine(r, status: 1, containing: ["PARARNN_THREADS must be a positive integer (got '\(value)')"])
        }
        let ok = try ws.run(
            ["solve", "--model", "m.safetensors", "--input", "x.npy"], environment: ["PARARNN_THREADS": "1"])
        #expect(ok.status == 0 && ok.stdout.contains("1 thread"))
        ws.writeBytes("cr.csv", Data("1,2\n3,x\ry\n".utf8))
        let csv = try ws.run(["solve", "--model", "m.safetensors", "--input", "cr.csv"])
        expectOneLine(csv, status: 1, containing: ["cr.csv: row 2, column 2", "x\\ry"])
    }
}
