import Foundation
import SequenceIO
import Testing

private func bits(_ t: Tensor) -> [UInt64] {
    switch t.storage {
    case .float32(let v): return v.map { UInt64($0.bitPattern) }
    case .float64(let v): return v.map(\.bitPattern)
    }
}

/// `solve` and `fit` with HDF5 datasets in and out: the same hidden states, bit for bit, as the
/// `.npy` path; hostile inputs are one error line and no output.
@Suite("HDF5 input/output (CLI)")
struct HDF5CLITests {
    let model = TestParaGRU(m: 2, d: 3, seed: 31)

    @Test func solveReadsAndWritesDatasetsLikeNPY() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m.safetensors", model)
        var rng = Rng(4)
        let x = Tensor(shape: [150, 2], float64: rng.values(300))
        let batch = Tensor(shape: [3, 40, 2], float32: rng.values(240).map { Float($0) })
        ws.writeNPY("x.npy", x)
        ws.writeNPY("b.npy", batch)
        try HDF5.write(x, dataset: "/run/x", to: ws.path("in.h5"))
        try HDF5.write(
            batch, dataset: "/run/batch",
            to: ws.path("in.h5").deletingLastPathComponent().appendingPathComponent("b.h5"), chunkRows: 1,
            deflateLevel: 5)
        for precision in ["float", "double"] {
            for (h5, npy) in [("in.h5:/run/x", "x.npy"), ("b.h5:/run/batch", "b.npy"), ("b.h5", "b.npy")] {
                let a = try ws.run([
                    "solve", "--model", "m.safetensors", "--input", npy, "--output", "ref.npy", "--precision",
                    precision, "--method", "newton",
                ])
                #expect(a.status == 0, "\(a.stderr)")
                // HDF5 in, HDF5 out (in memory) and HDF5 in, .npy out (streamed).
                let b = try ws.run([
                    "solve", "--model", "m.safetensors", "--input", h5, "--output", "out/h.h5:/states/h", "--precision",
                    precision, "--method", "newton",
                ])
                #expect(b.status == 0, "\(b.stderr)")
                let c = try ws.run([
                    "solve", "--model", "m.safetensors", "--input", h5, "--output", "s.npy", "--precision", precision,
                    "--method", "newton",
                ])
                #expect(c.status == 0, "\(c.stderr)")
                let ref = try NPY.read(contentsOf: ws.path("ref.npy"))
                let fromH5 = try HDF5.read(contentsOf: ws.path("out/h.h5"), dataset: "/states/h")
                #expect(fromH5.shape == ref.shape && fromH5.scalarType == ref.scalarType)
                #expect(bits(fromH5) == bits(ref), "\(h5) \(precision)")
                #expect(bits(try NPY.read(contentsOf: ws.path("s.npy"))) == bits(ref), "\(h5) \(precision)")
                #expect(b.stdout.contains("dataset /run/"), "\(b.stdout)")
            }
        }
        // The default output dataset is /hidden.
        let d = try ws.run(["solve", "--model", "m.safetensors", "--input", "in.h5:/run/x", "--output", "d.h5"])
        #expect(d.status == 0, "\(d.stderr)")
        #expect(try HDF5.datasets(in: ws.path("d.h5")) == ["/hidden"])
    }

    @Test func hostileDatasetsFailWithOneLineAndNoOutput() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m.safetensors", model)
        try HDF5.write(
            Tensor(shape: [10, 2], float32: (0..<20).map { Float($0) / 20 }), dataset: "/x", to: ws.path("in.h5"))
        try HDF5.write(Tensor(shape: [1, 1, 2, 2], float32: [0, 0, 0, 0]), dataset: "/r4", to: ws.path("r4.h5"))
        ws.writeBytes("fake.h5", Data("not hdf5\n".utf8))
        let cases: [([String], String)] = [
            (["--input", "in.h5:/nope"], "error: in.h5: no dataset /nope (datasets: /x)\n"),
            (["--input", "r4.h5:/r4"], "error: r4.h5: dataset /r4 has rank 4; expected [T, m] or [B, T, m]\n"),
            (["--input", "fake.h5:/x"], "error: fake.h5: not a HDF5 file (bad magic bytes)\n"),
            (["--input", "x.npy:/x"], ""),
        ]
        for (arguments, message) in cases {
            for output in ["o.npy", "o.h5:/h"] {
                let r = try ws.run(["solve", "--model", "m.safetensors", "--output", output] + arguments)
                #expect(r.status != 0)
                if !message.isEmpty { #expect(r.stderr == message, "\(arguments) \(output)") }
                #expect(!ws.exists("o.npy") && !ws.exists("o.h5"))
            }
        }
        let badPath = try ws.run(["solve", "--model", "m.safetensors", "--input", "in.h5:/x", "--output", "o.h5:/a//b"])
        #expect(badPath.status != 0 && badPath.stderr.contains("is not a dataset path"), "\(badPath.stderr)")
        // An output that is the input file is refused before any work.
        let same = try ws.run(["solve", "--model", "m.safetensors", "--input", "in.h5:/x", "--output", "in.h5:/h"])
        #expect(same.status == 1 && same.stderr.contains("refusing to overwrite an input"), "\(same.stderr)")
        #expect(ws.files() == ["m.safetensors", "in.h5", "r4.h5", "fake.h5"])
    }

    @Test func fitTrainsOnADataset() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        let t = 120
        let x = Tensor(shape: [t, 2], float64: (0..<t).flatMap { [sin(Double($0) / 5), cos(Double($0) / 7)] })
        try HDF5.write(x, dataset: "/lab/x", to: ws.path("lab.h5"))
        let r = try ws.run([
            "fit", "--input", "lab.h5:/lab/x", "--output", "m.safetensors", "--steps", "2", "--hidden", "4", "--window",
            "16",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("data       lab.h5: T = 120, m = 2"), "\(r.stdout)")
        #expect(ws.exists("m.safetensors"))
    }
}
