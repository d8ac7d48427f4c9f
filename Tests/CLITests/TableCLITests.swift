import Foundation
import SequenceIO
import Testing

/// `--columns` / `--missing` on `solve` and `fit`, against the hand-written reference rollout.
@Suite("Table input (CLI)")
struct TableCLITests {
    let model = TestParaGRU(m: 2, d: 3, seed: 25)

    @Test func solveChoosesColumnsAndFillsGaps() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m.safetensors", model)
        // A date column, an unused text-free column, and two chosen columns with gaps.
        var lines = ["# logger export", "when;unused;\"b\";a"]
        var a: [Double?] = []
        var b: [Double?] = []
        for t in 0..<30 {
            let av: Double? = t % 7 == 3 ? nil : Double(t) / 10
            let bv: Double? = t == 0 || t == 29 ? nil : -Double(t) / 20
            a.append(av)
            b.append(bv)
            lines.append(
                "1995-01-\(String(format: "%02d", t + 1));\(t);\(bv.map { "\($0)" } ?? "");\(av.map { "\($0)" } ?? "NA")"
            )
        }
        ws.writeBytes("x.csv", Data(lines.joined(separator: "\n").utf8))
        // Reference: hold the ends, interpolate inside (written out independently here).
        func fill(_ v: [Double?]) -> [Double] {
            v.indices.map { i in
                if let x = v[i] { return x }
                let l = v[..<i].lastIndex { $0 != nil }
                let r = v[(i + 1)...].firstIndex { $0 != nil }
                if let l, let r { return (v[l]! * Double(r - i) + v[r]! * Double(i - l)) / Double(r - l) }
                return v[l ?? r!]!
            }
        }
        let (fa, fb) = (fill(a), fill(b))
        let x = (0..<30).flatMap { [fa[$0], fb[$0]] }
        let r = try ws.run([
            "solve", "--model", "m.safetensors", "--input", "x.csv", "--columns", "a,b",
            "--missing", "interpolate", "--output", "h.npy", "--precision", "double",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("note       filled 6 missing cells (--missing interpolate)"), "\(r.stdout)")
        #expect(r.stdout.contains("note       skipped date/time column") == false)
        #expect(maxAbsDiff(try NPY.read(contentsOf: ws.path("h.npy")).asDouble(), model.rollout(x, steps: 30)) < 1e-9)

        // Numbers work too (column 4 = a, 3 = b); without --missing the gap is one error line, nothing written.
        let strict = try ws.run([
            "solve", "--model", "m.safetensors", "--input", "x.csv", "--columns", "4,3", "--output", "s.npy",
        ])
        #expect(strict.status == 1)
        #expect(strict.stderr == "error: x.csv: row 3, column 3: empty cell (see --missing drop|ffill|interpolate)\n")
        #expect(!ws.exists("s.npy"))
        let unknown = try ws.run([
            "solve", "--model", "m.safetensors", "--input", "x.csv", "--columns", "a,c", "--output", "s.npy",
        ])
        #expect(
            unknown.status == 1 && unknown.stderr.contains("x.csv: --columns: no column named 'c'"), "\(unknown.stderr)"
        )
        #expect(!ws.exists("s.npy"))
        let bad = try ws.run(["solve", "--model", "m.safetensors", "--input", "x.csv", "--missing", "mean"])
        #expect(bad.status != 0 && bad.stderr.contains("--missing"))
    }

    @Test func fitSkipsDatesAndDropsRows() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        let rows = (0..<80).map { t in "Jan-\(t % 28 + 1)-1995,\(t % 9 == 4 ? "" : "\(sin(Double(t) / 4))")" }
        ws.writeBytes("e.csv", Data((["DATE,value"] + rows).joined(separator: "\n").utf8))
        let r = try ws.run([
            "fit", "--input", "e.csv", "--missing", "drop", "--output", "m.safetensors", "--steps", "2",
            "--hidden", "4", "--window", "8",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("note: e.csv: skipped date/time column 1 ('DATE'); choose columns with --columns"))
        #expect(r.stderr.contains("note: e.csv: dropped 9 rows with missing cells (71 left)"))
        #expect(ws.exists("m.safetensors"))
        ws.writeNPY("x.npy", Tensor(shape: [10, 1], float64: (0..<10).map(Double.init)))
        let npy = try ws.run(["fit", "--input", "x.npy", "--columns", "1", "--output", "n.safetensors", "--steps", "2"])
        #expect(
            npy.status == 1
                && npy.stderr.contains("--columns, --missing and --decimal-comma apply to .csv and .tsv tables only"))
        #expect(!ws.exists("n.safetensors"))
    }

    /// A 24-bit FLAC made by sox solves like its float32 source (read through libsndfile, bitwise the old hand-written reader's values)
    /// (within 24-bit quantisation), and --channels picks one channel.
    @Test func solveReadsFlacThroughLibsndfile() throws {
        let audio = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("SequenceIOTests/Fixtures/audio")
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m.safetensors", model)
        try FileManager.default.copyItem(at: audio.appendingPathComponent("pcm24.flac"), to: ws.path("rec.flac"))
        let source = try Audio.read(contentsOf: audio.appendingPathComponent("source_f32.wav")).tensor
        let r = try ws.run([
            "solve", "--model", "m.safetensors", "--input", "rec.flac", "--output", "h.npy", "--precision", "double",
            "--report", "r.json",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let note = "16000 Hz, 2 channels, FLAC (Free Lossless Audio Codec), Signed 24 bit PCM; not resampled"
        #expect(r.stdout.contains("note       " + note), "\(r.stdout)")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.path("r.json"))) as! [String: Any]
        #expect((json["input"] as? [String: Any])?["notes"] as? [String] == [note])
        let steps = source.shape[0]
        #expect(
            maxAbsDiff(
                try NPY.read(contentsOf: ws.path("h.npy")).asDouble(), model.rollout(source.asDouble(), steps: steps))
                < 1e-5)

        let one = TestParaGRU(m: 1, d: 3, seed: 7)
        ws.writeModel("one.safetensors", one)
        let right = try ws.run([
            "solve", "--model", "one.safetensors", "--input", "rec.flac", "--channels", "2", "--output", "r.npy",
            "--precision", "double",
        ])
        #expect(right.status == 0, "\(right.stderr)")
        let x = source.asDouble()
        let channel2: [Double] = (0..<steps).map { x[2 * $0 + 1] }
        #expect(
            maxAbsDiff(try NPY.read(contentsOf: ws.path("r.npy")).asDouble(), one.rollout(channel2, steps: steps))
                < 1e-5)
        let bad = try ws.run([
            "solve", "--model", "one.safetensors", "--input", "rec.flac", "--channels", "3", "--output", "b.npy",
        ])
        #expect(
            bad.status == 1 && bad.stderr == "error: rec.flac: --channels '3' is not a channel or range within 1-2\n",
            "\(bad.stderr)")
        #expect(!ws.exists("b.npy"))
    }

    /// `fit --targets`: features from --columns, the target column predicted (readout [1, d],
    /// its normalisation stored as output_mean/output_std, checked against a naive mean/std);
    /// on a .npy the targets are feature numbers; a bad target is one error line, nothing written.
    @Test func fitPredictsChosenTargets() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        let t = 100
        let c = (0..<t).map { 5 + sin(Double($0) / 6) }
        var lines = ["date;a;b;c"]
        for s in 0..<t {
            let day = String(format: "%02d", s % 28 + 1)
            let month = String(format: "%02d", s / 28 + 1)
            lines.append(
                "2024-\(month)-\(day);\(String(format: "%.3f", cos(Double(s) / 5)).replacingOccurrences(of: ".", with: ","));\(s % 7);\(c[s])"
            )
        }
        ws.writeBytes("d.csv", Data(lines.joined(separator: "\n").utf8))
        let r = try ws.run([
            "fit", "--input", "d.csv", "--columns", "a,b", "--targets", "c", "--output", "m.safetensors",
            "--steps", "3", "--hidden", "4", "--window", "16", "--validation-fraction", "0.2",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("data       d.csv: T = 100, m = 2; predicting c (p = 1) at t+1"), "\(r.stdout)")
        #expect(r.stderr.contains("note: d.csv: read numbers with a decimal comma"), "\(r.stderr)")
        let file = try SafeTensors.read(contentsOf: ws.path("m.safetensors"))
        #expect(file.tensors["readout.weight"]?.shape == [1, 4] && file.tensors["readout.bias"]?.shape == [1])
        #expect(file.metadata["readout_skip"] == nil)
        let split = 80
        let mean = c[..<split].reduce(0, +) / Double(split)
        let std = (c[..<split].map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(split)).squareRoot()
        let stored = try #require(file.metadata["output_mean"].flatMap(Double.init))
        let storedStd = try #require(file.metadata["output_std"].flatMap(Double.init))
        #expect(abs(stored - mean) < 1e-12 && abs(storedStd - std) < 1e-12)
        #expect(file.metadata["input_mean"]?.split(separator: ",").count == 2)
        // The model loads in solve (2 features in, hidden states out).
        ws.writeNPY("x.npy", Tensor(shape: [5, 2], float64: (0..<10).map { Double($0) / 10 }))
        #expect(try ws.run(["solve", "--model", "m.safetensors", "--input", "x.npy"]).status == 0)

        // A .npy recording: --targets by feature number.
        ws.writeNPY("r.npy", Tensor(shape: [60, 3], float64: (0..<180).map { sin(Double($0) / 7) }))
        let n = try ws.run([
            "fit", "--input", "r.npy", "--targets", "3", "--output", "n.safetensors", "--steps", "2", "--hidden", "3",
            "--window", "8",
        ])
        #expect(n.status == 0 && n.stdout.contains("m = 3; predicting column 3 (p = 1)"), "\(n.stdout) \(n.stderr)")
        for (input, spec, message) in [
            ("r.npy", "4", "error: r.npy: --targets '4' is not a column or range within 1-3\n"),
            ("d.csv", "z", "error: d.csv: --targets: no column named 'z'; columns are 'date', 'a', 'b', 'c'\n"),
        ] {
            let bad = try ws.run([
                "fit", "--input", input, "--targets", spec, "--output", "bad.safetensors", "--steps", "1",
            ])
            #expect(bad.status == 1 && bad.stderr.hasSuffix(message), "\(bad.stderr)")
            #expect(!ws.exists("bad.safetensors"))
        }
    }
}
