import Foundation
import SequenceIO
import Testing

@Suite("pararnn fit and pararnn bench end to end")
struct FitCommandTests {
    /// A smooth two-feature signal: next-step prediction is learnable.
    func recording(steps: Int) -> Tensor {
        var values: [Float] = []
        for t in 0..<steps {
            let x = Double(t) * 0.07
            values += [Float(Foundation.sin(x) + 0.3 * Foundation.sin(3.1 * x)), Float(Foundation.cos(0.5 * x))]
        }
        return Tensor(shape: [steps, 2], float32: values)
    }

    @Test("fit trains, validates every n steps, checkpoints atomically, and writes a model that solve reads")
    func fitThenSolve() throws {
        let w = Workspace()
        defer { w.cleanup() }
        w.writeNPY("signal.npy", recording(steps: 3000))
        let fit = try w.run([
            "fit", "--input", "signal.npy", "--output", "model.safetensors", "--steps", "40",
            "--window", "64", "--batch-size", "4", "--hidden", "4", "--checkpoint-every", "10",
            "--history", "history.json", "--method", "newton", "--validation-every", "15",
        ])
        #expect(fit.status == 0, "\(fit.stderr)")
        #expect(fit.stdout.contains("repeat-the-last-value"))
        #expect(w.files() == ["signal.npy", "model.safetensors", "history.json"])
        let history = try JSONSerialization.jsonObject(with: Data(contentsOf: w.path("history.json"))) as! [String: Any]
        let records = history["records"] as! [[String: Any]]
        #expect(records.count == 40)
        // Validation every 15 steps and after the last.
        let validated = records.filter { $0["validationLoss"] != nil }.map { $0["step"] as! Int }
        #expect(validated == [15, 30, 40])
        let solve = try w.run(["solve", "--model", "model.safetensors", "--input", "signal.npy", "--output", "h.npy"])
        #expect(solve.status == 0, "\(solve.stderr)")
        let h = try NPY.read(contentsOf: w.path("h.npy"))
        #expect(h.shape == [3000, 4])
    }

    @Test("fit rejects bad input with exit 1 and writes nothing")
    func fitBadInput() throws {
        let w = Workspace()
        defer { w.cleanup() }
        w.writeBytes("broken.npy", Data("not a numpy file".utf8))
        let bad = try w.run(["fit", "--input", "broken.npy", "--output", "model.safetensors", "--steps", "3"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("broken.npy"))
        #expect(!w.exists("model.safetensors"))
        let usage = try w.run(["fit", "--input", "broken.npy", "--steps", "0"])
        #expect(usage.status == 1)
    }

    @Test("bench quick prints a table with baselines and writes JSON")
    func benchQuick() throws {
        let w = Workspace()
        defer { w.cleanup() }
        let run = try w.run([
            "bench", "--preset", "quick", "--groups", "conv", "--threads", "1", "--repetitions", "1", "--json",
            "bench.json",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("direct convolution"))
        let results = try JSONSerialization.jsonObject(with: Data(contentsOf: w.path("bench.json"))) as! [[String: Any]]
        #expect(results.count == 3)
        let unknown = try w.run(["bench", "--groups", "nonsense"])
        #expect(unknown.status == 1)
    }
}
