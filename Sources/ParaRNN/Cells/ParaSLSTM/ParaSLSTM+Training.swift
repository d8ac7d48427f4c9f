import Foundation
import ParallelScan

/// The parameter vector (gains, W, b) and its inverse come from ``DiagonalGainCell``.
extension ParaSLSTM: TrainableCell {
    /// R ∼ U(−0.5, 0.5), W ∼ U(±1/√m), forget-gate bias +3 (long memory), other biases 0.
    public static func initialized<G: RandomNumberGenerator>(
        inputSize m: Int, hiddenSize d: Int, using generator: inout G
    ) throws(CellError) -> ParaSLSTM {
        var bias = [Scalar](repeating: 0, count: 4 * d)
        for j in 0..<d { bias[d + j] = 3 }
        return try ParaSLSTM(
            inputSize: m, hiddenSize: d, recurrentGains: uniformValues(4 * d, 0.5, &generator),
            inputWeights: uniformValues(4 * d * m, 1 / Double(max(1, m)).squareRoot(), &generator),
            inputBias: bias)
    }
}
