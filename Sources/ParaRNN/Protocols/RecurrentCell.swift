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

    /// The width of one (step, entry) row of the recurrent pre-activations a rollout can record
    /// for the cell's BPTT (``LinearizeArguments/recurrentTape``), or `nil` (the default) if it
    /// records none.
    var recurrentTapeStride: Int? { get }

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

    /// The hidden outputs of `steps` consecutive state rows, `[T][B][output width]`: what
    /// ``hidden(ofStateRow:batch:into:)`` gives row by row, with the layout read once (a
    /// solver reached through a type-erased layer runs this generic code for every step).
    func hiddenOutputs(
        ofStates states: UnsafePointer<Scalar>, steps: Int, batch: Int, into h: UnsafeMutablePointer<Scalar>)

    /// Threads worth sharing each step of a sequential rollout of `batch` sequences of `steps`
    /// steps with `threads` threads: 1 (the default) means steps are not split. Dense cells of
    /// large d split one sequence's steps by hidden units (`SplitStepRollout`).
    func stepSplitWorkers(batch: Int, steps: Int, threads: Int) -> Int

    /// Rolls out one sequence from its inputs `[T][m]` and initial state with `workers` threads
    /// sharing every step; `states` `[T][stateSize]`. Only called when
    /// ``stepSplitWorkers(batch:steps:threads:)`` returned `workers` > 1.
    func rolloutSplittingSteps(
        inputs: UnsafePointer<Scalar>, steps: Int, initial: UnsafePointer<Scalar>,
        states: UnsafeMutablePointer<Scalar>, workers: Int)

    /// How a sequential rollout of `batch` ≥ 2 sequences of `steps` steps with `threads`
    /// threads shares its steps in gangs (``RolloutGangs``), or ``RolloutGangs/none`` (the
    /// default): the batch split by sequences. Dense cells whose W_hh does not fit one core's
    /// cache use gangs.
    func rolloutGangs(batch: Int, steps: Int, threads: Int) -> RolloutGangs

    /// Rolls out `batch` sequences from their inputs `[T][B][m]` and initial states `[B][n]`
    /// in `gangs` (``rolloutGangs(batch:steps:threads:)``); `states` `[T][B][n]`.
    func rolloutInGangs(
        inputs: UnsafePointer<Scalar>, steps: Int, batch: Int, initial: UnsafePointer<Scalar>,
        states: UnsafeMutablePointer<Scalar>, gangs: RolloutGangs)
}

extension RecurrentCell {
    public func stepSplitWorkers(batch: Int, steps: Int, threads: Int) -> Int { 1 }

    public func rolloutSplittingSteps(
        inputs: UnsafePointer<Scalar>, steps: Int, initial: UnsafePointer<Scalar>,
        states: UnsafeMutablePointer<Scalar>, workers: Int
    ) {
        preconditionFailure("\(Self.cellName) does not split its steps across threads")
    }

    public func rolloutGangs(batch: Int, steps: Int, threads: Int) -> RolloutGangs { .none }

    public func rolloutInGangs(
        inputs: UnsafePointer<Scalar>, steps: Int, batch: Int, initial: UnsafePointer<Scalar>,
        states: UnsafeMutablePointer<Scalar>, gangs: RolloutGangs
    ) {
        preconditionFailure("\(Self.cellName) does not roll out in gangs")
    }

    public var fusesNewtonOffsets: Bool { false }
    public var evaluatesFromZeroState: Bool { false }
    public var rollsOutEntriesIndependently: Bool { false }
    public var recurrentTapeStride: Int? { nil }

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

    public func hiddenOutputs(
        ofStates states: UnsafePointer<Scalar>, steps: Int, batch: Int, into h: UnsafeMutablePointer<Scalar>
    ) {
        let (n, d, structure) = (stateSize, hiddenSize, self.structure)
        let row = batch * n
        let width = batch * d
        for t in 0..<steps {
            let (source, out) = (states + t * row, h + t * width)
            switch structure {
            case .diagonal:
                copyScalars(out, source, count: width)
            case .blockDiagonal(let k):
                copyScalars(out, source + (k - 1) * width, count: width)
            case .dense:
                for b in 0..<batch { copyScalars(out + b * d, source + b * n + (n - d), count: d) }
            }
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

    /// Computes u_t = W x_t + bias for all t (see ``InputProjection``). `inputs` is `[T][B][m]`,
    /// `projections` `[T][G][B][d]`. A caller projecting block after block builds one
    /// ``InputProjection`` and reuses it instead.
    public func project(
        inputs: UnsafePointer<Scalar>, steps: Int, batch: Int,
        projections: UnsafeMutablePointer<Scalar>, pool: WorkerPool
    ) {
        InputProjection(self).project(
            inputs: inputs, steps: steps, batch: batch, projections: projections, pool: pool)
    }
}
