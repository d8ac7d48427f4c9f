import Foundation
import SequenceIO

/// The `pararnn` executable `swift test` built: next to the test bundle, else under the
/// package's `.build` (debug, then release), or `$PARARNN_BIN`.
let pararnnExecutable: URL = {
    let fm = FileManager.default
    if let path = ProcessInfo.processInfo.environment["PARARNN_BIN"] { return URL(fileURLWithPath: path) }
    var candidates: [URL] = []
    let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var dir = me.deletingLastPathComponent()
    for _ in 0..<4 {  // the binary may sit inside pararnnPackageTests.xctest/Contents/MacOS
        candidates.append(dir.appendingPathComponent("pararnn"))
        dir = dir.deletingLastPathComponent()
    }
    candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("pararnn"))
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    candidates.append(root.appendingPathComponent(".build/debug/pararnn"))
    candidates.append(root.appendingPathComponent(".build/release/pararnn"))
    for c in candidates {
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: c.path, isDirectory: &isDir), !isDir.boolValue, fm.isExecutableFile(atPath: c.path) {
            return c
        }
    }
    fatalError(
        "pararnn executable not found (looked at \(candidates.map(\.path))); run `swift build --product pararnn` or set PARARNN_BIN"
    )
}()

struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `pararnn` with `arguments` in `directory`; stdout and stderr go through files, so
/// that large outputs cannot block the child. `environment` overrides variables (after
/// `PARARNN_THREADS=2`).
func pararnn(_ arguments: [String], in directory: URL, environment overrides: [String: String] = [:]) throws
    -> RunResult
{
    let process = Process()
    process.executableURL = pararnnExecutable
    process.arguments = arguments
    process.currentDirectoryURL = directory
    var environment = ProcessInfo.processInfo.environment
    environment["PARARNN_THREADS"] = "2"
    environment.merge(overrides) { $1 }
    process.environment = environment
    let outURL = directory.appendingPathComponent(".stdout-\(UUID().uuidString)")
    let errURL = directory.appendingPathComponent(".stderr-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    defer {
        try? FileManager.default.removeItem(at: outURL)
        try? FileManager.default.removeItem(at: errURL)
    }
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    try out.close()
    try err.close()
    return RunResult(
        status: process.terminationStatus,
        stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
        stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}

/// A fresh temporary folder with helpers to write inputs and models.
struct Workspace {
    let url: URL
    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("clitests-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> URL { url.appendingPathComponent(name) }
    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name).path) }
    func cleanup() { try? FileManager.default.removeItem(at: url) }
    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> RunResult {
        try pararnn(arguments, in: url, environment: environment)
    }

    /// Files other than the helpers' (no temp files may be left behind).
    func files() -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).filter { !$0.hasPrefix(".std") }
    }

    func writeNPY(_ name: String, _ tensor: Tensor) {
        try! NPY.write(tensor, to: path(name))
    }

    func writeBytes(_ name: String, _ data: Data) {
        try! data.write(to: path(name))
    }

    func writeModel(_ name: String, _ model: TestParaGRU, metadata: [String: String]? = nil) {
        try! SafeTensors.write(
            SafeTensors.File(tensors: model.tensors, metadata: metadata ?? ["cell": "paragru"]), to: path(name))
    }
}

/// Deterministic uniform numbers in [-1, 1).
struct Rng {
    var state: UInt64
    init(_ seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53) * 2 - 1
    }
    mutating func values(_ n: Int, scale: Double = 1) -> [Double] { (0..<n).map { _ in scale * next() } }
}

/// A one-head ParaGRU written out by hand, with an independent reference rollout
/// (`reference/cells.md`): z = σ(A_z h + u^z), r = σ(A_r h + u^r),
/// ĥ = tanh(A_h (h r) + u^h), h' = z ĥ + (1 − z) h, u = x·B + b.
struct TestParaGRU {
    var m: Int, d: Int
    var A: [Double], B: [Double], b: [Double]

    init(m: Int, d: Int, gain: Double = 0.8, seed: UInt64) {
        var rng = Rng(seed)
        self.m = m
        self.d = d
        A = rng.values(3 * d, scale: gain)
        B = rng.values(m * 3 * d, scale: 1)
        b = rng.values(3 * d, scale: 0.5)
    }

    var tensors: [String: Tensor] {
        [
            "A": Tensor(shape: [3, d], float64: A), "B": Tensor(shape: [1, m, 3, d], float64: B),
            "b": Tensor(shape: [3, d], float64: b),
        ]
    }

    /// h for one sequence x `[T][m]` → `[T][d]`.
    func rollout(_ x: [Double], steps: Int) -> [Double] {
        func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
        var h = [Double](repeating: 0, count: d)
        var out: [Double] = []
        for t in 0..<steps {
            var next = h
            for j in 0..<d {
                var u = [0.0, 0.0, 0.0]
                for v in 0..<3 {
                    u[v] = b[v * d + j]
                    for i in 0..<m { u[v] += x[t * m + i] * B[(i * 3 + v) * d + j] }
                }
                let z = sigmoid(A[j] * h[j] + u[0])
                let r = sigmoid(A[d + j] * h[j] + u[1])
                let c = Foundation.tanh(A[2 * d + j] * (h[j] * r) + u[2])
                next[j] = z * c + (1 - z) * h[j]
            }
            h = next
            out += h
        }
        return out
    }
}

func maxAbsDiff(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "\(a.count) vs \(b.count)")
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

/// A test-only WAV file (not product code): `[T, channels]` as 16-bit PCM (`x · 32768` rounded,
/// clamped) or 32-bit float, `WAVE_FORMAT_EXTENSIBLE` for more than two channels.
func testWAV(_ tensor: Tensor, sampleRate: Int, pcm16: Bool) -> Data {
    func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    let channels = tensor.shape[1]
    let bits = pcm16 ? 16 : 32
    let code: UInt16 = pcm16 ? 1 : 3
    var fmt =
        le(UInt16(channels > 2 ? 0xFFFE : code)) + le(UInt16(channels)) + le(UInt32(sampleRate))
        + le(UInt32(sampleRate * channels * bits / 8)) + le(UInt16(channels * bits / 8)) + le(UInt16(bits))
    if channels > 2 {
        fmt +=
            le(UInt16(22)) + le(UInt16(bits)) + le(UInt32(0)) + le(code)
            + [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71]
    }
    let samples: [UInt8] =
        pcm16
        ? tensor.asDouble().flatMap { le(Int16(min(max(($0 * 32768).rounded(), -32768), 32767))) }
        : tensor.asFloat().flatMap { le($0.bitPattern) }
    let body =
        Array("WAVEfmt ".utf8) + le(UInt32(fmt.count)) + fmt + Array("data".utf8) + le(UInt32(samples.count)) + samples
    return Data(Array("RIFF".utf8) + le(UInt32(body.count)) + body)
}
