import Foundation
import SequenceIO
import Testing

/// Several recordings (packed solve, fit on several) next to HDF5 inputs and `--targets`: a
/// `.h5` file holding one dataset is a recording like any other; a `file.h5:/dataset`, an HDF5
/// output or `--targets` with several recordings is refused before any work.
@Suite struct PackedHDF5CLITests {
    let model = TestParaGRU(m: 2, d: 3, seed: 5)

    @Test func packedSolveReadsAWholeHDF5File() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m.safetensors", model)
        var rng = Rng(9)
        let a = Tensor(shape: [40, 2], float64: rng.values(80))
        let b = Tensor(shape: [25, 2], float64: rng.values(50))
        ws.writeNPY("a.npy", a)
        try HDF5.write(b, dataset: "/only", to: ws.path("b.h5"))
        let r = try ws.run([
            "solve", "--model", "m.safetensors", "--input", "a.npy", "--input", "b.h5", "--output", "out",
            "--method", "newton", "--precision", "double", "--threads", "2",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        for (name, x, steps) in [("a", a, 40), ("b", b, 25)] {
            let h = try NPY.read(contentsOf: ws.path("out/\(name).npy"))
            #expect(h.shape == [steps, 3])
            #expect(maxAbsDiff(h.asDouble(), model.rollout(x.asDouble(), steps: steps)) < 1e-9, "\(name)")
        }
    }

    @Test func severalRecordingsRefuseDatasetsHDF5OutputAndTargets() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m.safetensors", model)
        var rng = Rng(3)
        ws.writeNPY("a.npy", Tensor(shape: [60, 2], float64: rng.values(120)))
        try HDF5.write(Tensor(shape: [60, 2], float64: rng.values(120)), dataset: "/x", to: ws.path("b.h5"))
        let before = ws.files()
        let fit = ["fit", "--output", "f.safetensors", "--steps", "2", "--hidden", "2", "--window", "16"]
        let cases: [([String], String)] = [
            (
                ["solve", "--model", "m.safetensors", "--input", "a.npy", "--input", "b.h5:/x", "--output", "out"],
                "b.h5:/x: an HDF5 dataset"
            ),
            (
                ["solve", "--model", "m.safetensors", "--input", "a.npy", "--input", "b.h5", "--output", "o.h5:/h"],
                "HDF5 output applies to one recording"
            ),
            (fit + ["--input", "a.npy", "--input", "b.h5:/x"], "b.h5:/x: an HDF5 dataset"),
            (fit + ["--input", "a.npy", "--input", "b.h5", "--targets", "2"], "--targets applies to one recording"),
        ]
        for (arguments, message) in cases {
            let r = try ws.run(arguments)
            #expect(r.status != 0 && r.stderr.contains(message), "\(arguments): \(r.stderr)")
            #expect(ws.files() == before, "\(arguments)")
        }
    }
}
