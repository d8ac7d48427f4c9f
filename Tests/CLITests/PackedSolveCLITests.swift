import Foundation
import SequenceIO
import Testing

/// `pararnn solve` on several recordings: a folder or several --input files, one packed solve.
@Suite struct PackedSolveCLITests {
    let model = TestParaGRU(m: 2, d: 3, seed: 11)

    func recording(_ steps: Int, seed: UInt64) -> Tensor {
        var rng = Rng(seed)
        return Tensor(shape: [steps, 2], float64: rng.values(steps * 2))
    }

    @Test func folderOfRecordings() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m.safetensors", model)
        try FileManager.default.createDirectory(at: ws.path("rec"), withIntermediateDirectories: true)
        let lengths = ["a": 1, "b": 300, "c": 57]
        for (name, steps) in lengths { ws.writeNPY("rec/\(name).npy", recording(steps, seed: UInt64(steps))) }
        try "x,y\n0.5,-0.25\n0.125,1\n".write(to: ws.path("rec/d.csv"), atomically: true, encoding: .utf8)
        let r = try ws.run([
            "solve", "--model", "m.safetensors", "--input", "rec", "--output", "out",
            "--method", "newton", "--precision", "double", "--threads", "2", "--report", "r.json",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("4 recordings, 360 steps in all"), "\(r.stdout)")
        #expect(r.stdout.contains("converged"))
        for (name, steps) in lengths {
            let h = try NPY.read(contentsOf: ws.path("out/\(name).npy"))
            #expect(h.shape == [steps, 3])
            let want = model.rollout(recording(steps, seed: UInt64(steps)).asDouble(), steps: steps)
            #expect(maxAbsDiff(h.asDouble(), want) < 1e-9, "\(name)")
        }
        let d = try NPY.read(contentsOf: ws.path("out/d.npy"))
        #expect(maxAbsDiff(d.asDouble(), model.rollout([0.5, -0.25, 0.125, 1], steps: 2)) < 1e-9)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.path("r.json"))) as! [String: Any]
        let per = json["perRecording"] as! [[String: Any]]
        #expect(per.map { $0["file"] as! String } == ["a.npy", "b.npy", "c.npy", "d.csv"])
        #expect(per.allSatisfy { ($0["residual"] as! Double) <= json["tolerance"] as! Double })
        #expect(
            Set(try FileManager.default.contentsOfDirectory(atPath: ws.path("out").path)) == [
                "a.npy", "b.npy", "c.npy", "d.npy",
            ])
    }

    @Test func verifyComparesEachRecordingWithItsRollout() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m.safetensors", model)
        ws.writeNPY("p.npy", recording(200, seed: 4))
        ws.writeNPY("q.npy", recording(1, seed: 5))
        ws.writeNPY("r.npy", recording(60, seed: 6))
        let r = try ws.run([
            "solve", "--model", "m.safetensors", "--input", "p.npy", "--input", "q.npy", "--input", "r.npy",
            "--output", "o", "--method", "newton", "--precision", "double", "--threads", "2", "--verify",
            "--report", "v.json",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("verify     sequential"), "\(r.stdout)")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.path("v.json"))) as! [String: Any]
        #expect((json["maxAbsDifference"] as? Double ?? 1) < 1e-9)
        let per = json["perRecording"] as! [[String: Any]]
        #expect(per.count == 3 && per.allSatisfy { ($0["maxAbsDifference"] as? Double ?? 1) < 1e-9 }, "\(per)")
        #expect(ws.exists("o/p.npy") && ws.exists("o/q.npy") && ws.exists("o/r.npy"))
    }

    @Test func severalInputFilesAndRefusals() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeModel("m.safetensors", model)
        ws.writeNPY("p.npy", recording(40, seed: 1))
        ws.writeNPY("q.npy", recording(9, seed: 2))
        let r = try ws.run([
            "solve", "--model", "m.safetensors", "--input", "q.npy", "--input", "p.npy",
            "--output", "o", "--method", "sequential", "--precision", "double",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("2 recordings, 49 steps"))
        let q = try NPY.read(contentsOf: ws.path("o/q.npy"))
        #expect(maxAbsDiff(q.asDouble(), model.rollout(recording(9, seed: 2).asDouble(), steps: 9)) < 1e-12)
        // The output folder may not be the input folder.
        try FileManager.default.createDirectory(at: ws.path("rec"), withIntermediateDirectories: true)
        ws.writeNPY("rec/a.npy", recording(5, seed: 3))
        let same = try ws.run(["solve", "--model", "m.safetensors", "--input", "rec", "--output", "rec"])
        #expect(same.status == 1 && same.stderr.contains("input folder"), "\(same.stderr)")
        // A bad recording: exit 1, nothing written (all or nothing).
        ws.writeNPY("rec/b.npy", Tensor(shape: [4, 5], float64: [Double](repeating: 0, count: 20)))
        let bad = try ws.run(["solve", "--model", "m.safetensors", "--input", "rec", "--output", "none"])
        #expect(bad.status == 1 && bad.stderr.contains("b.npy"), "\(bad.stderr)")
        #expect(!ws.exists("none"))
        // A .npy --output with several inputs is refused.
        let file = try ws.run([
            "solve", "--model", "m.safetensors", "--input", "p.npy", "--input", "q.npy", "--output", "h.npy",
        ])
        #expect(file.status != 0 && file.stderr.contains("folder"))
    }
}
