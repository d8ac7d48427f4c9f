import ParallelScan

extension SequenceSolver where Cell: DifferentiableCell {
    /// Backpropagates ∂L/∂s through several sequences packed end to end (as solved by
    /// ``solve(inputs:lengths:batch:initialStates:)``): no adjoint flows across a boundary, so
    /// this is the sum over sequences of their own gradients — parameter gradients add up,
    /// ∂L/∂x and ∂L/∂s_{−1} are per sequence (`initialState` is `[sequences][stateRow]`).
    /// Each sequence's adjoint runs on the whole pool.
    ///
    /// ```swift
    /// let g = try solver.gradients(states: s.states, inputs: x, lengths: [400, 7],
    ///                              stateGradients: dLds)
    /// ```
    public func gradients(
        states: [Scalar], inputs: [Scalar], lengths: [Int], batch: Int = 1,
        initialStates: [Scalar]? = nil, stateGradients: [Scalar],
        adjoint: AdjointMethod = .parallelScan
    ) throws(SolverError) -> SequenceGradients<Scalar> {
        let boundaries = try packedBoundaries(lengths)
        let steps = boundaries.steps
        let m = cell.inputSize
        let row = cell.stateRowSize(batch: batch)
        try checkGradientArguments(
            inputs: inputs.count, states: states.count, stateGradients: stateGradients.count, steps: steps,
            batch: batch)
        if let initialStates, initialStates.count != lengths.count * row {
            throw .shapeMismatch("initial states hold \(initialStates.count) values, need \(lengths.count * row)")
        }
        var total: SequenceGradients<Scalar>? = nil
        var dX: [Scalar] = []
        var dH0: [Scalar] = []
        dX.reserveCapacity(inputs.count)
        dH0.reserveCapacity(lengths.count * row)
        for i in 0..<boundaries.count {
            let r = boundaries.range(of: i)
            let g = try gradients(
                states: Array(states[(r.lowerBound * row)..<(r.upperBound * row)]),
                inputs: Array(inputs[(r.lowerBound * batch * m)..<(r.upperBound * batch * m)]),
                steps: r.count, batch: batch,
                initialState: initialStates.map { Array($0[(i * row)..<((i + 1) * row)]) },
                stateGradients: Array(stateGradients[(r.lowerBound * row)..<(r.upperBound * row)]),
                adjoint: adjoint)
            dX += g.inputs
            dH0 += g.initialState
            if var sum = total {
                for (name, values) in g.recurrent {
                    sum.recurrent[name] = zip(sum.recurrent[name]!, values).map { $0 + $1 }
                }
                sum.inputWeights = zip(sum.inputWeights, g.inputWeights).map { $0 + $1 }
                sum.inputBias = zip(sum.inputBias, g.inputBias).map { $0 + $1 }
                total = sum
            } else {
                total = g
            }
        }
        var result = total!
        result.inputs = dX
        result.initialState = dH0
        return result
    }
}
