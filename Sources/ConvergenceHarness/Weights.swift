import ParaRNN
import ParallelScan

/// Harness helpers on the shared generator (``ParallelScan/SplitMix64``).
extension SplitMix64 {
    /// Uniform in [0, 1) with 53 random bits.
    public mutating func unit() -> Double { uniform() }

    /// Uniform in [−1, 1).
    public mutating func symmetric() -> Double { 2 * unit() - 1 }

    /// `count` values uniform in [−bound, bound).
    public mutating func symmetric(_ count: Int, bound: Double) -> [Double] {
        (0..<count).map { _ in bound * symmetric() }
    }

    /// A seed derived from a base seed and labels (FNV-1a over the labels, then one SplitMix64
    /// round), so that independent streams (weights of one cell, inputs) never overlap.
    public static func derive(_ seed: UInt64, _ labels: String...) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in labels.joined(separator: "|").utf8 {
            h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        var g = SplitMix64(seed: seed ^ h)
        return g.next()
    }
}

/// The random parameters of a harness cell, in Double (converted to the case's precision).
///
/// ## Weight scale s
/// The recurrent part is drawn once per (seed, cell, d, m) as a pattern P with entries uniform
/// in [−1, 1) and then multiplied by s, so cases that differ only in s share the same matrix
/// direction (iterations-vs-scale compares like with like).
/// - `paragru`: diagonal gains A = s·P, `[3][d]` (rows z, r, h), i.e. uniform in ±s.
/// - `paralstm`: diagonal gains A = s·P, `[3][d]` (rows f, o, c), uniform in ±s; peepholes
///   C = s·P', `[2][d]`, uniform in ±s.
/// - `gru`, `lstm`, `elman` (dense): every gate block of `weight_hh` is d×d with entries uniform
///   in ±√3·s/√d, i.e. variance s²/d, so each block's spectral radius → s as d grows (circular
///   law); s < 1 is contracting for tanh-type cells, s ≈ 3 is chaotic for Elman.
///
/// The rest does not depend on s: input weights uniform in ±1/√m, biases uniform in ±0.1, and
/// inputs x uniform in ±1 (drawn per (seed, B, m), so a shorter T sees a prefix of a longer one).
public struct WeightFactory: Sendable {
    public var cell: HarnessCell
    public var hiddenSize: Int
    public var inputSize: Int
    public var scale: Double
    public var seed: UInt64

    public init(cell: HarnessCell, hiddenSize: Int, inputSize: Int, scale: Double, seed: UInt64) {
        self.cell = cell
        self.hiddenSize = hiddenSize
        self.inputSize = inputSize
        self.scale = scale
        self.seed = seed
    }

    /// The number of gate rows G of the cell.
    var gates: Int { cell.gates }

    /// The cell's tensors in model-file form (``CellSchema/parameterNames``), drawn by the rules
    /// above from the catalogue schema, so any registered cell gets weights: input weights
    /// `[G·d][m]` and input bias first, then for ParaRNN-style cells `A` `[G][d]` and each
    /// channel tensor (ParaLSTM's peepholes `[2][d]`) uniform in ±s, for PyTorch-style cells
    /// `weight_hh` `[G·d][d]` and `bias_hh`.
    public func tensors() -> CellTensors {
        let d = hiddenSize
        let m = inputSize
        let g = gates
        var rng = SplitMix64(seed: SplitMix64.derive(seed, "weights", cell.rawValue, "\(d)", "\(m)"))
        let inputWeights = rng.symmetric(g * d * m, bound: 1 / Double(m).squareRoot())
        let inputBias = rng.symmetric(g * d, bound: 0.1)
        var p: [String: ParameterTensor] = [:]
        switch cell.schema.naming {
        case .paraRNN:
            p["B"] = .headProjection(inputWeights: inputWeights, inputSize: m, hiddenSize: d, gates: g)
            p["b"] = ParameterTensor(shape: [g, d], values: inputBias)
            p["A"] = ParameterTensor(shape: [g, d], values: rng.symmetric(g * d, bound: scale))
            for extra in cell.schema.channelTensors {
                p[extra.name] = ParameterTensor(
                    shape: [extra.rows, d], values: rng.symmetric(extra.rows * d, bound: scale))
            }
        case .pytorch:
            let bound = 3.0.squareRoot() * scale / Double(d).squareRoot()
            p["weight_ih"] = ParameterTensor(shape: [g * d, m], values: inputWeights)
            p["bias_ih"] = ParameterTensor(shape: [g * d], values: inputBias)
            p["weight_hh"] = ParameterTensor(shape: [g * d, d], values: rng.symmetric(g * d * d, bound: bound))
            p["bias_hh"] = ParameterTensor(shape: [g * d], values: rng.symmetric(g * d, bound: 0.1))
        }
        return CellTensors(inputSize: m, hiddenSize: d, parameters: p)
    }

    /// Inputs `[T][B][m]` uniform in ±1.
    public static func inputs(steps: Int, batch: Int, inputSize: Int, seed: UInt64) -> [Double] {
        var rng = SplitMix64(seed: SplitMix64.derive(seed, "inputs", "\(batch)", "\(inputSize)"))
        return rng.symmetric(steps * batch * inputSize, bound: 1)
    }
}
