import Foundation
import SequenceIO
import Testing

/// `pararnn solve` on plain PyTorch exports (`Tests/ModelIOTests/Fixtures/torch`, made by
/// `scripts/torch_exports.py` with PyTorch 2.11).
@Suite struct TorchExportCLITests {
    let torch = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ModelIOTests/Fixtures/torch")
    func path(_ name: String) -> String { torch.appendingPathComponent(name).path }

    @Test func submoduleExportSolvesAndListsIgnoredTensors() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        let r = try ws.run([
            "solve", "--model", path("sub.safetensors"), "--input", path("x.npy"), "--output", "h.npy",
            "--method", "newton",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("gru, 1 layer: 3 → 5"))
        #expect(r.stdout.contains("module     encoder.rnn"))
        #expect(r.stdout.contains("ignored    2 tensors not in the model: head.bias, head.weight"))
        let h = try NPY.read(contentsOf: ws.path("h.npy"))
        let expected = try NPY.read(contentsOf: torch.appendingPathComponent("sub_out.npy"))
        #expect(h.shape == [2, 50, 5])
        #expect(maxAbsDiff(h.asDouble(), expected.asDouble()) < 1e-5)
    }

    @Test func bidirectionalProjectedLSTMWithInitialStates() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        let r = try ws.run([
            "solve", "--model", path("lstm_proj_bi2.safetensors"), "--input", path("x.npy"), "--output", "h.npy",
            "--initial-state", path("lstm_proj_bi2_h0.npy"), "--initial-cell", path("lstm_proj_bi2_c0.npy"),
            "--method", "newton", "--verify",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("lstm, bidirectional, 2 layers: 3 → 2×(6 → proj 3) → 2×(6 → proj 3)"))
        #expect(r.stdout.contains("layer 2 reverse: newton"))
        let h = try NPY.read(contentsOf: ws.path("h.npy"))
        let expected = try NPY.read(contentsOf: torch.appendingPathComponent("lstm_proj_bi2_h0_out.npy"))
        #expect(h.shape == [2, 50, 6])
        #expect(maxAbsDiff(h.asDouble(), expected.asDouble()) < 1e-5)
        // h0 of the wrong shape: exit 1, nothing written.
        let bad = try ws.run([
            "solve", "--model", path("lstm_proj_bi2.safetensors"), "--input", path("x.npy"), "--output", "bad.npy",
            "--initial-state", path("gru_bi2_h0.npy"),
        ])
        #expect(bad.status == 1)
        #expect(
            bad.stderr.contains(
                "gru_bi2_h0.npy: tensor 'h0' has shape [4, 2, 4]: expected [L·D = 4, B = 2, H_out = 3]"),
            "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: ws.path("bad.npy").path))
        let cell = try ws.run([
            "solve", "--model", path("gru_bi2.safetensors"), "--input", path("x.npy"),
            "--initial-cell", path("lstm_proj_bi2_c0.npy"),
        ])
        #expect(cell.status == 1 && cell.stderr.contains("c0 applies only to an LSTM"), "\(cell.stderr)")
    }

    @Test func reluNeedsTheFlagAndModulesNeedAChoice() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        let relu = try ws.run([
            "solve", "--model", path("rnn_relu.safetensors"), "--input", path("x.npy"), "--output", "h.npy",
            "--nonlinearity", "relu", "--method", "quasi-newton", "--tolerance", "1e-6",
        ])
        #expect(relu.status == 0, "\(relu.stderr)")
        #expect(relu.stdout.contains("elman (relu), 1 layer: 3 → 5"))
        let expected = try NPY.read(contentsOf: torch.appendingPathComponent("rnn_relu_out.npy"))
        #expect(maxAbsDiff(try NPY.read(contentsOf: ws.path("h.npy")).asDouble(), expected.asDouble()) < 1e-5)
        let two = try ws.run([
            "solve", "--model", path("two.safetensors"), "--input", path("x.npy"), "--output", "t.npy",
        ])
        #expect(two.status == 1)
        #expect(
            two.stderr.contains("two.safetensors: holds 2 recurrent modules (a, b): pick one with --module PREFIX"),
            "\(two.stderr)")
        #expect(!FileManager.default.fileExists(atPath: ws.path("t.npy").path))
        let b = try ws.run([
            "solve", "--model", path("two.safetensors"), "--input", path("x.npy"), "--module", "b", "--output", "t.npy",
        ])
        #expect(b.status == 0, "\(b.stderr)")
        #expect(b.stdout.contains("ignored    4 tensors not in the model: a.bias_hh_l0"))
        let help = try ws.run(["solve", "--help"])
        for option in ["--module", "--nonlinearity", "--initial-state", "--initial-cell", "state_dict"] {
            #expect(help.stdout.contains(option), "\(option)")
        }
    }

    /// A 2-D input [T, m] takes h0 as [layers·directions, H_out], as PyTorch's unbatched call.
    @Test func unbatchedInputWithInitialState() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        let x = try NPY.read(contentsOf: torch.appendingPathComponent("x.npy"))
        let h0 = try NPY.read(contentsOf: torch.appendingPathComponent("gru_bi2_h0.npy"))  // [4, 2, 4]
        let (T, m) = (x.shape[1], x.shape[2])
        let first = Array(x.asDouble()[0..<(T * m)])
        let h0Values: [Double] = h0.asDouble()
        var h0First: [Double] = []
        for l in 0..<4 { h0First += h0Values[(l * 8)..<(l * 8 + 4)] }  // entry b = 0 of [4][2][4]
        try NPY.encode(Tensor(shape: [T, m], float64: first)).write(to: ws.path("x0.npy"))
        try NPY.encode(Tensor(shape: [4, 4], float64: h0First)).write(to: ws.path("h0.npy"))
        let r = try ws.run([
            "solve", "--model", path("gru_bi2.safetensors"), "--input", "x0.npy", "--initial-state", "h0.npy",
            "--output", "h.npy", "--method", "quasi-newton", "--tolerance", "1e-6",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let h = try NPY.read(contentsOf: ws.path("h.npy"))
        let expected = try NPY.read(contentsOf: torch.appendingPathComponent("gru_bi2_h0_out.npy"))  // [2, 50, 8]
        #expect(h.shape == [T, 8])
        #expect(maxAbsDiff(h.asDouble(), Array(expected.asDouble()[0..<(T * 8)])) < 1e-5)
    }
}
