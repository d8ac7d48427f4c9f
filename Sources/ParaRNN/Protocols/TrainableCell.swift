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
        inputSize: Int, hiddenSize: Int, using generator: inout G
    ) throws(CellError) -> Self
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
