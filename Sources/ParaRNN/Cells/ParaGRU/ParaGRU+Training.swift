import ParallelScan

/// The parameter vector (gains, W, b) and its inverse come from ``DiagonalGainCell``.
extension ParaGRU: TrainableCell {
    /// A ∼ U(−1, 1) (recurrent gains within the contracting range), W ∼ U(±1/√m), b = 0.
    public static func initialized<G: RandomNumberGenerator>(
        inputSize m: Int, hiddenSize d: Int, using generator: inout G
    ) throws(CellError) -> ParaGRU {
        try ParaGRU(
            inputSize: m, hiddenSize: d, recurrentGains: uniformValues(3 * d, 1, &generator),
            inputWeights: uniformValues(3 * d * m, 1 / Double(max(1, m)).squareRoot(), &generator),
            inputBias: [Scalar](repeating: 0, count: 3 * d))
    }
}
