import ParallelScan

extension ParaLSTM: TrainableCell {
    public var parameterVector: [Scalar] { recurrentGains + peepholes + inputWeights + inputBias }

    public func with(parameterVector vector: [Scalar]) throws(CellError) -> ParaLSTM {
        let (recurrent, w, b) = try split(vector)
        return try ParaLSTM(
            inputSize: inputSize, hiddenSize: hiddenSize, recurrentGains: recurrent[0], peepholes: recurrent[1],
            inputWeights: w, inputBias: b)
    }

    /// A ∼ U(−1, 1), C ∼ U(−0.5, 0.5), W ∼ U(±1/√m), forget-gate bias +1 (remember by
    /// default), other biases 0.
    public static func initialized<G: RandomNumberGenerator>(
        inputSize m: Int, hiddenSize d: Int, using generator: inout G
    ) throws(CellError) -> ParaLSTM {
        var bias = [Scalar](repeating: 0, count: 3 * d)
        for j in 0..<d { bias[j] = 1 }
        return try ParaLSTM(
            inputSize: m, hiddenSize: d, recurrentGains: uniformValues(3 * d, 1, &generator),
            peepholes: uniformValues(2 * d, 0.5, &generator),
            inputWeights: uniformValues(3 * d * m, 1 / Double(max(1, m)).squareRoot(), &generator),
            inputBias: bias)
    }
}
