import ParallelScan

extension LSTM: TrainableCell {
    public var parameterVector: [Scalar] { recurrentWeights + recurrentBias + inputWeights + inputBias }

    public func with(parameterVector vector: [Scalar]) throws(CellError) -> LSTM {
        let (recurrent, w, b) = try split(vector)
        return try LSTM(inputSize: inputSize, hiddenSize: hiddenSize, weightIH: w, weightHH: recurrent[0], biasIH: b, biasHH: recurrent[1])
    }

    /// PyTorch's default: every weight and bias ∼ U(±1/√d).
    public static func initialized<G: RandomNumberGenerator>(
        inputSize m: Int, hiddenSize d: Int, using generator: inout G
    ) throws(CellError) -> LSTM {
        let k = 1 / Double(d).squareRoot()
        return try LSTM(
            inputSize: m, hiddenSize: d, weightIH: uniformValues(4 * d * m, k, &generator),
            weightHH: uniformValues(4 * d * d, k, &generator), biasIH: uniformValues(4 * d, k, &generator),
            biasHH: uniformValues(4 * d, k, &generator))
    }
}
