import Foundation
import ModelIO
import ParaRNN
import SequenceIO

/// Deterministic SplitMix64 numbers for reproducible weights.
struct Rng {
    var state: UInt64
    init(_ seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53) * 2 - 1  // uniform in [-1, 1)
    }
    mutating func tensor(_ shape: [Int], scale: Double = 0.5) -> ParameterTensor {
        ParameterTensor(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in scale * next() })
    }
}

/// One layer's parameters of `kind` (m inputs, d channels, H heads for ParaRNN cells).
func randomParameters(_ kind: CellKind, m: Int, d: Int, heads: Int = 1, seed: UInt64) -> [String: ParameterTensor] {
    var rng = Rng(seed)
    switch kind {
    case .paragru, .paralstm:
        var p = [
            "A": rng.tensor([3, d], scale: 0.8), "B": rng.tensor([heads, m / heads, 3, d / heads], scale: 1),
            "b": rng.tensor([3, d]),
        ]
        if kind == .paralstm { p["C"] = rng.tensor([2, d], scale: 0.5) }
        return p
    case .paraslstm:
        var b = rng.tensor([4, d])
        for j in 0..<d { b.values[d + j] += 2 }  // forget gates mostly open
        return [
            "A": rng.tensor([4, d], scale: 0.5), "B": rng.tensor([heads, m / heads, 4, d / heads], scale: 1), "b": b,
        ]
    default:
        let g = kind.gates
        let s = 0.8 / Double(d).squareRoot()
        return [
            "weight_ih": rng.tensor([g * d, m], scale: 1), "weight_hh": rng.tensor([g * d, d], scale: s),
            "bias_ih": rng.tensor([g * d]), "bias_hh": rng.tensor([g * d]),
        ]
    }
}

/// Safetensors tensors of a stack with the file's names.
func fileTensors(
    _ kind: CellKind, sizes: [Int], heads: Int = 1, seed: UInt64 = 1, float64: Bool = false
) -> [String: Tensor] {
    var out: [String: Tensor] = [:]
    let layers = sizes.count - 1
    for l in 0..<layers {
        for (name, t) in randomParameters(kind, m: sizes[l], d: sizes[l + 1], heads: heads, seed: seed + UInt64(l)) {
            out[kind.fileName(of: name, layer: l, layers: layers)] = tensor(t, float64: float64)
        }
    }
    return out
}

func tensor(_ t: ParameterTensor, float64: Bool = false) -> Tensor {
    float64 ? Tensor(shape: t.shape, float64: t.values) : Tensor(shape: t.shape, float32: t.values.map { Float($0) })
}

/// A fresh temporary folder, removed by `cleanup`.
struct TempDir {
    let url: URL
    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("modelio-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> URL { url.appendingPathComponent(name) }
    func cleanup() { try? FileManager.default.removeItem(at: url) }

    /// Writes a safetensors file and returns its URL.
    func write(_ name: String, _ tensors: [String: Tensor], metadata: [String: String]) -> URL {
        let u = file(name)
        try! SafeTensors.write(SafeTensors.File(tensors: tensors, metadata: metadata), to: u)
        return u
    }
}

func fixture(_ name: String) -> URL {
    Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures")!
}

func maxAbsDiff<S: BinaryFloatingPoint>(_ a: [S], _ b: [S]) -> Double {
    precondition(a.count == b.count)
    return zip(a, b).map { abs(Double($0) - Double($1)) }.max() ?? 0
}

/// Random time-major inputs `[T][B][m]`.
func randomInputs(count: Int, seed: UInt64) -> [Double] {
    var rng = Rng(seed)
    return (0..<count).map { _ in rng.next() }
}
