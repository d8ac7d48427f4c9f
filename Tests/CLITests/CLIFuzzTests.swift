import Foundation
import SequenceIO
import Testing

/// A seeded end-to-end fuzz of `pararnn solve` (issue 20): models and inputs with extreme but
/// finite values, sometimes corrupted bytes, random methods and precisions. Properties: the
/// exit code is 0, 1 or 2; exit 0 means the hidden states were written and are all finite;
/// any other exit leaves no hidden states and says why in one line; no stray files.
/// `PARARNN_CLI_FUZZ_CASES` runs more cases (default 40).
@Suite("CLI fuzz")
struct CLIFuzzTests {
    static let cases: Int = {
        if let text = ProcessInfo.processInfo.environment["PARARNN_CLI_FUZZ_CASES"], let n = Int(text), n > 0 {
            return n
        }
        return 40
    }()

    /// SplitMix64 (all 64 bits, so `random(in:using:)` is uniform).
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let extremes: [Double] = [1, 3, 1e10, 1e30, 3e38, -3e38, 1e-30, 1e300]

    @Test("solve never exits 0 with non-finite output and leaves no stray files")
    func solveFuzz() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        var g = Generator(state: 2020)
        var outcomes = [Int32: Int]()
        for _ in 0..<Self.cases {
            // One case in four is the overflow: weights ±3e38, inputs +1e30, float
            // (a row that meets both signs sums to Inf − Inf = NaN).
            let overflow = Int.random(in: 0..<4, using: &g) == 0
            let m = overflow ? 2 : Int.random(in: 1...3, using: &g)
            let d = Int.random(in: 1...3, using: &g)
            let steps = Int.random(in: 1...40, using: &g)
            let scale = overflow ? 3e38 : Self.extremes.randomElement(using: &g)!
            let inputScale = overflow ? 1e30 : Self.extremes.randomElement(using: &g)!
            let float64 = overflow ? false : Bool.random(using: &g)
            func values(_ n: Int, _ s: Double) -> [Double] {
                (0..<n).map { _ in
                    overflow ? (Bool.random(using: &g) ? s : -s) : s * Double.random(in: -1...1, using: &g)
                }
            }
            func inputs(_ n: Int, _ s: Double) -> [Double] {
                overflow ? [Double](repeating: s, count: n) : values(n, s)
            }
            func tensor(_ shape: [Int], _ s: Double) -> Tensor {
                let v = values(shape.reduce(1, *), s)
                return float64 ? Tensor(shape: shape, float64: v) : Tensor(shape: shape, float32: v.map { Float($0) })
            }
            let cell = ["paragru", "paralstm", "gru", "lstm", "elman"].randomElement(using: &g)!
            var tensors: [String: Tensor]
            switch cell {
            case "paragru":
                tensors = ["A": tensor([3, d], scale), "B": tensor([1, m, 3, d], scale), "b": tensor([3, d], 1)]
            case "paralstm":
                tensors = [
                    "A": tensor([3, d], scale), "B": tensor([1, m, 3, d], scale), "C": tensor([2, d], 1),
                    "b": tensor([3, d], 1),
                ]
            default:
                let rows = (cell == "lstm" ? 4 : cell == "gru" ? 3 : 1) * d
                tensors = [
                    "weight_ih_l0": tensor([rows, m], scale), "weight_hh_l0": tensor([rows, d], scale),
                    "bias_ih_l0": tensor([rows], 1), "bias_hh_l0": tensor([rows], scale),
                ]
            }
            var model = SafeTensors.encode(SafeTensors.File(tensors: tensors, metadata: ["cell": cell]))
            let x = inputs(steps * m, inputScale)
            var input = NPY.encode(
                float64
                    ? Tensor(shape: [steps, m], float64: x) : Tensor(shape: [steps, m], float32: x.map { Float($0) }))
            // Sometimes a corrupted byte or a cut.
            if !overflow, Int.random(in: 0..<4, using: &g) == 0 {
                let corruptModel = Bool.random(using: &g)
                var bytes = [UInt8](corruptModel ? model : input)
                let i = Int.random(in: 0..<bytes.count, using: &g)
                if Bool.random(using: &g) {
                    bytes[i] ^= UInt8.random(in: 1...255, using: &g)
                } else {
                    bytes = Array(bytes.prefix(i))
                }
                if corruptModel { model = Data(bytes) } else { input = Data(bytes) }
            }
            ws.writeBytes("m.safetensors", model)
            ws.writeBytes("x.npy", input)
            var arguments = [
                "solve", "--model", "m.safetensors", "--input", "x.npy", "--output", "h.npy",
                "--method", ["automatic", "sequential", "newton", "damped"].randomElement(using: &g)!,
                "--precision", overflow || Bool.random(using: &g) ? "float" : "double",
            ]
            if Bool.random(using: &g) { arguments.append("--verify") }
            if Int.random(in: 0..<4, using: &g) == 0 { arguments.append("--allow-unconverged") }
            let r = try ws.run(arguments)
            outcomes[r.status, default: 0] += 1
            #expect([0, 1, 2].contains(r.status), "\(arguments): \(r.stderr)")
            if r.status == 0 {
                let h = try NPY.read(contentsOf: ws.path("h.npy"))
                #expect(
                    h.asDouble().allSatisfy { $0.isFinite }, "exit 0 with non-finite output: \(arguments) \(r.stdout)")
                #expect(r.stdout.contains(": converged"))
            } else {
                #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
                if !arguments.contains("--allow-unconverged") || r.status == 1 || r.stderr.contains("non-finite") {
                    #expect(!ws.exists("h.npy"), "\(arguments): \(r.stderr)")
                }
            }
            if ws.exists("h.npy") {
                #expect(
                    try NPY.read(contentsOf: ws.path("h.npy")).asDouble().allSatisfy { $0.isFinite } || r.status == 2)
            }
            #expect(ws.files().subtracting(["m.safetensors", "x.npy", "h.npy"]).isEmpty, "stray files: \(ws.files())")
            try? FileManager.default.removeItem(at: ws.path("h.npy"))
        }
        print("CLI fuzz: \(Self.cases) solves, exit codes \(outcomes.sorted { $0.key < $1.key })")
        #expect(outcomes[0, default: 0] > 0 && outcomes[1, default: 0] > 0 && outcomes[2, default: 0] > 0)
    }
}
