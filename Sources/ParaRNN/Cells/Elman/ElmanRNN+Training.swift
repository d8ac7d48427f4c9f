import ParallelScan

extension ElmanRNN: TrainableCell {
    public var parameterVector: [Scalar] { recurrentWeights + recurrentBias + inputWeights + inputBias }

    public func with(parameterVector vector: [Scalar]) throws(CellError) -> ElmanRNN {
        let (recurrent, w, b) = try split(vector)
        return try ElmanRNN(inputSize: inputSize, hiddenSize: hiddenSize, weightIH: w, weightHH: recurrent[0], biasIH: b, biasHH: recurrent[1], activation: activation)
    }

    /// PyTorch's default: every weight and bias ∼ U(±1/√d).
    public static func initialized<G: RandomNumberGenerator>(
        inputSize m: Int, hiddenSize d: Int, using generator: inout G
    ) throws(CellError) -> ElmanRNN {
        let k = 1 / Double(d).squareRoot()
        return try ElmanRNN(
            inputSize: m, hiddenSize: d, weightIH: uniformValues(d * m, k, &generator),
            weightHH: uniformValues(d * d, k, &generator), biasIH: uniformValues(d, k, &generator),
            biasHH: uniformValues(d, k, &generator))
    }
}
