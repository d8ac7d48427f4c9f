import ParallelScan

/// The result of solving one layer: its hidden output and the solver's evidence.
public struct LayerSolution<S: CellMath>: Sendable {
    /// h, time-major `[T][B][d]` (the next layer's input layout); for a bidirectional layer
    /// `[T][B][2·d]`, the forward h then the reverse h of each step (as PyTorch).
    public var hidden: [S]
    /// The solver's result for this layer (states in the cell's layout).
    public var solution: Solution<S>
    /// The reverse direction's result (its states in reversed time), for a bidirectional layer.
    public var reverse: Solution<S>? = nil
}

/// A typed cell of any kind behind one type, so a stack of layers can be solved in a loop.
public struct AnyLayer<S: CellMath>: Sendable {
    public let kind: CellKind
    public let inputSize: Int
    /// d: the cell's hidden size (the width of its gate rows).
    public let hiddenSize: Int
    /// The width of the layer's output h: d, p for an LSTM with projections, twice that for a
    /// bidirectional layer.
    public let outputSize: Int
    /// 1, or 2 for a bidirectional layer.
    public let directions: Int
    /// State values per sequence and direction.
    public let stateSize: Int
    public let structure: JacobianStructure
    private let solveBody: @Sendable ([S], Int, Int, SolverOptions, [[S]]?) throws(SolverError) -> LayerSolution<S>
    private let chooseBody: @Sendable (Int, Int, SolverOptions) -> (SolverMethod, String)
    /// Solves sequences of the given lengths packed end to end (zero initial states).
    private let packedBody: @Sendable ([S], [Int], Int, SolverOptions) throws(SolverError) -> LayerSolution<S>

    /// Wraps any recurrent cell.
    public init<C: RecurrentCell>(_ cell: C, kind: CellKind) where C.Scalar == S {
        self.kind = kind
        inputSize = cell.inputSize
        hiddenSize = cell.hiddenSize
        let width = (cell as? ProjectedLSTM<S>)?.projectionSize ?? cell.hiddenSize
        outputSize = width
        directions = 1
        stateSize = cell.stateSize
        structure = cell.structure
        chooseBody = { steps, batch, options in
            SequenceSolver(cell: cell, options: options).chooseMethod(steps: steps, batch: batch)
        }
        packedBody = { (inputs, lengths, batch, options) throws(SolverError) in
            let solution = try SequenceSolver(cell: cell, options: options).solve(
                inputs: inputs, lengths: lengths, batch: batch)
            return Self.layerSolution(cell, solution, width: width, pool: options.pool)
        }
        // Where the output is not the states themselves, a batch-split rollout writes it beside
        // them (``SolverOptions/hiddenOutputWidth``).
        let readsOff = !(cell.stateSize == width && width == cell.hiddenSize)
        solveBody = { (inputs, steps, batch, options, initial) throws(SolverError) in
            var options = options
            if readsOff { options.hiddenOutputWidth = width }
            let solution = try SequenceSolver(cell: cell, options: options).solve(
                inputs: inputs, steps: steps, batch: batch, initialState: initial?.first)
            return Self.layerSolution(cell, solution, width: width, pool: options.pool)
        }
    }

    /// A solution with the layer's hidden output read off its states.
    static func layerSolution<C: RecurrentCell>(
        _ cell: C, _ solution: Solution<S>, width: Int, pool: WorkerPool
    ) -> LayerSolution<S>
    where C.Scalar == S {
        let steps = solution.steps
        let batch = solution.batch
        // States of one value per channel ([T][B][d]) are the hidden output already.
        if cell.stateSize == width, width == cell.hiddenSize {
            return LayerSolution(hidden: solution.states, solution: solution)
        }
        // Written by the rollout's workers (``SolverOptions/hiddenOutputWidth``).
        if let hidden = solution.hiddenOutputs {
            var solution = solution
            solution.hiddenOutputs = nil
            return LayerSolution(hidden: hidden, solution: solution)
        }
        let out = batch * width
        // Every value is written by `hiddenOutputs`; no zero fill, which this generic closure
        // would do one value-witness call per element (8 % of an LSTM d = 4 rollout).
        // Split over the pool by steps for long sequences: fresh pages and a streaming copy.
        let row = batch * cell.stateSize
        let parts = max(1, min(pool.threadCount, steps * out / 262_144))
        let hidden = [S](unsafeUninitializedCapacity: steps * out) { h, count in
            solution.states.withUnsafeBufferPointer { s in
                let (states, target) = (UnsafeSendable(s.baseAddress!), UnsafeMutableSendable(h.baseAddress!))
                pool.forEach(parts) { part in
                    let range = ChunkPlan.evenRange(index: part, of: parts, total: steps)
                    if range.isEmpty { return }
                    cell.hiddenOutputs(
                        ofStates: states.base + range.lowerBound * row, steps: range.count, batch: batch,
                        into: target.base + range.lowerBound * out)
                }
            }
            count = steps * out
        }
        return LayerSolution(hidden: hidden, solution: solution)
    }

    /// A bidirectional layer (PyTorch's `bidirectional=True`): `reverse` runs the same kind of
    /// recurrence over reversed time, solved by the same method (the inputs are reversed, solved
    /// forward, and its outputs reversed back); the output concatenates
    /// `[forward h, reverse h]` per step.
    ///
    ///     let bi = AnyLayer(forward: AnyLayer(gruF, kind: .gru), reverse: AnyLayer(gruR, kind: .gru))
    public init(forward: AnyLayer<S>, reverse: AnyLayer<S>) {
        kind = forward.kind
        inputSize = forward.inputSize
        hiddenSize = forward.hiddenSize
        outputSize = forward.outputSize + reverse.outputSize
        directions = 2
        stateSize = forward.stateSize
        structure = forward.structure
        chooseBody = { steps, batch, options in forward.chooseMethod(steps: steps, batch: batch, options: options) }
        packedBody = { (inputs, lengths, batch, options) throws(SolverError) in
            // Reversing the whole packed time axis reverses every sequence and their order.
            let steps = lengths.reduce(0, +)
            let a = try forward.solve(inputs: inputs, lengths: lengths, batch: batch, options: options)
            let m = inputs.count / max(1, steps)
            let b = try reverse.solve(
                inputs: reversedTime(inputs, steps: steps, row: m), lengths: lengths.reversed(),
                batch: batch, options: options)
            return Self.joined(a, b, steps: steps, batch: batch, widths: (forward.outputSize, reverse.outputSize))
        }
        solveBody = { (inputs, steps, batch, options, initial) throws(SolverError) in
            let a = try forward.solve(
                inputs: inputs, steps: steps, batch: batch, options: options,
                initialStates: initial.map { [$0[0]] })
            let m = inputs.count / max(1, steps)
            let b = try reverse.solve(
                inputs: reversedTime(inputs, steps: steps, row: m), steps: steps, batch: batch,
                options: options, initialStates: initial.map { [$0[1]] })
            return Self.joined(a, b, steps: steps, batch: batch, widths: (forward.outputSize, reverse.outputSize))
        }
    }

    /// `[forward h, reverse h]` per step, the reverse solution's time reversed back.
    static func joined(
        _ a: LayerSolution<S>, _ b: LayerSolution<S>, steps: Int, batch: Int, widths: (Int, Int)
    ) -> LayerSolution<S> {
        let (pa, pb) = widths
        let width = pa + pb
        var hidden = [S](repeating: 0, count: steps * batch * width)
        for t in 0..<steps {
            for e in 0..<batch {
                let out = (t * batch + e) * width
                let fa = (t * batch + e) * pa
                let rb = ((steps - 1 - t) * batch + e) * pb
                for i in 0..<pa { hidden[out + i] = a.hidden[fa + i] }
                for i in 0..<pb { hidden[out + pa + i] = b.hidden[rb + i] }
            }
        }
        return LayerSolution(hidden: hidden, solution: a.solution, reverse: b.solution)
    }

    /// Wraps a cell built by the catalogue (``CellCatalogue/Entry/make(_:as:)``).
    public init(opening cell: any RecurrentCell<S>, kind: CellKind) {
        func wrap<C: RecurrentCell>(_ cell: C) -> AnyLayer<S> where C.Scalar == S { AnyLayer(cell, kind: kind) }
        self = wrap(cell)
    }

    /// Builds a layer of `kind` from validated tensors through the catalogue.
    ///
    ///     let layer = try AnyLayer<Float>(kind: .paragru, tensors: CellTensors(inputSize: 2, hiddenSize: 4, parameters: p))
    public init(kind: CellKind, tensors: CellTensors) throws(CellError) {
        self.init(opening: try kind.entry.make(tensors, as: S.self), kind: kind)
    }

    /// The method `options.method` resolves to for `steps` × `batch` (see
    /// ``SequenceSolver/chooseMethod(steps:batch:)``), and why.
    public func chooseMethod(steps: Int, batch: Int, options: SolverOptions) -> (SolverMethod, String) {
        chooseBody(steps, batch, options)
    }

    /// Solves this layer for inputs `[T][B][m]`; returns h `[T][B][outputSize]` and the solution.
    /// - Parameter initialStates: one state row per direction (``RecurrentCell/stateRowSize(batch:)``:
    ///   `[B][d]`, or `[B][c, h]` for an LSTM); zeros if `nil`.
    public func solve(
        inputs: [S], steps: Int, batch: Int, options: SolverOptions, initialStates: [[S]]? = nil
    ) throws(SolverError) -> LayerSolution<S> {
        if let initialStates, initialStates.count != directions {
            throw .shapeMismatch(
                "\(initialStates.count) initial states for a layer of \(directions) direction\(directions == 1 ? "" : "s")"
            )
        }
        return try solveBody(inputs, steps, batch, options, initialStates)
    }

    /// Solves this layer for sequences of `lengths` packed end to end (inputs `[Σ lengths][B][m]`,
    /// zero initial states; see ``SequenceSolver/solve(inputs:lengths:batch:initialStates:)``).
    public func solve(
        inputs: [S], lengths: [Int], batch: Int, options: SolverOptions
    ) throws(SolverError) -> LayerSolution<S> {
        try packedBody(inputs, lengths, batch, options)
    }
}

/// `[T][row]` with the steps in reverse order.
func reversedTime<S>(_ values: [S], steps: Int, row: Int) -> [S] {
    var out = values
    for t in 0..<steps {
        let src = (steps - 1 - t) * row
        for i in 0..<row { out[t * row + i] = values[src + i] }
    }
    return out
}

/// The result of solving a stack of layers.
public struct StackSolution<S: CellMath>: Sendable {
    /// The last layer's h, time-major `[T][B][outputSize]`.
    public var hidden: [S]
    /// One solution per layer and direction, in order (a bidirectional layer: forward, reverse).
    public var layers: [Solution<S>]
    /// What each entry of ``layers`` is: "layer 1", "layer 1 reverse", ….
    public var labels: [String] = []
    /// Whether every layer converged.
    public var converged: Bool { layers.allSatisfy(\.converged) }
    /// The largest certified residual over the layers (NaN if any is NaN).
    public var finalResidual: Double {
        let residuals = layers.map(\.finalResidual)
        return residuals.contains { $0.isNaN } ? .nan : residuals.max() ?? 0
    }
    /// Newton iterations over all layers.
    public var iterations: Int { layers.reduce(0) { $0 + $1.iterations } }

    public init(hidden: [S], layers: [Solution<S>], labels: [String] = []) {
        self.hidden = hidden
        self.layers = layers
        self.labels = labels
    }
}

/// Solves a stack layer by layer: layer l + 1's input is layer l's hidden output.
///
///     let cells = try model.cells(as: Float.self)
///     let h = try solveStack(cells, inputs: x, steps: T, batch: B, options: SolverOptions(method: .newton)).hidden
/// - Parameters:
///   - inputs: x, time-major `[T][B][m]`.
///   - initialStates: one state row per layer and direction, in PyTorch's order
///     (index = layer · directions + direction); zeros if `nil`.
///   - progress: called after each Newton iteration with the layer index.
public func solveStack<S: CellMath>(
    _ layers: [AnyLayer<S>], inputs: [S], steps: Int, batch: Int, options: SolverOptions,
    initialStates: [[S]]? = nil,
    progress: (@Sendable (Int, SolverProgress) -> Void)? = nil
) throws(SolverError) -> StackSolution<S> {
    let needed = layers.reduce(0) { $0 + $1.directions }
    if let initialStates, initialStates.count != needed {
        throw .shapeMismatch("\(initialStates.count) initial states for \(needed) layer directions")
    }
    var offset = 0
    return try solveLayers(layers, inputs: inputs, options: options, progress: progress) {
        layer, x, layerOptions throws(SolverError) in
        let initial = initialStates.map { Array($0[offset..<(offset + layer.directions)]) }
        offset += layer.directions
        return try layer.solve(inputs: x, steps: steps, batch: batch, options: layerOptions, initialStates: initial)
    }
}

/// Solves a stack for sequences of `lengths` packed end to end: every layer solves the packed
/// problem (zero initial states), so no state crosses from one sequence into the next at any
/// layer.
///
///     let h = try solveStack(cells, inputs: x, lengths: [T1, T2], batch: 1, options: options).hidden
public func solveStack<S: CellMath>(
    _ layers: [AnyLayer<S>], inputs: [S], lengths: [Int], batch: Int, options: SolverOptions,
    progress: (@Sendable (Int, SolverProgress) -> Void)? = nil
) throws(SolverError) -> StackSolution<S> {
    try solveLayers(layers, inputs: inputs, options: options, progress: progress) {
        layer, x, layerOptions throws(SolverError) in
        try layer.solve(inputs: x, lengths: lengths, batch: batch, options: layerOptions)
    }
}

/// The stack loop both `solveStack`s share: layer l + 1 reads layer l's hidden output; a layer
/// with a NaN/Inf state ends the stack (the layers above cannot be solved from it; see
/// ``StackSolution/nonFiniteState``), so the result is then not converged.
private func solveLayers<S: CellMath>(
    _ layers: [AnyLayer<S>], inputs: [S], options: SolverOptions,
    progress: (@Sendable (Int, SolverProgress) -> Void)?,
    solve: (AnyLayer<S>, [S], SolverOptions) throws(SolverError) -> LayerSolution<S>
) throws(SolverError) -> StackSolution<S> {
    var x = inputs
    var solutions: [Solution<S>] = []
    var labels: [String] = []
    for (l, layer) in layers.enumerated() {
        var layerOptions = options
        if let progress { layerOptions.progress = { progress(l, $0) } }
        let result = try solve(layer, x, layerOptions)
        solutions.append(result.solution)
        labels.append("layer \(l + 1)")
        if let reverse = result.reverse {
            solutions.append(reverse)
            labels.append("layer \(l + 1) reverse")
        }
        x = result.hidden
        if result.solution.nonFiniteState != nil { break }
    }
    return StackSolution(hidden: x, layers: solutions, labels: labels)
}
