import ParallelScan

/// Shared machinery of the cells with dense recurrent weights (GRU, LSTM, Elman): for a range
/// of steps, the recurrent pre-activations g_t = W_hh h_{t−1} + b_hh of every step come from one
/// GEMM over the previous states of the range.
public protocol DenseRecurrence: RecurrentCell {
    /// The cell's four tensors and packed W_hh.
    var weights: DenseWeights<Scalar> { get }
    /// The same cell (activation, projection, …) with other weights of the same shapes.
    func with(weights: DenseWeights<Scalar>) throws(CellError) -> Self
}

extension DenseRecurrence {
    /// G, the weights' gate blocks.
    public var gateCount: Int { weights.gates }
    public var structure: JacobianStructure { .dense }
    /// The fused rollout runs any subset of the batch on its own (`DenseRecurrentPack`).
    public var rollsOutEntriesIndependently: Bool { true }
    public var inputSize: Int { weights.inputSize }
    public var hiddenSize: Int { weights.hiddenSize }
    public var inputWeights: [Scalar] { weights.inputWeights }
    public var inputBias: [Scalar] { weights.inputBias }
    /// W_hh, `[G·d][d]` row-major (`[4d][p]` for a projected LSTM).
    public var recurrentWeights: [Scalar] { weights.recurrentWeights }
    /// b_hh, `[G·d]`.
    public var recurrentBias: [Scalar] { weights.recurrentBias }
    /// W_hh and b_hh packed for the fused kernels (cells with a square W_hh).
    var packedRecurrence: DenseRecurrentPack<Scalar> { weights.packed! }
}

extension DenseRecurrence {
    /// For a rollout (`inPlace`) of a cell without a fused rollout kernel, runs `kernel` one
    /// step at a time, so that each step's recurrent product sees the state the previous step
    /// has just written; returns whether it did (the caller then has nothing left to do).
    func steppedInPlace(
        _ arguments: LinearizeArguments<Scalar>, _ kernel: (LinearizeArguments<Scalar>) -> Void
    ) -> Bool {
        guard arguments.inPlace else { return false }
        var single = arguments
        single.inPlace = false
        let row = stateRowSize(batch: arguments.batch)
        for t in arguments.steps {
            single.steps = t..<(t + 1)
            single.previous =
                t == arguments.steps.lowerBound
                ? arguments.previous : arguments.states + (t - 1) * row
            kernel(single)
        }
        return true
    }

    /// g = W_hh h_{t−1} + b_hh for every step of `steps`: `[count][B][G·d]`.
    /// h_{t−1} is the hidden part (last d values per entry) of the previous state row.
    func recurrentPreactivations(
        steps: Range<Int>, batch: Int, previous: UnsafePointer<Scalar>,
        states: UnsafePointer<Scalar>, into g: UnsafeMutablePointer<Scalar>
    ) {
        let d = hiddenSize
        let n = stateSize
        let gd = gateCount * d
        let row = batch * n
        for i in 0..<(steps.count * batch) { (g + i * gd).update(from: recurrentBias, count: gd) }
        recurrentWeights.withUnsafeBufferPointer { w in
            // First step of the range from `previous`, the rest from `states`.
            if batch == 1 {
                Scalar.gemv(
                    transposed: false, rows: gd, cols: d, alpha: 1, a: w.baseAddress!,
                    x: previous + (n - d), beta: 1, y: g)
            } else {
                Scalar.gemm(
                    transposeA: false, transposeB: true, m: batch, n: gd, k: d, alpha: 1,
                    a: previous + (n - d), lda: n, b: w.baseAddress!, ldb: d, beta: 1, c: g,
                    ldc: gd)
            }
            if steps.count > 1 {
                Scalar.gemm(
                    transposeA: false, transposeB: true, m: (steps.count - 1) * batch, n: gd,
                    k: d, alpha: 1, a: states + steps.lowerBound * row + (n - d), lda: n,
                    b: w.baseAddress!, ldb: d, beta: 1, c: g + batch * gd, ldc: gd)
            }
        }
    }
}
