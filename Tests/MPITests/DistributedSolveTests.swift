import Foundation
import SequenceIO
import Testing

/// `mpirun -np R pararnn solve --distributed` against the single-process solve: ParaGRU
/// (diagonal scans), ParaLSTM (2×2 blocks) and a 2-layer PyTorch GRU (dense), T = 103 (not
/// divisible by 2, 3 or 4), B = 2; the pipelined rollout bitwise; failures on one rank.
@Suite(
    "Distributed solve under mpirun",
    .enabled(if: mpirunPath != nil, "mpirun not found: install openmpi-bin (make deps)"))
struct DistributedSolveTests {
    static let steps = 103

    /// A scratch folder with the models and inputs.
    final class Folder {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mpi-solve-\(UUID().uuidString)")
        init() { try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(at: url) }
        func path(_ name: String) -> String { url.appendingPathComponent(name).path }
        var files: Set<String> { Set((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []) }
    }

    static func values(_ count: Int, scale: Double, seed: UInt64) -> [Double] {
        var state = seed
        return (0..<count).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return (Double(z >> 11) / Double(1 << 53) * 2 - 1) * scale
        }
    }

    /// Writes `name.safetensors` for `cell` (paragru, paralstm) with m = 3, d = 4, or copies the
    /// 2-layer PyTorch GRU fixture (m = 3, H = 4); and the input x.npy [2, T, 3].
    static func prepare(_ folder: Folder, cell: String, steps: Int = Self.steps) throws -> String {
        let m = 3
        let d = 4
        let name = "\(cell).safetensors"
        switch cell {
        case "torch_gru2":
            let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("ModelIOTests/Fixtures/torch_gru2.safetensors")
            try FileManager.default.copyItem(atPath: fixture.path, toPath: folder.path(name))
        default:
            var tensors: [String: Tensor] = [
                "A": Tensor(shape: [3, d], float64: values(3 * d, scale: 0.8, seed: 1)),
                "B": Tensor(shape: [1, m, 3, d], float64: values(m * 3 * d, scale: 1, seed: 2)),
                "b": Tensor(shape: [3, d], float64: values(3 * d, scale: 0.5, seed: 3)),
            ]
            if cell == "paralstm" { tensors["C"] = Tensor(shape: [2, d], float64: values(2 * d, scale: 1, seed: 4)) }
            try SafeTensors.write(
                SafeTensors.File(tensors: tensors, metadata: ["cell": cell]),
                to: URL(fileURLWithPath: folder.path(name)))
        }
        if !folder.files.contains("x.npy") {
            try NPY.write(
                Tensor(shape: [2, steps, m], float32: values(2 * steps * m, scale: 1, seed: 9).map { Float($0) }),
                to: URL(fileURLWithPath: folder.path("x.npy")))
        }
        return name
    }

    static func load(_ path: String) throws -> [Float] {
        try NPY.read(contentsOf: URL(fileURLWithPath: path)).asFloat()
    }

    /// One process (no mpirun): the reference.
    static func solveAlone(_ folder: Folder, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        let executable = try #require(builtExecutable("pararnn"))
        process.executableURL = executable
        process.arguments = ["solve"] + arguments
        process.currentDirectoryURL = folder.url
        process.environment = ProcessInfo.processInfo.environment.merging(["PARARNN_THREADS": "2"]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// How the ranks solve: pieces of the default length (one piece at T = 103) with
    /// corrections, pieces of 10 steps (several pieces and corrections per rank), or Newton
    /// iterations over the whole sequence (`--in-memory`: fused passes, dense: unfused).
    static let layouts: [[String]] = [[], ["--segment-length", "10"], ["--in-memory"]]

    @Test(
        "R = 1…4 equals one process (Newton within 1e-5 of one-process Newton)",
        arguments: ["paragru", "paralstm", "torch_gru2"], layouts)
    func newtonMatchesOneProcess(cell: String, layout: [String]) throws {
        let folder = Folder()
        let model = try Self.prepare(folder, cell: cell)
        let pararnn = try #require(builtExecutable("pararnn"))
        #expect(
            try Self.solveAlone(
                folder, ["--model", model, "--input", "x.npy", "--output", "newton.npy", "--method", "newton"]) == 0)
        #expect(
            try Self.solveAlone(
                folder, ["--model", model, "--input", "x.npy", "--output", "rollout.npy", "--method", "sequential"])
                == 0)
        let newton = try Self.load(folder.path("newton.npy"))
        let rollout = try Self.load(folder.path("rollout.npy"))
        for ranks in 1...4 {
            let out = "out\(ranks).npy"
            let run = try mpirun(
                ranks: ranks, pararnn,
                // R = 2 with 2 threads per rank: several chunks per rank, so a chunk's first step
                // reads s_{t−1} from the chunk before it, not from the previous rank.
                [
                    "solve", "--distributed", "--model", model, "--input", "x.npy", "--output", out, "--method",
                    "newton",
                    "--threads", ranks == 2 ? "2" : "1",
                ] + layout,
                in: folder.url)
            #expect(run.status == 0, "\(cell) R=\(ranks) \(layout): \(run.stdout) \(run.stderr)")
            #expect(run.stdout.contains("certified"), "\(cell) R=\(ranks) \(layout): \(run.stdout)")
            let got = try Self.load(folder.path(out))
            #expect(got.count == newton.count)
            let fromNewton = zip(got, newton).map { abs($0 - $1) }.max() ?? .infinity
            let fromRollout = zip(got, rollout).map { abs($0 - $1) }.max() ?? .infinity
            #expect(fromNewton <= 1e-5, "\(cell) R=\(ranks) \(layout): max |Δ| to one-process Newton \(fromNewton)")
            #expect(fromRollout <= 1e-4, "\(cell) R=\(ranks) \(layout): max |Δ| to the rollout \(fromRollout)")
        }
        #expect(!folder.files.contains { $0.hasSuffix(".partial") })
    }

    /// T = 4099 (B = 2): with `--in-memory` each rank's fused passes run 2–4 chunks, so chunk
    /// summaries are composed into the rank's map before the exclusive scan, and later chunks
    /// start from carries inside the rank; with pieces of 300 steps each rank streams 5–7
    /// pieces of several chunks and corrects its first ones.
    @Test(
        "fused Newton with several chunks per rank equals one process",
        arguments: ["paragru", "paralstm"], [["--in-memory"], ["--segment-length", "300"]])
    func fusedChunksMatchOneProcess(cell: String, layout: [String]) throws {
        let folder = Folder()
        let model = try Self.prepare(folder, cell: cell, steps: 4099)
        let pararnn = try #require(builtExecutable("pararnn"))
        let common = ["--model", model, "--input", "x.npy", "--method"]
        #expect(try Self.solveAlone(folder, common + ["newton", "--output", "newton.npy"]) == 0)
        #expect(try Self.solveAlone(folder, common + ["sequential", "--output", "rollout.npy"]) == 0)
        let newton = try Self.load(folder.path("newton.npy"))
        let rollout = try Self.load(folder.path("rollout.npy"))
        for (ranks, threads) in [(2, 4), (3, 2)] {
            let out = "out\(ranks).npy"
            let run = try mpirun(
                ranks: ranks, pararnn,
                ["solve", "--distributed"] + common + ["newton", "--output", out, "--threads", String(threads)]
                    + layout,
                in: folder.url)
            #expect(run.status == 0, "\(cell) R=\(ranks): \(run.stdout) \(run.stderr)")
            #expect(run.stdout.contains("certified"), "\(cell) R=\(ranks): \(run.stdout)")
            let got = try Self.load(folder.path(out))
            #expect(got.count == newton.count)
            let fromNewton = zip(got, newton).map { abs($0 - $1) }.max() ?? .infinity
            let fromRollout = zip(got, rollout).map { abs($0 - $1) }.max() ?? .infinity
            #expect(fromNewton <= 1e-5, "\(cell) R=\(ranks): max |Δ| to one-process Newton \(fromNewton)")
            #expect(fromRollout <= 1e-4, "\(cell) R=\(ranks): max |Δ| to the rollout \(fromRollout)")
        }
    }

    @Test("ELK across 3 ranks in pieces equals the rollout; with --in-memory it is refused")
    func elkInPieces() throws {
        let folder = Folder()
        let model = try Self.prepare(folder, cell: "paralstm")
        let pararnn = try #require(builtExecutable("pararnn"))
        #expect(
            try Self.solveAlone(
                folder, ["--model", model, "--input", "x.npy", "--output", "rollout.npy", "--method", "sequential"])
                == 0)
        let common = ["solve", "--distributed", "--model", model, "--input", "x.npy", "--method", "elk"]
        let run = try mpirun(
            ranks: 3, pararnn, common + ["--output", "elk.npy", "--segment-length", "16"], in: folder.url)
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        #expect(run.stdout.contains("certified"), "\(run.stdout)")
        let got = try Self.load(folder.path("elk.npy"))
        let rollout = try Self.load(folder.path("rollout.npy"))
        let error = zip(got, rollout).map { abs($0 - $1) }.max() ?? .infinity
        #expect(error <= 1e-4, "max |Δ| to the rollout \(error)")
        let refused = try mpirun(ranks: 2, pararnn, common + ["--output", "no.npy", "--in-memory"], in: folder.url)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("--in-memory: method elk"), "\(refused.stderr)")
        #expect(!folder.files.contains("no.npy"))
    }

    @Test("the pipelined rollout over 3 ranks is bitwise the one-process rollout")
    func pipelinedRolloutIsBitwise() throws {
        let folder = Folder()
        let model = try Self.prepare(folder, cell: "paralstm")
        #expect(
            try Self.solveAlone(
                folder, ["--model", model, "--input", "x.npy", "--output", "rollout.npy", "--method", "sequential"])
                == 0)
        let run = try mpirun(
            ranks: 3, try #require(builtExecutable("pararnn")),
            [
                "solve", "--distributed", "--model", model, "--input", "x.npy", "--output", "out.npy", "--method",
                "sequential",
            ],
            in: folder.url)
        #expect(run.status == 0, "\(run.stderr)")
        let got = try Self.load(folder.path("out.npy"))
        let expected = try Self.load(folder.path("rollout.npy"))
        #expect(got.map(\.bitPattern) == expected.map(\.bitPattern))
    }

    @Test("a bad value on one rank, R > T, a killed rank: non-zero exit, no output")
    func failuresLeaveNoOutput() throws {
        let folder = Folder()
        let model = try Self.prepare(folder, cell: "paragru")
        let pararnn = try #require(builtExecutable("pararnn"))
        // NaN at step 100: only the last rank's slice.
        var x = try NPY.read(contentsOf: URL(fileURLWithPath: folder.path("x.npy"))).asFloat()
        x[(1 * Self.steps + 100) * 3 + 1] = .nan
        try NPY.write(Tensor(shape: [2, Self.steps, 3], float32: x), to: URL(fileURLWithPath: folder.path("bad.npy")))
        let before = folder.files
        let bad = try mpirun(
            ranks: 3, pararnn, ["solve", "--distributed", "--model", model, "--input", "bad.npy", "--output", "o.npy"],
            in: folder.url)
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("bad.npy") && bad.stderr.contains("(rank 2 of 3)"), "\(bad.stderr)")
        #expect(bad.stderr.contains("1 of 3 ranks failed"), "\(bad.stderr)")
        #expect(folder.files == before)

        try NPY.write(
            Tensor(shape: [3, 3], float32: Array(x[0..<9])), to: URL(fileURLWithPath: folder.path("short.npy")))
        let many = try mpirun(
            ranks: 4, pararnn,
            ["solve", "--distributed", "--model", model, "--input", "short.npy", "--output", "o.npy"],
            in: folder.url)
        #expect(many.status == 1)
        #expect(many.stderr.contains("4 ranks but only 3 time steps"), "\(many.stderr)")
        #expect(!folder.files.contains("o.npy"))

        let killed = try mpirun(
            ranks: 3, pararnn, ["solve", "--distributed", "--model", model, "--input", "x.npy", "--output", "o.npy"],
            in: folder.url, environment: ["PARARNN_TEST_KILL_RANK": "1"])
        #expect(killed.status != 0)
        #expect(!folder.files.contains { $0.hasPrefix("o.npy") || $0.hasPrefix(".o.npy") }, "\(folder.files)")
    }
}
