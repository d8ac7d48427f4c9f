import ParallelScan

/// A differentiable cell that can be rebuilt from a flat parameter vector, so optimisers can
/// update it. The vector order is: recurrent parameters (``DifferentiableCell/recurrentParameterLayout``
/// order), then the input weights `[G·d][m]`, then the input bias `[G·d]` — the same order in
/// which ``flatten(_:)`` lays out a ``SequenceGradients``.
public protocol TrainableCell<Scalar>: DifferentiableCell {
    /// The cell's parameters as one vector.
    var parameterVector: [Scalar] { get }
    /// Rebuilds a cell of the same shape from a parameter vector.
    func with(parameterVector: [Scalar]) throws(CellError) -> Self
    /// A freshly initialised cell (see each conformance for the scheme).
    static func initialized<G: RandomNumberGenerator>(
        inputSize: Int, hiddenSize: Int, using generator: inout G) throws(CellError) -> Self
}

extension TrainableCell {
    /// The gradient in parameter-vector order.
    public func flatten(_ gradients: SequenceGradients<Scalar>) -> [Scalar] {
        var flat: [Scalar] = []
        flat.reserveCapacity(parameterVector.count)
        for (name, _) in recurrentParameterLayout { flat += gradients.recurrent[name] ?? [] }
        return flat + gradients.inputWeights + gradients.inputBias
    }

    /// Splits a parameter vector into (recurrent parts by layout, W, b); checks the length.
    func split(_ vector: [Scalar]) throws(CellError) -> (recurrent: [[Scalar]], weights: [Scalar], bias: [Scalar]) {
        let gd = gateCount * hiddenSize
        let expected = recurrentParameterCount + gd * inputSize + gd
        if vector.count != expected {
            throw .parameterSize(name: "parameter vector", expected: [expected], actual: vector.count)
        }
        var offset = 0
        var parts: [[Scalar]] = []
        for (_, count) in recurrentParameterLayout {
            parts.append(Array(vector[offset..<(offset + count)]))
            offset += count
        }
        let weights = Array(vector[offset..<(offset + gd * inputSize)])
        return (parts, weights, Array(vector[(offset + gd * inputSize)...]))
    }
}

func uniformValues<S: BinaryFloatingPoint, G: RandomNumberGenerator>(
    _ count: Int, _ bound: Double, _ generator: inout G
) -> [S] {
    (0..<count).map { _ in S(Double.random(in: -bound...bound, using: &generator)) }
}

extension ParaGRU: TrainableCell {
    public var parameterVector: [Scalar] { recurrentGains + inputWeights + inputBias }

    public func with(parameterVector vector: [Scalar]) throws(CellError) -> ParaGRU {
        let (recurrent, w, b) = try split(vector)
        return try ParaGRU(inputSize: inputSize, hiddenSize: hiddenSize, recurrentGains: recurrent[0], inputWeights: w, inputBias: b)
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

extension ParaLSTM: TrainableCell {
    public var parameterVector: [Scalar] { recurrentGains + peepholes + inputWeights + inputBias }

    public func with(parameterVector vector: [Scalar]) throws(CellError) -> ParaLSTM {
        let (recurrent, w, b) = try split(vector)
        return try ParaLSTM(inputSize: inputSize, hiddenSize: hiddenSize, recurrentGains: recurrent[0], peepholes: recurrent[1], inputWeights: w, inputBias: b)
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

extension GRU: TrainableCell {
    public var parameterVector: [Scalar] { recurrentWeights + recurrentBias + inputWeights + inputBias }

    public func with(parameterVector vector: [Scalar]) throws(CellError) -> GRU {
        let (recurrent, w, b) = try split(vector)
        return try GRU(inputSize: inputSize, hiddenSize: hiddenSize, weightIH: w, weightHH: recurrent[0], biasIH: b, biasHH: recurrent[1])
    }

    /// PyTorch's default: every weight and bias ∼ U(±1/√d).
    public static func initialized<G: RandomNumberGenerator>(
        inputSize m: Int, hiddenSize d: Int, using generator: inout G
    ) throws(CellError) -> GRU {
        let k = 1 / Double(d).squareRoot()
        return try GRU(
            inputSize: m, hiddenSize: d, weightIH: uniformValues(3 * d * m, k, &generator),
            weightHH: uniformValues(3 * d * d, k, &generator), biasIH: uniformValues(3 * d, k, &generator),
            biasHH: uniformValues(3 * d, k, &generator))
    }
}

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
