/// One parameter tensor as a model file holds it: a shape and row-major values (in Double,
/// whatever the file held).
///
///     let gains = ParameterTensor(shape: [3, 4], values: Array(repeating: 0.5, count: 12))
public struct ParameterTensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Double]

    public init(shape: [Int], values: [Double]) {
        self.shape = shape
        self.values = values
    }

    /// A tensor of a cell's parameters (converted to Double).
    public init<S: BinaryFloatingPoint>(shape: [Int], _ values: [S]) {
        self.init(shape: shape, values: values.map { Double($0) })
    }

    /// ParaRNN's one-head input projection `B` `[1, m, G, d]` from dense input weights W
    /// `[G·d][m]`: B[0, i, v, j] = W[v·d + j][i].
    public static func headProjection<S: BinaryFloatingPoint>(
        inputWeights w: [S], inputSize m: Int, hiddenSize d: Int, gates: Int
    ) -> ParameterTensor {
        var b = [Double](repeating: 0, count: m * gates * d)
        for i in 0..<m {
            for v in 0..<gates {
                for j in 0..<d { b[(i * gates + v) * d + j] = Double(w[(v * d + j) * m + i]) }
            }
        }
        return ParameterTensor(shape: [1, m, gates, d], values: b)
    }
}
