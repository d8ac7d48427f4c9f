import ParallelScan

extension LSTM: DifferentiableCell {
    /// The fused BPTT (`denseBackward`).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func fusedBackward(_ arguments: FusedBackwardArguments<Scalar>, pool: WorkerPool) -> Bool {
        denseBackward(arguments, pool: pool) { adjointKernel($0) }
        return true
    }

    /// LSTM's VJP: g_c' = λ_c + λ_h o(1−τ²); pre-activation gradients
    /// (g_c' g i(1−i), g_c' c f(1−f), g_c' i (1−g²), λ_h τ o(1−o)) for (i, f, g, o).
    public func vectorJacobianProducts(_ arguments: VJPArguments<Scalar>) {
        let (steps, batch, previous, states) = (arguments.steps, arguments.batch, arguments.previous, arguments.states)
        let (projections, adjoints) = (arguments.projections, arguments.adjoints)
        let (projectionGradients, parameterGradients) = (arguments.projectionGradients, arguments.parameterGradients)
        let d = hiddenSize
        let n = 2 * d
        let lanes = batch * d
        let row = batch * n
        let gd = 4 * d
        let count = steps.count * batch * gd
        let g = UnsafeMutablePointer<Scalar>.allocate(capacity: count)
        let pre = UnsafeMutablePointer<Scalar>.allocate(capacity: count)
        defer {
            g.deallocate()
            pre.deallocate()
        }
        recurrentPreactivations(steps: steps, batch: batch, previous: previous, states: states, into: g)
        for (offset, t) in steps.enumerated() {
            let prev = t == steps.lowerBound ? previous : states + (t - 1) * row
            let u = projections + t * 4 * lanes
            let du = projectionGradients + t * 4 * lanes
            for b in 0..<batch {
                let gt = g + (offset * batch + b) * gd
                let pt = pre + (offset * batch + b) * gd
                let s = prev + b * n
                let lambda = adjoints + t * row + b * n
                for j in 0..<d {
                    let l = b * d + j
                    let ig = Scalar.sigmoid(u[l] + gt[j])
                    let fg = Scalar.sigmoid(u[lanes + l] + gt[d + j])
                    let gg = Scalar.tanh(u[2 * lanes + l] + gt[2 * d + j])
                    let og = Scalar.sigmoid(u[3 * lanes + l] + gt[3 * d + j])
                    let c = fg * s[j] + ig * gg
                    let tau = Scalar.tanh(c)
                    let lc = lambda[j]
                    let lh = lambda[d + j]
                    let gc = lc + lh * og * (1 - tau * tau)
                    let values: (Scalar, Scalar, Scalar, Scalar) = (
                        gc * gg * ig * (1 - ig), gc * s[j] * fg * (1 - fg),
                        gc * ig * (1 - gg * gg), lh * tau * og * (1 - og)
                    )
                    du[l] = values.0
                    du[lanes + l] = values.1
                    du[2 * lanes + l] = values.2
                    du[3 * lanes + l] = values.3
                    pt[j] = values.0
                    pt[d + j] = values.1
                    pt[2 * d + j] = values.2
                    pt[3 * d + j] = values.3
                }
            }
        }
        accumulateRecurrentGradients(
            steps: steps, batch: batch, previous: previous, states: states, preGradients: pre,
            parameterGradients: parameterGradients)
    }
}
