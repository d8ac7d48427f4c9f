// The example cell of CONTRIBUTING.md ("Adding a cell"): one file and one catalogue line.
// A test (CatalogueTests) registers it, then loads, solves, differentiates and fits it.
import ParaRNN

/// A minimal gated cell with diagonal recurrence (a ParaGRU without the reset gate):
///
///     z_t = σ(a_z ⊙ h_{t−1} + u_z),   c_t = tanh(a_c ⊙ h_{t−1} + u_c),
///     h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ c_t,
///
/// u_t = W x_t + b with G = 2 gate rows (z, c). Model-file tensors (ParaRNN naming):
/// `A` `[2, d]` (a_z, a_c), `B` `[H, m/H, 2, d/H]`, `b` `[2, d]`.
struct MinimalGRU<Scalar: CellMath>: DifferentiableStepCell, TrainableCell, CatalogueCell {
    let inputSize: Int
    let hiddenSize: Int
    /// A, `[2][d]`.
    let gains: [Scalar]
    /// W, `[2d][m]`.
    let inputWeights: [Scalar]
    /// b, `[2d]`.
    let inputBias: [Scalar]

    var stateSize: Int { hiddenSize }
    var gateCount: Int { 2 }
    var structure: JacobianStructure { .diagonal }

    init(inputSize m: Int, hiddenSize d: Int, gains: [Scalar], inputWeights: [Scalar], inputBias: [Scalar])
        throws(CellError)
    {
        guard m > 0, d > 0 else { throw .invalidShape("sizes must be positive (m = \(m), d = \(d))") }
        guard gains.count == 2 * d else { throw .parameterSize(name: "A", expected: [2, d], actual: gains.count) }
        guard inputWeights.count == 2 * d * m else {
            throw .parameterSize(name: "W", expected: [2 * d, m], actual: inputWeights.count)
        }
        guard inputBias.count == 2 * d else {
            throw .parameterSize(name: "b", expected: [2 * d], actual: inputBias.count)
        }
        (inputSize, hiddenSize) = (m, d)
        (self.gains, self.inputWeights, self.inputBias) = (gains, inputWeights, inputBias)
    }

    // MARK: the step, once, generically (values, Jacobians and gradients come from it)

    var recurrentParameters: [Scalar] { gains }
    var recurrentParameterLayout: [(name: String, count: Int)] { [("A", 2 * hiddenSize)] }

    func step<T: CellNumber>(state h: [T], projection u: [T], parameters a: [T]) -> [T] where T.Base == Scalar {
        let d = hiddenSize
        return (0..<d).map { j in
            let z = T.sigmoid(a[j] * h[j] + u[j])
            let c = T.tanh(a[d + j] * h[j] + u[d + j])
            return (T(1) - z) * h[j] + z * c
        }
    }

    // MARK: training (parameter vector: A, then W, then b)

    var parameterVector: [Scalar] { gains + inputWeights + inputBias }

    func with(parameterVector v: [Scalar]) throws(CellError) -> MinimalGRU {
        let (d, m) = (hiddenSize, inputSize)
        guard v.count == 2 * d + 2 * d * m + 2 * d else {
            throw .parameterSize(name: "parameter vector", expected: [4 * d + 2 * d * m], actual: v.count)
        }
        return try MinimalGRU(
            inputSize: m, hiddenSize: d, gains: Array(v[0..<(2 * d)]),
            inputWeights: Array(v[(2 * d)..<(2 * d + 2 * d * m)]), inputBias: Array(v[(2 * d + 2 * d * m)...]))
    }

    static func initialized<G: RandomNumberGenerator>(inputSize m: Int, hiddenSize d: Int, using g: inout G)
        throws(CellError) -> MinimalGRU
    {
        func uniform(_ n: Int, _ bound: Double) -> [Scalar] {
            (0..<n).map { _ in Scalar(Double.random(in: -bound...bound, using: &g)) }
        }
        return try MinimalGRU(
            inputSize: m, hiddenSize: d, gains: uniform(2 * d, 0.5),
            inputWeights: uniform(2 * d * m, 1 / Double(m).squareRoot()),
            inputBias: [Scalar](repeating: 0, count: 2 * d))
    }

    // MARK: the catalogue entry

    static var schema: CellSchema { CellSchema(name: "mingru", gates: 2, naming: .paraRNN) }

    static func make<T: CellMath>(_ t: CellTensors, as _: T.Type) throws(CellError) -> any RecurrentCell<T> {
        try MinimalGRU<T>(
            inputSize: t.inputSize, hiddenSize: t.hiddenSize, gains: t["A"],
            inputWeights: t.denseInputWeights(gates: 2), inputBias: t["b"])
    }

    static func trainableType<T: CellMath>(_: T.Type) -> (any TrainableCell<T>.Type)? { MinimalGRU<T>.self }

    var parameterTensors: [String: ParameterTensor] { paraRNNTensors(gains: gains) }
}
