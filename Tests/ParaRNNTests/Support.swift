import ParaRNN
import ParallelScan

/// Deterministic SplitMix64 generator for reproducible random weights.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func uniform<S: BinaryFloatingPoint>(_ count: Int, _ scale: Double, _ rng: inout SeededGenerator) -> [S] {
    (0..<count).map { _ in S(Double.random(in: -scale...scale, using: &rng)) }
}

/// Random cells of each kind; `scale` sets recurrent gains (≈ contracting below 1, chaotic above).
enum RandomCells {
    static func paraGRU<S: CellMath>(_: S.Type, m: Int, d: Int, scale: Double, seed: UInt64) throws -> ParaGRU<S> {
        var rng = SeededGenerator(seed: seed)
        return try ParaGRU<S>(
            inputSize: m, hiddenSize: d, recurrentGains: uniform(3 * d, scale, &rng),
            inputWeights: uniform(3 * d * m, 1, &rng), inputBias: uniform(3 * d, 0.5, &rng))
    }
    static func paraLSTM<S: CellMath>(_: S.Type, m: Int, d: Int, scale: Double, seed: UInt64) throws -> ParaLSTM<S> {
        var rng = SeededGenerator(seed: seed)
        return try ParaLSTM<S>(
            inputSize: m, hiddenSize: d, recurrentGains: uniform(3 * d, scale, &rng),
            peepholes: uniform(2 * d, scale, &rng), inputWeights: uniform(3 * d * m, 1, &rng),
            inputBias: uniform(3 * d, 0.5, &rng))
    }
    static func gru<S: CellMath>(_: S.Type, m: Int, d: Int, scale: Double, seed: UInt64) throws -> GRU<S> {
        var rng = SeededGenerator(seed: seed)
        let s = scale / Double(d).squareRoot()
        return try GRU<S>(
            inputSize: m, hiddenSize: d, weightIH: uniform(3 * d * m, 1, &rng),
            weightHH: uniform(3 * d * d, s * 1.7, &rng), biasIH: uniform(3 * d, 0.3, &rng),
            biasHH: uniform(3 * d, 0.3, &rng))
    }
    static func lstm<S: CellMath>(_: S.Type, m: Int, d: Int, scale: Double, seed: UInt64) throws -> LSTM<S> {
        var rng = SeededGenerator(seed: seed)
        let s = scale / Double(d).squareRoot()
        return try LSTM<S>(
            inputSize: m, hiddenSize: d, weightIH: uniform(4 * d * m, 1, &rng),
            weightHH: uniform(4 * d * d, s * 1.7, &rng), biasIH: uniform(4 * d, 0.3, &rng),
            biasHH: uniform(4 * d, 0.3, &rng))
    }
    static func elman<S: CellMath>(_: S.Type, m: Int, d: Int, scale: Double, seed: UInt64) throws -> ElmanRNN<S> {
        var rng = SeededGenerator(seed: seed)
        let s = scale / Double(d).squareRoot()
        return try ElmanRNN<S>(
            inputSize: m, hiddenSize: d, weightIH: uniform(d * m, 1, &rng),
            weightHH: uniform(d * d, s * 1.7, &rng), biasIH: uniform(d, 0.3, &rng),
            biasHH: uniform(d, 0.3, &rng))
    }
}

/// An independent reference rollout: the generic `step` of the cell on plain numbers, one
/// sequence at a time, with the state re-laid out per sequence (no solver code involved).
func referenceRollout<C: GenericStepCell>(
    _ cell: C, inputs: [C.Scalar], steps: Int, batch: Int
) -> [[C.Scalar]] {
    let m = cell.inputSize
    let d = cell.hiddenSize
    let g = cell.gateCount
    var result: [[C.Scalar]] = []  // [b] → [T][stateSize] flattened
    for b in 0..<batch {
        var s = [C.Scalar](repeating: 0, count: cell.stateSize)
        var trajectory: [C.Scalar] = []
        for t in 0..<steps {
            // u = W x + bias, computed directly.
            var u = [C.Scalar](repeating: 0, count: g * d)
            for r in 0..<(g * d) {
                var acc = cell.inputBias[r]
                for i in 0..<m { acc += cell.inputWeights[r * m + i] * inputs[(t * batch + b) * m + i] }
                u[r] = acc
            }
            s = cell.step(state: s, projection: u)
            trajectory += s
        }
        result.append(trajectory)
    }
    return result
}

/// Value i of sequence b at step t of a solver state buffer, for the cell's layout.
func stateValue<C: RecurrentCell>(_ cell: C, _ states: [C.Scalar], t: Int, b: Int, i: Int, batch: Int) -> C.Scalar {
    let row = cell.stateRowSize(batch: batch)
    let d = cell.hiddenSize
    switch cell.structure {
    case .diagonal, .dense: return states[t * row + b * cell.stateSize + i]
    case .blockDiagonal: return states[t * row + ((i / d) * batch + b) * d + i % d]
    }
}
