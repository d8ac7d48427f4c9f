import ParaRNN
import ParallelScan

/// A stack of recurrent layers of one cell kind followed by a linear readout:
///
///     h⁰ = x,   hˡ = RNNˡ(hˡ⁻¹) (+ hˡ⁻¹ if `residual` and the sizes match),
///     y_t = W_out h^L_t + b_out (+ x_t if `inputSkip`: the model predicts a correction to its
///     input, which suits next-step prediction of smooth signals)
///
/// Each recurrent layer is solved over the whole sequence by ``SequenceSolver`` (parallel Newton
/// or sequential, per the options), and differentiated by the adjoint scan.
public struct RecurrentModel<Cell: TrainableCell>: Sendable {
    public typealias Scalar = Cell.Scalar
    public var layers: [Cell]
    public var readout: Linear<Scalar>
    public var residual: Bool
    /// Add the input to the output (needs as many outputs as input features).
    public var inputSkip: Bool

    public init(layers: [Cell], readout: Linear<Scalar>, residual: Bool = false, inputSkip: Bool = false) {
        precondition(!inputSkip || readout.outputs == (layers.first?.inputSize ?? 0))
        self.layers = layers
        self.readout = readout
        self.residual = residual
        self.inputSkip = inputSkip
    }

    /// A freshly initialised model: `layerCount` layers of `hiddenSize` channels on
    /// `inputSize` features, and a readout to `outputSize` values.
    public static func initialized<G: RandomNumberGenerator>(
        inputSize: Int, hiddenSize: Int, layerCount: Int, outputSize: Int, residual: Bool = false,
        inputSkip: Bool = false, using generator: inout G
    ) throws(CellError) -> RecurrentModel {
        var layers: [Cell] = []
        for l in 0..<max(1, layerCount) {
            layers.append(
                try Cell.initialized(
                    inputSize: l == 0 ? inputSize : hiddenSize, hiddenSize: hiddenSize, using: &generator))
        }
        return RecurrentModel(
            layers: layers, readout: Linear(inputs: hiddenSize, outputs: outputSize, using: &generator),
            residual: residual, inputSkip: inputSkip)
    }

    public var inputSize: Int { layers.first?.inputSize ?? 0 }
    public var outputSize: Int { readout.outputs }

    /// All parameters: each layer's ``TrainableCell/parameterVector``, then the readout's.
    public var parameterVector: [Scalar] { layers.flatMap(\.parameterVector) + readout.parameterVector }

    /// Replaces all parameters (same order as ``parameterVector``).
    public mutating func setParameters(_ vector: [Scalar]) throws(CellError) {
        var offset = 0
        for l in layers.indices {
            let count = layers[l].parameterVector.count
            layers[l] = try layers[l].with(parameterVector: Array(vector[offset..<(offset + count)]))
            offset += count
        }
        readout.setParameters(vector[offset...])
    }

    /// What a forward pass keeps for the backward pass.
    public struct Trace: Sendable {
        /// Per layer: its input `[T][B][m_l]` and its solved states.
        public var layerInputs: [[Scalar]]
        public var layerStates: [[Scalar]]
        /// Per layer: the solution's evidence (method, iterations, residual).
        public var solutions: [SolveSummary]
        /// The top hidden output `[T][B][d]`.
        public var top: [Scalar]
        /// The predictions `[T][B][outputs]`.
        public var outputs: [Scalar]
        /// Per layer (when the forward pass was recording): what its rollout kept for the
        /// backward pass (``ParaRNN/SequenceSolver/solveRecording(inputs:steps:batch:)``), or nil.
        public var records: [RolloutRecord<Scalar>?]

        @inlinable
        public init(
            layerInputs: [[Scalar]], layerStates: [[Scalar]], solutions: [SolveSummary], top: [Scalar],
            outputs: [Scalar], records: [RolloutRecord<Scalar>?] = []
        ) {
            self.layerInputs = layerInputs
            self.layerStates = layerStates
            self.solutions = solutions
            self.top = top
            self.outputs = outputs
            self.records = records
        }
    }

    /// Method, iterations and certified residual of one layer's solve.
    public struct SolveSummary: Sendable, Codable {
        public var method: SolverMethod
        public var iterations: Int
        public var residual: Double
        public var converged: Bool
        /// Why the solver chose its method, and how the rollout used the threads.
        public var decision: String

        @inlinable
        public init(method: SolverMethod, iterations: Int, residual: Double, converged: Bool, decision: String = "") {
            self.method = method
            self.iterations = iterations
            self.residual = residual
            self.converged = converged
            self.decision = decision
        }
    }

    /// Runs the model on `inputs` `[T][B][m]`; `recording` (a training step's forward pass)
    /// keeps what sequential rollouts can hand the backward pass (``Trace/records``).
    @inlinable
    public func forward(
        inputs: [Scalar], steps: Int, batch: Int, options: SolverOptions, recording: Bool = false
    ) throws(SolverError) -> Trace {
        var x = inputs
        var layerInputs: [[Scalar]] = []
        var layerStates: [[Scalar]] = []
        var summaries: [SolveSummary] = []
        var records: [RolloutRecord<Scalar>?] = []
        for cell in layers {
            let solver = SequenceSolver(cell: cell, options: options)
            let solution: Solution<Scalar>
            if recording {
                let (solved, record) = try solver.solveRecording(inputs: x, steps: steps, batch: batch)
                solution = solved
                records.append(record)
            } else {
                solution = try solver.solve(inputs: x, steps: steps, batch: batch)
            }
            if !solution.converged {
                throw .invalidOption("layer solve did not converge (residual \(solution.finalResidual))")
            }
            layerInputs.append(x)
            layerStates.append(solution.states)
            summaries.append(
                SolveSummary(
                    method: solution.method, iterations: solution.iterations, residual: solution.finalResidual,
                    converged: solution.converged, decision: solution.decision))
            var h = hiddenOutputs(cell, solution.states, steps: steps, batch: batch)
            if residual && cell.inputSize == cell.hiddenSize {
                for i in h.indices { h[i] += x[i] }
            }
            x = h
        }
        var outputs = readout.forward(x, rows: steps * batch)
        if inputSkip { for i in outputs.indices { outputs[i] += inputs[i] } }
        return Trace(
            layerInputs: layerInputs, layerStates: layerStates, solutions: summaries, top: x, outputs: outputs,
            records: records)
    }

    /// Backpropagates ∂L/∂y `[T][B][outputs]` through the trace; returns the gradient in
    /// ``parameterVector`` order.
    @inlinable
    public func backward(trace: Trace, outputGradient: [Scalar], steps: Int, batch: Int, options: SolverOptions)
        throws(SolverError) -> [Scalar]
    {
        let (dTop, readoutGradient) = readout.backward(trace.top, gradient: outputGradient, rows: steps * batch)
        var dh = dTop
        var layerGradients: [[Scalar]] = Array(repeating: [], count: layers.count)
        for l in layers.indices.reversed() {
            let cell = layers[l]
            let stateGradients = scatterHidden(cell, dh, steps: steps, batch: batch)
            let solver = SequenceSolver(cell: cell, options: options)
            let grads = try solver.gradients(
                states: trace.layerStates[l], inputs: trace.layerInputs[l], steps: steps,
                batch: batch, stateGradients: stateGradients, recorded: l < trace.records.count ? trace.records[l] : nil
            )
            layerGradients[l] = cell.flatten(grads)
            var dx = grads.inputs
            if residual && cell.inputSize == cell.hiddenSize {
                for i in dx.indices { dx[i] += dh[i] }
            }
            dh = dx
        }
        return layerGradients.flatMap { $0 } + readoutGradient
    }
}

/// h `[T][B][d]` from a cell's states `[T][row]`.
@inlinable
func hiddenOutputs<C: RecurrentCell>(_ cell: C, _ states: [C.Scalar], steps: Int, batch: Int) -> [C.Scalar] {
    // States of one value per channel ([T][B][d]) are h already.
    if cell.stateSize == cell.hiddenSize { return states }
    let width = batch * cell.hiddenSize
    var h = [C.Scalar](repeating: 0, count: steps * width)
    states.withUnsafeBufferPointer { s in
        h.withUnsafeMutableBufferPointer { out in
            cell.hiddenOutputs(ofStates: s.baseAddress!, steps: steps, batch: batch, into: out.baseAddress!)
        }
    }
    return h
}

/// ∂L/∂s `[T][row]` from ∂L/∂h `[T][B][d]` (zero for internal state such as LSTM's c).
@inlinable
func scatterHidden<C: RecurrentCell>(_ cell: C, _ dh: [C.Scalar], steps: Int, batch: Int) -> [C.Scalar] {
    // States of one value per channel ([T][B][d]): ∂L/∂s is ∂L/∂h.
    if cell.stateSize == cell.hiddenSize { return dh }
    let row = cell.stateRowSize(batch: batch)
    let d = cell.hiddenSize
    let n = cell.stateSize
    var ds = [C.Scalar](repeating: 0, count: steps * row)
    let size = MemoryLayout<C.Scalar>.stride
    // Whole rows of d values as raw copies (this runs unspecialised from other modules).
    dh.withUnsafeBytes { source in
        ds.withUnsafeMutableBytes { target in
            func copy(_ from: Int, _ to: Int, _ count: Int) {
                (target.baseAddress! + to * size).copyMemory(
                    from: source.baseAddress! + from * size, byteCount: count * size)
            }
            switch cell.structure {
            case .diagonal:
                for t in 0..<steps { copy(t * batch * d, t * row, batch * d) }
            case .blockDiagonal(let k):
                for t in 0..<steps { copy(t * batch * d, t * row + (k - 1) * batch * d, batch * d) }
            case .dense:
                for t in 0..<steps {
                    for b in 0..<batch { copy((t * batch + b) * d, t * row + b * n + (n - d), d) }
                }
            }
        }
    }
    return ds
}
