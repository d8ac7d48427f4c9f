import Foundation
import SequenceIO
import Testing

/// `pararnn fit` on several recordings: a folder or several --input, validation per recording
/// or as whole recordings.
@Suite struct FitRecordingsCLITests {
    func recording(steps: Int, phase: Double) -> Tensor {
        var values: [Float] = []
        for t in 0..<steps {
            let x = Double(t) * 0.07 + phase
            values += [Float(Foundation.sin(x)), Float(Foundation.cos(0.5 * x))]
        }
        return Tensor(shape: [steps, 2], float32: values)
    }

    @Test func folderAndValidationFiles() throws {
        let w = Workspace()
        defer { w.cleanup() }
        try FileManager.default.createDirectory(at: w.path("rec"), withIntermediateDirectories: true)
        w.writeNPY("rec/a.npy", recording(steps: 400, phase: 0))
        w.writeNPY("rec/b.npy", recording(steps: 90, phase: 1))
        w.writeNPY("rec/c.npy", recording(steps: 250, phase: 2))
        let common = ["--steps", "12", "--window", "64", "--batch-size", "4", "--hidden", "4", "--threads", "2"]
        let perRecording = try w.run(["fit", "--input", "rec", "--output", "m1.safetensors"] + common)
        #expect(perRecording.status == 0, "\(perRecording.stderr)")
        #expect(perRecording.stdout.contains("3 recordings, m = 2"), "\(perRecording.stdout)")
        #expect(perRecording.stdout.contains("validating the last 0.1 of each"))
        let whole = try w.run(
            [
                "fit", "--input", "rec/a.npy", "--input", "rec/b.npy", "--input", "rec/c.npy",
                "--validation-files", "b.npy", "--output", "m2.safetensors", "--history", "h.json",
            ] + common)
        #expect(whole.status == 0, "\(whole.stderr)")
        #expect(
            whole.stdout.contains("training 2 (650 steps), validating 1 whole (90 steps: b.npy)"), "\(whole.stdout)")
        let history = try JSONSerialization.jsonObject(with: Data(contentsOf: w.path("h.json"))) as! [String: Any]
        #expect((history["finalLoss"] as! Double).isFinite)
        // The trained model solves a folder of recordings.
        let solve = try w.run(["solve", "--model", "m2.safetensors", "--input", "rec", "--output", "h"])
        #expect(solve.status == 0, "\(solve.stderr)")
        #expect(try NPY.read(contentsOf: w.path("h/b.npy")).shape == [90, 4])
        // A validation file that is not an input, or mismatched features: exit 1, nothing written.
        let missing = try w.run(
            ["fit", "--input", "rec", "--validation-files", "z.npy", "--output", "m3.safetensors"] + common)
        #expect(missing.status == 1 && missing.stderr.contains("z.npy"))
        w.writeNPY("rec/d.npy", Tensor(shape: [50, 3], float32: [Float](repeating: 0, count: 150)))
        let mismatch = try w.run(["fit", "--input", "rec", "--output", "m3.safetensors"] + common)
        #expect(mismatch.status == 1 && mismatch.stderr.contains("d.npy"))
        #expect(!w.exists("m3.safetensors"))
    }
}
