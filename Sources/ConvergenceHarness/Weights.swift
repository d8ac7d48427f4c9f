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
    var gates: Int {
        switch cell {
        case .paragru, .paralstm, .gru: return 3
        case .lstm: return 4
        case .elman: return 1
        }
    }

    /// Input weights `[G·d][m]`, input bias, recurrent weights (diagonal `[3][d]` or dense
    /// `[G·d][d]`), recurrent bias `[G·d]` (dense cells), peepholes `[2][d]` (paralstm).
    public struct Parameters: Sendable {
        public var inputWeights: [Double]
        public var inputBias: [Double]
        public var recurrent: [Double]
        public var recurrentBias: [Double]
        public var peepholes: [Double]
    }

    public func parameters() -> Parameters {
        let d = hiddenSize, m = inputSize, g = gates
        var rng = SplitMix64(seed: SplitMix64.derive(seed, "weights", cell.rawValue, "\(d)", "\(m)"))
        let inputWeights = rng.symmetric(g * d * m, bound: 1 / Double(m).squareRoot())
        let inputBias = rng.symmetric(g * d, bound: 0.1)
        switch cell {
        case .paragru:
            return Parameters(
                inputWeights: inputWeights, inputBias: inputBias,
                recurrent: rng.symmetric(3 * d, bound: scale), recurrentBias: [], peepholes: [])
        case .paralstm:
            let a = rng.symmetric(3 * d, bound: scale)
            let c = rng.symmetric(2 * d, bound: scale)
            return Parameters(
                inputWeights: inputWeights, inputBias: inputBias, recurrent: a, recurrentBias: [],
                peepholes: c)
        case .gru, .lstm, .elman:
            let bound = 3.0.squareRoot() * scale / Double(d).squareRoot()
            let w = rng.symmetric(g * d * d, bound: bound)
            let rb = rng.symmetric(g * d, bound: 0.1)
            return Parameters(
                inputWeights: inputWeights, inputBias: inputBias, recurrent: w, recurrentBias: rb,
                peepholes: [])
        }
    }

    /// Inputs `[T][B][m]` uniform in ±1.
    public static func inputs(steps: Int, batch: Int, inputSize: Int, seed: UInt64) -> [Double] {
        var rng = SplitMix64(seed: SplitMix64.derive(seed, "inputs", "\(batch)", "\(inputSize)"))
        return rng.symmetric(steps * batch * inputSize, bound: 1)
    }
}
