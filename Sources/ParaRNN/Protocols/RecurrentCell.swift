import ParallelScan

/// What part of the Jacobian a linearisation should produce.
public enum JacobianRequest: Sendable, Equatable {
    /// The cell's own structure (``RecurrentCell/structure``).
    case structured
    /// Only the diagonal (quasi-Newton for dense cells), laid out as a diagonal scan's `a`.
    case diagonalOnly
}

/// A recurrent cell s_t = f(s_{t−1}, x_t) that the solvers can roll out and linearise.
///
/// ## Layouts (per time step, for a batch of B sequences)
/// - input x: `[T][B][m]`;
/// - projection u_t = W x_t + bias (computed for all t by one GEMM): `[T][G][B][d]` — gate-major
///   planes of B·d lanes;
/// - state row: `stateRowSize(batch:)` values, arranged to suit the Jacobian structure:
///   diagonal cells `[B][d]`, k×k block cells `[k][B][d]` (k planes), dense cells
///   `[B][stateSize]`;
/// - Jacobian row: diagonal `[B·d]`; block `[k][k][B·d]`; dense `[B][stateSize][stateSize]`
///   (row-major, J[r][c] = ∂f_r/∂s_c).
public protocol RecurrentCell<Scalar>: Sendable {
    associatedtype Scalar: CellMath

    /// The model-file name of the cell (catalogue cells take it from their ``CatalogueCell/schema``).
    static var cellName: String { get }
    /// Input features per step (m).
    var inputSize: Int { get }
    /// Hidden channels (d): the size of the output h.
    var hiddenSize: Int { get }
    /// State values per sequence (d, or 2d for LSTM-style (c, h)).
    var stateSize: Int { get }
    /// Number of gate pre-activations per channel in the projection (G).
    var gateCount: Int { get }
    /// The Jacobian structure.
    var structure: JacobianStructure { get }
    /// Input weights W, `[G·d][m]` row-major (gate-major rows, PyTorch `weight_ih` layout).
    var inputWeights: [Scalar] { get }
    /// Input bias, `[G·d]`.
    var inputBias: [Scalar] { get }

    /// For every t in `steps`: values_t = f(s_{t−1}, u_t) and, if `jacobians` is given, the
    /// Jacobian at that point. s_{t−1} is `previous` for the first step of the range and
    /// `states[t−1]` after it. All pointers address whole-sequence buffers indexed by t.
    func linearize(
        steps: Range<Int>, batch: Int, previous: UnsafePointer<Scalar>,
        states: UnsafePointer<Scalar>, projections: UnsafePointer<Scalar>,
        values: UnsafeMutablePointer<Scalar>, jacobians: UnsafeMutablePointer<Scalar>?,
        request: JacobianRequest)

    /// The same as the labelled `linearize`, taking its arguments as a value (which also
    /// carries the fused-residual request). The default forwards to the labelled form.
    func linearize(_ arguments: LinearizeArguments<Scalar>)

    /// Whether the cell's kernel can fuse a Newton iteration's residual and offsets into its
    /// linearisation (see ``LinearizeArguments/fusedResidual``). Defaults to false.
    var fusesNewtonOffsets: Bool { get }

    /// Whether the cell's kernel evaluates f(0, u_t) directly when asked with
    /// ``LinearizeArguments/previousStatesAreZero`` (the Newton engine's initial guess). Defaults
    /// to false: the engine then passes zeroed state rows instead.
    var evaluatesFromZeroState: Bool { get }

    /// The sequential rollout s_t = f(s_{t−1}, u_t) over `steps`, from `previous` (the state
    /// before the range), writing `states[t]`. The default runs one-step linearisations.
    func rollout(
        steps: Range<Int>, batch: Int, previous: UnsafePointer<Scalar>,
        projections: UnsafePointer<Scalar>, states: UnsafeMutablePointer<Scalar>)

    /// Whether the rollout can run a subset of the batch entries on its own
    /// (``rollout(steps:batch:entries:previous:projections:states:)``), so that a solver may
    /// split a batch across workers. Defaults to false.
    var rollsOutEntriesIndependently: Bool { get }

    /// The sequential rollout of batch entries `entries` only; every pointer addresses the
    /// full-batch buffers, and only those entries' values are read and written. Callers use it
    /// only when ``rollsOutEntriesIndependently`` is true (the default rolls out the whole
    /// batch and requires `entries == 0..<batch`).
    func rollout(
        steps: Range<Int>, batch: Int, entries: Range<Int>, previous: UnsafePointer<Scalar>,
        projections: UnsafePointer<Scalar>, states: UnsafeMutablePointer<Scalar>)

    /// The hidden output h of one state row, `[B][d]`.
    func hidden(ofStateRow row: UnsafePointer<Scalar>, batch: Int, into h: UnsafeMutablePointer<Scalar>)
}

extension RecurrentCell {
    public var fusesNewtonOffsets: Bool { false }
    public var evaluatesFromZeroState: Bool { false }
    public var rollsOutEntriesIndependently: Bool { false }

    public func rollout(
        steps: Range<Int>, batch: Int, entries: Range<Int>, previous: UnsafePointer<Scalar>,
        projections: UnsafePointer<Scalar>, states: UnsafeMutablePointer<Scalar>
    ) {
        precondition(entries == 0..<batch, "\(Self.cellName) cannot roll out a part of its batch")
        rollout(steps: steps, batch: batch, previous: previous, projections: projections, states: states)
    }

    public func linearize(_ arguments: LinearizeArguments<Scalar>) {
        linearize(
            steps: arguments.steps, batch: arguments.batch, previous: arguments.previous,
            states: arguments.states, projections: arguments.projections,
            values: arguments.values, jacobians: arguments.jacobians, request: arguments.request)
    }

    public func rollout(
        steps: Range<Int>, batch: Int, previous: UnsafePointer<Scalar>,
        projections: UnsafePointer<Scalar>, states: UnsafeMutablePointer<Scalar>
    ) {
        let row = stateRowSize(batch: batch)
        var prev = previous
        for t in steps {
            linearize(
                steps: t..<(t + 1), batch: batch, previous: prev, states: UnsafePointer(states),
                projections: projections, values: states, jacobians: nil, request: .structured)
            prev = UnsafePointer(states + t * row)
        }
    }

    /// Values per state row for a batch.
    @inlinable public func stateRowSize(batch: Int) -> Int { batch * stateSize }

    /// Values per projection row for a batch: G·B·d.
    @inlinable public func projectionRowSize(batch: Int) -> Int { gateCount * batch * hiddenSize }

    /// Values per Jacobian row for a request.
    @inlinable
    public func jacobianRowSize(batch: Int, request: JacobianRequest) -> Int {
        if request == .diagonalOnly { return batch * stateSize }
        switch structure {
        case .diagonal: return batch * stateSize
        case .blockDiagonal(let k): return k * batch * stateSize
        case .dense: return batch * stateSize * stateSize
        }
    }

    /// The state row's hidden part for the default layouts: diagonal `[B][d]` rows are h;
    /// block rows keep h in the last plane; dense rows `[B][stateSize]` keep h last per entry.
    @inlinable
    public func hidden(
        ofStateRow row: UnsafePointer<Scalar>, batch: Int, into h: UnsafeMutablePointer<Scalar>
    ) {
        let d = hiddenSize
        switch structure {
        case .diagonal:
            copyScalars(h, row, count: batch * d)
        case .blockDiagonal(let k):
            copyScalars(h, row + (k - 1) * batch * d, count: batch * d)
        case .dense:
            for b in 0..<batch {
                copyScalars(h + b * d, row + b * stateSize + (stateSize - d), count: d)
            }
        }
    }

    /// The projections u_t = W x_t + bias of `inputs` `[T][B][m]`, as a new `[T][G][B][d]`
    /// array (``project(inputs:steps:batch:projections:pool:)``).
    ///
    ///     let u = cell.projections(of: x, steps: T, batch: 1, pool: .shared)
    public func projections(of inputs: [Scalar], steps: Int, batch: Int, pool: WorkerPool) -> [Scalar] {
        // Every projection value is written by `project` (bias, then the GEMM).
        var projections = uninitializedArray(Scalar.self, count: steps * projectionRowSize(batch: batch))
        inputs.withUnsafeBufferPointer { x in
            projections.withUnsafeMutableBufferPointer { u in
                guard let x = x.baseAddress, let u = u.baseAddress else { return }
                project(inputs: x, steps: steps, batch: batch, projections: u, pool: pool)
            }
        }
        return projections
    }

    /// Computes u_t = W x_t + bias for all t: one GEMM per (gate, batch entry) over a range of
    /// steps, split over the pool. `inputs` is `[T][B][m]`, `projections` `[T][G][B][d]`.
    public func project(
        inputs: UnsafePointer<Scalar>, steps: Int, batch: Int,
        projections: UnsafeMutablePointer<Scalar>, pool: WorkerPool
    ) {
        let m = inputSize
        let d = hiddenSize
        let g = gateCount
        let row = g * batch * d
        let parts = max(1, min(pool.threadCount, steps * row / 65_536))
        let out = UnsafeMutableSendable(projections)
        let weights = inputWeights
        let bias = inputBias
        if let projector = SmallInputProjector(self) {
            // Few inputs (audio, sensor channels): the direct kernel, several times cheaper
            // than a per-row bias copy plus a K = m GEMM.
            let x = UnsafeSendable(inputs)
            pool.forEach(parts) { part in
                let range = ChunkPlan.evenRange(index: part, of: parts, total: steps)
                if range.isEmpty { return }
                projector.project(
                    inputs: x.base + range.lowerBound * batch * m, rows: range.count, batch: batch,
                    into: out.base + range.lowerBound * row)
            }
            return
        }
        weights.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { bias in
                let w = UnsafeSendable(w.baseAddress!)
                let bias = UnsafeSendable(bias.baseAddress!)
                let x = UnsafeSendable(inputs)
                pool.forEach(parts) { part in
                    let range = ChunkPlan.evenRange(index: part, of: parts, total: steps)
                    if range.isEmpty { return }
                    for t in range {
                        for v in 0..<g {
                            for b in 0..<batch {
                                copyScalars(out.base + t * row + (v * batch + b) * d, bias.base + v * d, count: d)
                            }
                        }
                    }
                    if m == 0 { return }
                    for v in 0..<g {
                        for b in 0..<batch {
                            // C[t][j] += Σ_i X[t][b][i] · W[v·d + j][i] over the range.
                            Scalar.gemm(
                                transposeA: false, transposeB: true, m: range.count, n: d, k: m,
                                alpha: 1, a: x.base + (range.lowerBound * batch + b) * m,
                                lda: batch * m, b: w.base + v * d * m, ldb: m, beta: 1,
                                c: out.base + range.lowerBound * row + (v * batch + b) * d,
                                ldc: row)
                        }
                    }
                }
            }
        }
    }
}

/// u = W x + b for cells with at most ``maximumInputs`` inputs, by a direct kernel over rows
/// (``ScanScalar/_smallInnerGEMM(rows:k:n:x:xStride:w:bias:out:outStride:)``) with W
/// transposed per gate (`[G][m][d]`), so the loop over the d outputs is contiguous.
///
/// With one sequence a projection row `[G][1][d]` is contiguous over all gates, so one pass
/// computes the G·d outputs from W transposed as `[m][G·d]`: G·d/4 independent accumulators per
/// row instead of one chain of m dependent additions per gate (LSTM d = 4: 4 chains, not 1).
/// Each output's sum is the same bias + Σ_i w_i x_i in the same order either way.
struct SmallInputProjector<Scalar: ScanScalar>: Sendable {
    static var maximumInputs: Int { 8 }
    let gates: Int, inputs: Int, hidden: Int
    let transposedWeights: [Scalar]
    /// W as `[m][G·d]` (every gate's outputs of input i in one row), for batch 1.
    let inputMajorWeights: [Scalar]
    let bias: [Scalar]

    /// nil when the cell has no inputs or more than ``maximumInputs``.
    init?<C: RecurrentCell>(_ cell: C) where C.Scalar == Scalar {
        let (g, m, d) = (cell.gateCount, cell.inputSize, cell.hiddenSize)
        if m < 1 || m > Self.maximumInputs { return nil }
        (gates, inputs, hidden) = (g, m, d)
        let w = cell.inputWeights
        var t = [Scalar](repeating: 0, count: g * m * d)
        for v in 0..<g {
            for i in 0..<m {
                for j in 0..<d { t[(v * m + i) * d + j] = w[(v * d + j) * m + i] }
            }
        }
        transposedWeights = t
        var wide = [Scalar](repeating: 0, count: g * m * d)
        for i in 0..<m {
            for v in 0..<g {
                for j in 0..<d { wide[i * g * d + v * d + j] = w[(v * d + j) * m + i] }
            }
        }
        inputMajorWeights = wide
        bias = cell.inputBias
    }

    /// Projection rows `[rows][G][B][d]` of inputs `[rows][B][m]`.
    func project(
        inputs x: UnsafePointer<Scalar>, rows: Int, batch: Int, into out: UnsafeMutablePointer<Scalar>
    ) {
        let (g, m, d) = (gates, inputs, hidden)
        let row = g * batch * d
        if batch == 1 {
            inputMajorWeights.withUnsafeBufferPointer { w in
                bias.withUnsafeBufferPointer { bias in
                    smallInnerGEMM(
                        rows: rows, k: m, n: g * d, x: x, xStride: m, w: w.baseAddress!,
                        bias: bias.baseAddress!, out: out, outStride: row)
                }
            }
            return
        }
        transposedWeights.withUnsafeBufferPointer { wt in
            bias.withUnsafeBufferPointer { bias in
                for v in 0..<g {
                    for b in 0..<batch {
                        smallInnerGEMM(
                            rows: rows, k: m, n: d, x: x + b * m, xStride: batch * m,
                            w: wt.baseAddress! + v * m * d, bias: bias.baseAddress! + v * d,
                            out: out + (v * batch + b) * d, outStride: row)
                    }
                }
            }
        }
    }
}
