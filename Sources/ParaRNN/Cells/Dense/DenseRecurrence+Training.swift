/// Training for the dense cells: the parameter vector is W_hh, b_hh, W_ih, b_ih
/// (``DenseWeights/parameterVector``); rebuilding keeps the cell's other settings.
extension TrainableCell where Self: DenseRecurrence {
    public var parameterVector: [Scalar] { weights.parameterVector }

    public func with(parameterVector vector: [Scalar]) throws(CellError) -> Self {
        try with(weights: weights.with(parameterVector: vector))
    }
}

extension DifferentiableCell where Self: DenseRecurrence {
    /// W_hh then b_hh, as PyTorch names them.
    public var recurrentParameterLayout: [(name: String, count: Int)] {
        [("weight_hh", recurrentWeights.count), ("bias_hh", recurrentBias.count)]
    }
}
