import ParaRNN

extension AnyLayer {
    /// Builds the typed cell(s) of a validated layer through the catalogue (parameters converted
    /// to `S`); a bidirectional layer gets its `_reverse` tensors as the reverse direction.
    public init(_ layer: ModelLayer) throws(CellError) {
        if layer.directions == 2 {
            self.init(
                forward: try AnyLayer(kind: layer.kind, tensors: layer.tensors()),
                reverse: try AnyLayer(kind: layer.kind, tensors: layer.tensors(suffix: "_reverse")))
        } else {
            try self.init(kind: layer.kind, tensors: layer.tensors())
        }
    }
}

extension Model {
    /// Converts to `S`, then solves the whole stack (see ``ParaRNN/solveStack(_:inputs:steps:batch:options:initialStates:progress:)``).
    public func solve<S: CellMath>(
        as _: S.Type, inputs: [S], steps: Int, batch: Int, options: SolverOptions,
        initialStates: [[S]]? = nil
    ) throws -> StackSolution<S> {
        try solveStack(
            cells(as: S.self), inputs: inputs, steps: steps, batch: batch, options: options,
            initialStates: initialStates)
    }
}
