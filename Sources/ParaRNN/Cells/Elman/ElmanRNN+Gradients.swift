import ParallelScan

extension ElmanRNN: DifferentiableCell {
    /// Elman VJP: ∂L/∂pre = λ φ' (1 − h'² or [h' > 0]), for both the projection and the recurrent weights.
    public func vectorJacobianProducts(_ arguments: VJPArguments<Scalar>) {
        let (steps, batch, previous, states) = (arguments.steps, arguments.batch, arguments.previous, arguments.states)
        let adjoints = arguments.adjoints
        let (projectionGradients, parameterGradients) = (arguments.projectionGradients, arguments.parameterGradients)
        let d = hiddenSize
        let lanes = batch * d
        let pre = UnsafeMutablePointer<Scalar>.allocate(capacity: steps.count * lanes)
        defer { pre.deallocate() }
        for (offset, t) in steps.enumerated() {
            for l in 0..<lanes {
                let h = states[t * lanes + l]
                let g = adjoints[t * lanes + l] * slope(h)
                projectionGradients[t * lanes + l] = g
                pre[offset * lanes + l] = g
            }
        }
        DenseGradientShape(self).accumulateRecurrentGradients(
            steps: steps, batch: batch, previous: previous, states: states, preGradients: pre,
            parameterGradients: parameterGradients)
    }
}
