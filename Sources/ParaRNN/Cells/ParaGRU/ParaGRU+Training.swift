import ParallelScan

extension ParaGRU: TrainableCell {
    public var parameterVector: [Scalar] { recurrentGains + inputWeights + inputBias }

    public func with(parameterVector vector: [Scalar]) throws(CellError) -> ParaGRU {
        let (recurrent, w, b) = try split(vector)
        return try ParaGRU(
            inputSize: inputSize, hiddenSize: hiddenSize, recurrentGains: recurrent[0], inputWeights: w, inputBias: b)
    }

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
