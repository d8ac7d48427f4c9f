import Foundation
import ModelIO
import ParaRNN
import ParallelScan
import SequenceIO
import Testing

extension PyTorchCompatibilityTests {
    /// The NumPy fixture (scripts/make_slstm_fixture.py): a 2-layer ParaSLSTM stack with head-block
    /// input projections; Newton and the sequential rollout reproduce its float64 output.
    @Test func paraSLSTMStackReproducesTheNumPyFixture() throws {
        let model = try ModelFile.load(contentsOf: fixture("paraslstm2.safetensors"))
        #expect(model.kind == .paraslstm && model.layers.count == 2)
        #expect(model.layers.map(\.heads) == [1, 2])
        let input = try NPY.read(contentsOf: fixture("slstm_input.npy"))
        let expected = timeMajor(try NPY.read(contentsOf: fixture("paraslstm2_expected.npy")))
        let (B, T) = (input.shape[0], input.shape[1])
        let cells = try model.cells(as: Double.self)
        for method in [SolverMethod.newton, .sequential] {
            let result = try solveStack(
                cells, inputs: timeMajor(input), steps: T, batch: B,
                options: SolverOptions(method: method, tolerance: 1e-14, fallback: false))
            #expect(result.converged)
            #expect(maxAbsDiff(result.hidden, expected) < 1e-12, "\(method)")
        }
    }

    @Test func paraSLSTMShapesAreChecked() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        var t = fileTensors(.paraslstm, sizes: [2, 4])
        t["A"] = tensor(ParameterTensor(shape: [3, 4], values: [Double](repeating: 0.1, count: 12)))
        do {
            _ = try ModelFile.load(contentsOf: dir.write("bad.safetensors", t, metadata: ["cell": "paraslstm"]))
            Issue.record("a paraslstm A of shape [3, 4] loaded")
        } catch {
            #expect(error.description.contains("expected [4, d]"))
        }
    }
}
