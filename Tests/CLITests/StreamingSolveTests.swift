import Foundation
import SequenceIO
import Testing

/// `pararnn solve` streams the input through the solver into the output in segments: the
/// result must be the in-memory solve's (bitwise for the sequential method, within tolerance
/// for Newton), for T not divisible by the segment, for every input format, for stacks and
/// batches; a bad value in a later segment fails with exit 1 naming its step, leaving nothing.
@Suite struct StreamingSolveTests {
    let layer1 = TestParaGRU(m: 2, d: 3, seed: 21)
    let layer2 = TestParaGRU(m: 3, d: 3, seed: 22)

    func input(steps: Int, batch: Int? = nil, seed: UInt64 = 7) -> Tensor {
        var rng = Rng(seed)
        let shape = batch.map { [$0, steps, 2] } ?? [steps, 2]
        return Tensor(shape: shape, float64: rng.values(shape.reduce(1, *)))
    }

    /// A two-layer ParaGRU file (`layers.{l}.A`, …).
    func writeTwoLayers(_ ws: Workspace, _ name: String) {
        var tensors: [String: Tensor] = [:]
        for (l, layer) in [layer1, layer2].enumerated() {
            for (key, value) in layer.tensors { tensors["layers.\(l).\(key)"] = value }
        }
        try! SafeTensors.write(SafeTensors.File(tensors: tensors, metadata: ["cell": "paragru"]), to: ws.path(name))
    }

    /// Solves `input` streamed in segments of `segment` steps and in memory; returns both outputs.
    func both(
        _ ws: Workspace, model: String = "m.safetensors", input: String, method: String, precision: String,
        segment: Int, extra: [String] = []
    ) throws -> (streamed: Tensor, inMemory: Tensor, stdout: String) {
        let common =
            ["solve", "--model", model, "--input", input, "--method", method, "--precision", precision] + extra
        let s = try ws.run(common + ["--segment-length", "\(segment)", "--output", "s.npy", "--report", "s.json"])
        #expect(s.status == 0, "\(s.stderr)")
        let m = try ws.run(common + ["--in-memory", "--output", "m.npy"])
        #expect(m.status == 0, "\(m.stderr)")
        return (try NPY.read(contentsOf: ws.path("s.npy")), try NPY.read(contentsOf: ws.path("m.npy")), s.stdout)
    }

    func bits(_ t: Tensor) -> [UInt64] {
        switch t.storage {
        case .float32(let v): return v.map { UInt64($0.bitPattern) }
        case .float64(let v): return v.map(\.bitPattern)
        }
    }

    @Test func npySequentialIsBitwiseAndNewtonWithinToleranceOfTheInMemorySolve() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m.safetensors", layer1)
        let x = input(steps: 1000)
        ws.writeNPY("x.npy", x)
        let reference = layer1.rollout(x.asDouble(), steps: 1000)
        for precision in ["float", "double"] {
            let seq = try both(ws, input: "x.npy", method: "sequential", precision: precision, segment: 64)
            #expect(seq.streamed.shape == [1000, 3])
            #expect(bits(seq.streamed) == bits(seq.inMemory))
            #expect(seq.stdout.contains("16 of 64 steps"))
            let newton = try both(ws, input: "x.npy", method: "newton", precision: precision, segment: 64)
            let tolerance = precision == "float" ? 1e-4 : 1e-9
            #expect(maxAbsDiff(newton.streamed.asDouble(), newton.inMemory.asDouble()) < tolerance)
            #expect(maxAbsDiff(newton.streamed.asDouble(), reference) < tolerance)
        }
        // The report: segments, per-segment iterations, the worst residual within tolerance.
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.path("s.json"))) as! [String: Any]
        let streaming = json["streaming"] as! [String: Any]
        #expect(streaming["segments"] as? Int == 16)
        #expect(streaming["segmentLength"] as? Int == 64)
        let layer = (json["layers"] as! [[String: Any]])[0]
        let perSegment = layer["segmentIterations"] as! [Int]
        #expect(perSegment.count == 16 && perSegment.allSatisfy { $0 >= 1 })
        #expect((layer["finalResidual"] as! Double) <= json["tolerance"] as! Double)
        #expect(ws.files() == ["m.safetensors", "x.npy", "s.npy", "m.npy", "s.json"])
    }

    @Test func twoLayersAndBatchesStreamOverTime() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        writeTwoLayers(ws, "m2.safetensors")
        let x = input(steps: 301, batch: 3)
        ws.writeNPY("xb.npy", x)
        let seq = try both(
            ws, model: "m2.safetensors", input: "xb.npy", method: "sequential", precision: "double", segment: 50)
        #expect(seq.streamed.shape == [3, 301, 3])
        #expect(bits(seq.streamed) == bits(seq.inMemory))
        // Independent reference: layer 2 rolled out over layer 1's h, per sequence.
        let xs = x.asDouble()
        let hs = seq.streamed.asDouble()
        for b in 0..<3 {
            let h1 = layer1.rollout(Array(xs[(b * 602)..<((b + 1) * 602)]), steps: 301)
            let h2 = layer2.rollout(h1, steps: 301)
            #expect(maxAbsDiff(Array(hs[(b * 903)..<((b + 1) * 903)]), h2) < 1e-12)
        }
        let newton = try both(
            ws, model: "m2.safetensors", input: "xb.npy", method: "newton", precision: "float", segment: 50)
        #expect(maxAbsDiff(newton.streamed.asDouble(), newton.inMemory.asDouble()) < 1e-4)
        #expect(maxAbsDiff(newton.streamed.asDouble(), seq.streamed.asDouble()) < 1e-4)
    }

    /// Rows of 16 and 32 bytes (d = 4 states in Float and Double, m = 4 Float inputs) move
    /// between the batch-major files and the time-major segments as single vectors: the same
    /// values as the in-memory solve, bit for bit, for a batch whose length is not a multiple
    /// of the segment.
    @Test func vectorRowsOfABatchStreamBitwise() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m4.safetensors", TestParaGRU(m: 4, d: 4, seed: 23))
        var rng = Rng(9)
        ws.writeNPY("x4.npy", Tensor(shape: [3, 157, 4], float32: rng.values(3 * 157 * 4).map(Float.init)))
        for precision in ["float", "double"] {
            let seq = try both(
                ws, model: "m4.safetensors", input: "x4.npy", method: "sequential", precision: precision, segment: 40)
            #expect(seq.streamed.shape == [3, 157, 4])
            #expect(bits(seq.streamed) == bits(seq.inMemory))
        }
    }

    /// With two workers and segments of several chunks, each segment's write and the read
    /// ahead are offered to the next segment's Newton passes (and done by the writing and
    /// reading threads where no pass takes them): every row lands in the file, for one sequence
    /// (in one piece, and in two with 8 workers) and for a batch (written through the
    /// batch-major staging rows), T not a multiple of the segment.
    @Test func newtonPassesTakeTheWritesAndReadsOfTheirNeighbours() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m4.safetensors", TestParaGRU(m: 4, d: 4, seed: 24))
        var rng = Rng(11)
        ws.writeNPY("x1.npy", Tensor(shape: [5003, 4], float32: rng.values(5003 * 4).map(Float.init)))
        ws.writeNPY("x3.npy", Tensor(shape: [3, 2101, 4], float32: rng.values(3 * 2101 * 4).map(Float.init)))
        for (input, shape) in [("x1.npy", [5003, 4]), ("x3.npy", [3, 2101, 4])] {
            for precision in ["float", "double"] {
                let newton = try both(
                    ws, model: "m4.safetensors", input: input, method: "newton", precision: precision,
                    segment: 1024, extra: ["--threads", "2"])
                #expect(newton.streamed.shape == shape)
                let tolerance = precision == "float" ? 1e-4 : 1e-9
                #expect(maxAbsDiff(newton.streamed.asDouble(), newton.inMemory.asDouble()) < tolerance, "\(input)")
            }
        }
        // 8 workers, segments of 16 chunks: each write is offered in 2 pieces.
        ws.writeNPY("x2.npy", Tensor(shape: [40003, 4], float32: rng.values(40003 * 4).map(Float.init)))
        let pieces = try both(
            ws, model: "m4.safetensors", input: "x2.npy", method: "newton", precision: "float", segment: 16500,
            extra: ["--threads", "8"])
        #expect(pieces.streamed.shape == [40003, 4])
        #expect(maxAbsDiff(pieces.streamed.asDouble(), pieces.inMemory.asDouble()) < 1e-4)
    }

    @Test func csvAndWavInputsStreamLikeTheInMemorySolve() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m.safetensors", layer1)
        let x = input(steps: 203)
        try CSV.write(x, header: ["a", "b"], to: ws.path("x.csv"))
        let wav = Tensor(shape: [203, 2], float32: x.asDouble().map { Float($0 * 0.9) })
        try testWAV(wav, sampleRate: 8000, pcm16: false).write(to: ws.path("x.wav"))
        for file in ["x.csv", "x.wav"] {
            let seq = try both(ws, input: file, method: "sequential", precision: "float", segment: 32)
            #expect(seq.streamed.shape == [203, 3])
            #expect(bits(seq.streamed) == bits(seq.inMemory))
            let newton = try both(ws, input: file, method: "newton", precision: "double", segment: 32)
            #expect(maxAbsDiff(newton.streamed.asDouble(), newton.inMemory.asDouble()) < 1e-9)
        }
        // 16-bit PCM, three channels, two of them chosen: read by frame offset like the whole-file reader.
        var rng = Rng(9)
        let pcm = Tensor(shape: [203, 3], float32: rng.values(609, scale: 0.9).map { Float($0) })
        try testWAV(pcm, sampleRate: 16000, pcm16: true).write(to: ws.path("p.wav"))
        let picked = try both(
            ws, input: "p.wav", method: "sequential", precision: "float", segment: 40, extra: ["--channels", "3,1"])
        #expect(picked.streamed.shape == [203, 3])
        #expect(bits(picked.streamed) == bits(picked.inMemory))
        #expect(picked.stdout.contains("16000 Hz, 3 channels (using 3,1)"))
    }

    @Test func aBadValueInALaterSegmentFailsNamingItsStepAndWritesNothing() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m.safetensors", layer1)
        var values = input(steps: 500).asDouble()
        values[2 * 333 + 1] = .nan
        ws.writeNPY("x.npy", Tensor(shape: [500, 2], float64: values))
        for method in ["sequential", "newton"] {
            let r = try ws.run([
                "solve", "--model", "m.safetensors", "--input", "x.npy", "--method", method,
                "--segment-length", "64", "--output", "h.npy", "--report", "r.json",
            ])
            #expect(r.status == 1)
            #expect(r.stderr.contains("x.npy: non-finite value nan at index [333, 1] (step 333)"), "\(r.stderr)")
            #expect(r.stdout.isEmpty)
            #expect(ws.files() == ["m.safetensors", "x.npy"])
        }
        // A float64 value beyond Float's range is not finite in float precision.
        values[2 * 333 + 1] = 1e300
        ws.writeNPY("y.npy", Tensor(shape: [500, 2], float64: values))
        let r = try ws.run([
            "solve", "--model", "m.safetensors", "--input", "y.npy", "--segment-length", "64", "--output", "h.npy",
        ])
        #expect(r.status == 1)
        #expect(r.stderr.contains("value at step 333 (index [333, 1]) is not finite in float precision"), "\(r.stderr)")
        #expect(ws.files() == ["m.safetensors", "x.npy", "y.npy"])
    }

    /// An existing output is replaced (names exchanged, the old file removed), synced with
    /// `--sync` or not, by the same bits; nothing else is left in the folder.
    @Test func anExistingOutputIsReplacedWithOrWithoutSync() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m.safetensors", layer1)
        ws.writeNPY("x.npy", input(steps: 777))
        try Data("an older, unrelated file".utf8).write(to: ws.path("h.npy"))
        var outputs: [[UInt64]] = []
        for extra in [["--sync"], [], ["--sync"]] {
            let r = try ws.run(
                [
                    "solve", "--model", "m.safetensors", "--input", "x.npy", "--method", "sequential",
                    "--segment-length", "100", "--output", "h.npy",
                ] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("waiting for input"), "\(r.stdout)")
            outputs.append(bits(try NPY.read(contentsOf: ws.path("h.npy"))))
            #expect(ws.files() == ["m.safetensors", "x.npy", "h.npy"])
        }
        #expect(outputs[0].count == 777 * 3)
        #expect(outputs[0] == outputs[1] && outputs[1] == outputs[2])
    }

    @Test func maxMemoryChoosesTheSegmentAndRefusesTooLittle() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m.safetensors", layer1)
        ws.writeNPY("x.npy", input(steps: 5000))
        // 24 MiB fixed + 40 KiB for the segment: well under the cache-sized length.
        let r = try ws.run([
            "solve", "--model", "m.safetensors", "--input", "x.npy", "--max-memory", "24.04M", "--output", "h.npy",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("within --max-memory 24.0 MiB"))
        #expect(!r.stdout.contains("segments   1 of"))
        #expect(r.stdout.contains("peak RSS"))
        let small = try ws.run([
            "solve", "--model", "m.safetensors", "--input", "x.npy", "--max-memory", "1M", "--output", "g.npy",
        ])
        #expect(small.status == 1)
        #expect(small.stderr.hasPrefix("error: --max-memory 1.0 MiB cannot hold one step"), "\(small.stderr)")
        let bad = try ws.run(["solve", "--model", "m.safetensors", "--input", "x.npy", "--max-memory", "lots"])
        #expect(bad.status != 0)
        #expect(ws.files() == ["m.safetensors", "x.npy", "h.npy"])
    }
}

extension StreamingSolveTests {
    /// SIGINT or SIGTERM while the output is being streamed: the process dies of the signal and
    /// neither the output nor its temporary file remains.
    @Test func anInterruptedRunLeavesNoOutput() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m.safetensors", layer1)
        // One step per segment over 2·10⁵ steps: far longer than the test waits.
        ws.writeNPY("x.npy", Tensor(shape: [200_000, 2], float32: [Float](repeating: 0.25, count: 400_000)))
        for signal in [SIGINT, SIGTERM] {
            let process = Process()
            process.executableURL = pararnnExecutable
            process.arguments = [
                "solve", "--model", "m.safetensors", "--input", "x.npy", "--output", "h.npy",
                "--method", "sequential", "--segment-length", "1",
            ]
            process.currentDirectoryURL = ws.url
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(60)
            while !ws.files().contains(where: { $0.hasPrefix(".h.npy.") }), Date() < deadline { usleep(10_000) }
            usleep(100_000)
            kill(process.processIdentifier, signal)
            let stop = Date().addingTimeInterval(30)
            while process.isRunning, Date() < stop { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == signal)
            #expect(ws.files() == ["m.safetensors", "x.npy"], "\(ws.files())")
        }
    }
}
