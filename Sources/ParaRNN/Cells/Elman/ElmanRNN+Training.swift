import ParallelScan

extension ElmanRNN: TrainableCell {
    /// PyTorch's default: every weight and bias ∼ U(±1/√d) (``DenseWeights/uniform(inputSize:hiddenSize:gates:using:)``).
    public static func initialized<G: RandomNumberGenerator>(
        inputSize m: Int, hiddenSize d: Int, using generator: inout G
    ) throws(CellError) -> ElmanRNN {
        ElmanRNN(weights: try .uniform(inputSize: m, hiddenSize: d, gates: 1, using: &generator), activation: .tanh)
    }
}
