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
    /// A rollout records g_t = W_hh h_{t−1} + b_hh rows of the packed product's padded width
    /// (``LinearizeArguments/recurrentTape``), which the fused BPTT reads back; `nil` for a
    /// W_hh the fused kernels do not pack (a projected LSTM's).
    public var recurrentTapeStride: Int? { weights.packed?.stride }
    /// W_hh and b_hh packed for the fused kernels (cells with a square W_hh).
    var packedRecurrence: DenseRecurrentPack<Scalar> { weights.packed! }

    /// The diagonals of W_hh's G square gate blocks, gate after gate: `[G][d]`, entry (g, i) =
    /// W_hh[g·d + i][i] (the recurrent part of J's diagonal for quasi-Newton).
    func recurrentDiagonals() -> [Scalar] {
        let d = hiddenSize
        return (0..<(gateCount * d)).map { row in recurrentWeights[row * d + row % d] }
    }

    /// Runs `body` with W_hh (`[G·d][d]`) and ``recurrentDiagonals()`` as pointers.
    func withRecurrentWeightsAndDiagonals<R>(_ body: (UnsafePointer<Scalar>, UnsafePointer<Scalar>) -> R) -> R {
        let diagonals = recurrentDiagonals()
        return recurrentWeights.withUnsafeBufferPointer { w in
            diagonals.withUnsafeBufferPointer { body(w.baseAddress!, $0.baseAddress!) }
        }
    }
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

/// Where one step's lane-wise linearisation of a dense cell reads and writes (see
/// ``LaneLinearizingCell``), at hidden unit 0 of one batch entry: the unit's first-gate
/// projection `u` (gates `lanes` apart), first-gate recurrent pre-activation `g` and W_hh
/// diagonal `weightDiagonals` (gates `hidden` apart), its previous state entry, its new state
/// entry and, for quasi-Newton, its row of J's diagonal.
struct LaneFrame<Scalar> {
    let hidden: Int
    let lanes: Int
    let u: UnsafePointer<Scalar>
    let g: UnsafePointer<Scalar>
    let state: UnsafePointer<Scalar>
    let out: UnsafeMutablePointer<Scalar>
    let diagonal: UnsafeMutablePointer<Scalar>?
    let weightDiagonals: UnsafePointer<Scalar>

    /// The same frame at hidden unit `i`.
    @inline(__always)
    func unit(_ i: Int) -> LaneFrame {
        LaneFrame(
            hidden: hidden, lanes: lanes, u: u + i, g: g + i, state: state + i, out: out + i,
            diagonal: diagonal.map { $0 + i }, weightDiagonals: weightDiagonals + i)
    }
}

/// A dense cell whose linearisation without the full Jacobian (values, and J's diagonal for
/// quasi-Newton) runs lane-wise in SIMD vectors: the cell writes `k` lanes of one step once,
/// generic over the vector width, and ``linearizeLanes(_:)`` runs it over a step's units.
protocol LaneLinearizingCell: DenseRecurrence {
    static func linearizedLanes<V: SIMD>(_: V.Type, _ k: Int, _ frame: LaneFrame<Scalar>) where V.Scalar == Scalar
}

extension LaneLinearizingCell {
    /// One step of one entry: SIMD8 octets, then quads (``forEachLaneGroup(_:octet:quad:)``).
    @inline(__always)
    func linearizeLanes(_ frame: LaneFrame<Scalar>) {
        forEachLaneGroup(
            hiddenSize,
            octet: { Self.linearizedLanes(SIMD8<Scalar>.self, 8, frame.unit($0)) },
            quad: { Self.linearizedLanes(SIMD4<Scalar>.self, $1, frame.unit($0)) })
    }
}
