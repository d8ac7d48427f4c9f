import Foundation
import ParaRNN
import ParallelScan

/// A dense layer y = W x + b applied to every row of a `[rows][inputs]` matrix (one GEMM).
public struct Linear<Scalar: CellMath>: Sendable {
    public let inputs: Int
    public let outputs: Int
    /// W, `[outputs][inputs]` row-major.
    public var weights: [Scalar]
    /// b, `[outputs]`.
    public var bias: [Scalar]

    /// W ∼ U(±1/√inputs) (PyTorch's default scale), b = 0.
    public init<G: RandomNumberGenerator>(inputs: Int, outputs: Int, using generator: inout G) {
        self.inputs = inputs
        self.outputs = outputs
        let k = 1 / Double(max(1, inputs)).squareRoot()
        weights = (0..<(inputs * outputs)).map { _ in Scalar(Double.random(in: -k...k, using: &generator)) }
        bias = [Scalar](repeating: 0, count: outputs)
    }

    public init(inputs: Int, outputs: Int, weights: [Scalar], bias: [Scalar]) {
        precondition(weights.count == inputs * outputs && bias.count == outputs)
        self.inputs = inputs
        self.outputs = outputs
        self.weights = weights
        self.bias = bias
    }

    /// Number of parameters (W then b in ``parameterVector``).
    public var parameterCount: Int { weights.count + bias.count }
    public var parameterVector: [Scalar] { weights + bias }

    public mutating func setParameters(_ vector: ArraySlice<Scalar>) {
        weights = Array(vector.prefix(weights.count))
        bias = Array(vector.dropFirst(weights.count))
    }

    /// y = x Wᵀ + b for `rows` rows.
    @inlinable
    public func forward(_ x: [Scalar], rows: Int) -> [Scalar] {
        var y = [Scalar](repeating: 0, count: rows * outputs)
        for r in 0..<rows { for o in 0..<outputs { y[r * outputs + o] = bias[o] } }
        if rows > 0 && inputs > 0 {
            Scalar.gemm(
                transposeA: false, transposeB: true, m: rows, n: outputs, k: inputs, alpha: 1,
                a: x, lda: inputs, b: weights, ldb: inputs, beta: 1, c: &y, ldc: outputs)
        }
        return y
    }

    /// Given ∂L/∂y: returns (∂L/∂x, ∂L/∂W ++ ∂L/∂b).
    @inlinable
    public func backward(_ x: [Scalar], gradient dy: [Scalar], rows: Int) -> (input: [Scalar], parameters: [Scalar]) {
        var dx = [Scalar](repeating: 0, count: rows * inputs)
        var dw = [Scalar](repeating: 0, count: outputs * inputs)
        var db = [Scalar](repeating: 0, count: outputs)
        if rows > 0 && inputs > 0 {
            Scalar.gemm(
                transposeA: false, transposeB: false, m: rows, n: inputs, k: outputs, alpha: 1,
                a: dy, lda: outputs, b: weights, ldb: inputs, beta: 0, c: &dx, ldc: inputs)
            Scalar.gemm(
                transposeA: true, transposeB: false, m: outputs, n: inputs, k: rows, alpha: 1,
                a: dy, lda: outputs, b: x, ldb: inputs, beta: 0, c: &dw, ldc: inputs)
        }
        for r in 0..<rows { for o in 0..<outputs { db[o] += dy[r * outputs + o] } }
        return (dx, dw + db)
    }
}

/// Training losses over `[rows][outputs]` predictions.
public enum Loss: Sendable, Equatable, Codable {
    /// Mean squared error, averaged over all values.
    case meanSquaredError
    /// Softmax cross-entropy; targets hold class indices (as scalars), one per row.
    case crossEntropy

    /// The loss and its gradient with respect to the predictions.
    @inlinable
    public func evaluate<S: BinaryFloatingPoint>(predictions: [S], targets: [S], rows: Int, outputs: Int) -> (
        value: Double, gradient: [S]
    ) {
        switch self {
        case .meanSquaredError:
            let n = Double(predictions.count)
            var value = 0.0
            var gradient = [S](repeating: 0, count: predictions.count)
            for i in predictions.indices {
                let e = Double(predictions[i]) - Double(targets[i])
                value += e * e
                gradient[i] = S(2 * e / n)
            }
            return (value / n, gradient)
        case .crossEntropy:
            var value = 0.0
            var gradient = [S](repeating: 0, count: predictions.count)
            for r in 0..<rows {
                let logits = (0..<outputs).map { Double(predictions[r * outputs + $0]) }
                let top = logits.max() ?? 0
                let exps = logits.map { Foundation.exp($0 - top) }
                let total = exps.reduce(0, +)
                let label = Int(Double(targets[r]))
                value -= (logits[label] - top) - Foundation.log(total)
                for o in 0..<outputs {
                    gradient[r * outputs + o] = S((exps[o] / total - (o == label ? 1 : 0)) / Double(rows))
                }
            }
            return (value / Double(rows), gradient)
        }
    }
}
