import ParaRNN
import ParallelScan

/// The result of solving one layer: its hidden output and the solver's evidence.
public struct LayerSolution<S: CellMath>: Sendable {
    /// h, time-major `[T][B][d]` (the next layer's input layout).
    public var hidden: [S]
    /// The solver's result for this layer (states in the cell's layout).
    public var solution: Solution<S>
}

/// A typed cell of any kind behind one type, so a stack of layers can be solved in a loop.
public struct AnyLayer<S: CellMath>: Sendable {
    public let kind: CellKind
    public let inputSize: Int
    public let hiddenSize: Int
    public let stateSize: Int
    public let structure: JacobianStructure
    private let solveBody:
        @Sendable ([S], Int, Int, SolverOptions) throws(SolverError) -> LayerSolution<S>

    /// Wraps any recurrent cell.
    public init<C: RecurrentCell>(_ cell: C, kind: CellKind) where C.Scalar == S {
        self.kind = kind
        inputSize = cell.inputSize
        hiddenSize = cell.hiddenSize
        stateSize = cell.stateSize
        structure = cell.structure
        solveBody = { (inputs, steps, batch, options) throws(SolverError) in
            let solution = try SequenceSolver(cell: cell, options: options).solve(
                inputs: inputs, steps: steps, batch: batch)
            // States of one value per channel ([T][B][d]) are the hidden output already.
            if cell.stateSize == cell.hiddenSize {
                return LayerSolution(hidden: solution.states, solution: solution)
            }
            let row = cell.stateRowSize(batch: batch), out = batch * cell.hiddenSize
            var hidden = [S](repeating: 0, count: steps * out)
            solution.states.withUnsafeBufferPointer { s in
                hidden.withUnsafeMutableBufferPointer { h in
                    for t in 0..<steps {
                        cell.hidden(
                            ofStateRow: s.baseAddress! + t * row, batch: batch,
                            into: h.baseAddress! + t * out)
                    }
                }
            }
            return LayerSolution(hidden: hidden, solution: solution)
        }
    }

    /// Builds the typed cell of a validated layer (parameters converted to `S`).
    public init(_ layer: ModelLayer) throws(CellError) {
        let m = layer.inputSize, d = layer.hiddenSize
        func v(_ name: String) -> [S] { layer.values(name, as: S.self) }
        switch layer.kind {
        case .paragru:
            self.init(
                try ParaGRU<S>(inputSize: m, hiddenSize: d, heads: layer.heads, A: v("A"), B: v("B"), b: v("b")),
                kind: .paragru)
        case .paralstm:
            self.init(
                try ParaLSTM<S>(
                    inputSize: m, hiddenSize: d, heads: layer.heads, A: v("A"), B: v("B"), C: v("C"),
                    b: v("b")),
                kind: .paralstm)
        case .gru:
            self.init(
                try GRU<S>(
                    inputSize: m, hiddenSize: d, weightIH: v("weight_ih"), weightHH: v("weight_hh"),
                    biasIH: v("bias_ih"), biasHH: v("bias_hh")),
                kind: .gru)
        case .lstm:
            self.init(
                try LSTM<S>(
                    inputSize: m, hiddenSize: d, weightIH: v("weight_ih"), weightHH: v("weight_hh"),
                    biasIH: v("bias_ih"), biasHH: v("bias_hh")),
                kind: .lstm)
        case .elman:
            self.init(
                try ElmanRNN<S>(
                    inputSize: m, hiddenSize: d, weightIH: v("weight_ih"), weightHH: v("weight_hh"),
                    biasIH: v("bias_ih"), biasHH: v("bias_hh")),
                kind: .elman)
        }
    }

    /// Solves this layer for inputs `[T][B][m]`; returns h `[T][B][d]` and the solution.
    public func solve(
        inputs: [S], steps: Int, batch: Int, options: SolverOptions
    ) throws(SolverError) -> LayerSolution<S> {
        try solveBody(inputs, steps, batch, options)
    }
}

/// The result of solving a stack of layers.
public struct StackSolution<S: CellMath>: Sendable {
    /// The last layer's h, time-major `[T][B][d_last]`.
    public var hidden: [S]
    /// One solution per layer, in order.
    public var layers: [Solution<S>]
    /// Whether every layer converged.
    public var converged: Bool { layers.allSatisfy(\.converged) }
    /// The largest certified residual over the layers (NaN if any is NaN).
    public var finalResidual: Double {
        let residuals = layers.map(\.finalResidual)
        return residuals.contains { $0.isNaN } ? .nan : residuals.max() ?? 0
    }
    /// Newton iterations over all layers.
    public var iterations: Int { layers.reduce(0) { $0 + $1.iterations } }
}

/// Solves a stack layer by layer: layer l + 1's input is layer l's hidden output.
/// - Parameters:
///   - inputs: x, time-major `[T][B][m]`.
///   - progress: called after each Newton iteration with the layer index.
public func solveStack<S: CellMath>(
    _ layers: [AnyLayer<S>], inputs: [S], steps: Int, batch: Int, options: SolverOptions,
    progress: (@Sendable (Int, SolverProgress) -> Void)? = nil
) throws(SolverError) -> StackSolution<S> {
    var x = inputs
    var solutions: [Solution<S>] = []
    for (l, layer) in layers.enumerated() {
        var layerOptions = options
        if let progress { layerOptions.progress = { progress(l, $0) } }
        let result = try layer.solve(inputs: x, steps: steps, batch: batch, options: layerOptions)
        solutions.append(result.solution)
        x = result.hidden
        // A layer with a NaN/Inf state ends the stack: the layers above cannot be solved from
        // it (see StackSolution.nonFiniteState); the result is then not converged.
        if result.solution.nonFiniteState != nil { break }
    }
    return StackSolution(hidden: x, layers: solutions)
}

extension Model {
    /// Converts to `S`, then solves the whole stack (see ``solveStack(_:inputs:steps:batch:options:progress:)``).
    public func solve<S: CellMath>(
        as _: S.Type, inputs: [S], steps: Int, batch: Int, options: SolverOptions
    ) throws -> StackSolution<S> {
        try solveStack(cells(as: S.self), inputs: inputs, steps: steps, batch: batch, options: options)
    }
}
