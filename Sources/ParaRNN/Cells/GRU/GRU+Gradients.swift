import ParallelScan

extension GRU: DifferentiableCell {
    /// The fused BPTT (`denseBackward`).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func fusedBackward(_ arguments: FusedBackwardArguments<Scalar>, pool: WorkerPool) -> Bool {
        denseBackward(arguments, pool: pool) { adjointKernel($0) }
        return true
    }

    /// GRU's VJP: g_pn = λ(1−z)(1−n²), g_pz = λ(h−n)z(1−z), g_pr = g_pn (W_hn h + b_hn) r(1−r);
    /// ∂L/∂u = (g_pr, g_pz, g_pn); recurrent pre-activation gradients (g_pr, g_pz, g_pn r).
    public func vectorJacobianProducts(_ arguments: VJPArguments<Scalar>) {
        let (steps, batch, previous, states) = (arguments.steps, arguments.batch, arguments.previous, arguments.states)
        let (projections, adjoints) = (arguments.projections, arguments.adjoints)
        let (projectionGradients, parameterGradients) = (arguments.projectionGradients, arguments.parameterGradients)
        let d = hiddenSize
        let lanes = batch * d
        let gd = 3 * d
        let count = steps.count * batch * gd
        let g = UnsafeMutablePointer<Scalar>.allocate(capacity: count)
        let pre = UnsafeMutablePointer<Scalar>.allocate(capacity: count)
        defer {
            g.deallocate()
            pre.deallocate()
        }
        recurrentPreactivations(steps: steps, batch: batch, previous: previous, states: states, into: g)
        for (offset, t) in steps.enumerated() {
            let prev = t == steps.lowerBound ? previous : states + (t - 1) * lanes
            let u = projections + t * 3 * lanes
            let du = projectionGradients + t * 3 * lanes
            for b in 0..<batch {
                let gt = g + (offset * batch + b) * gd
                let pt = pre + (offset * batch + b) * gd
                for i in 0..<d {
                    let l = b * d + i
                    let r = Scalar.sigmoid(u[l] + gt[i])
                    let z = Scalar.sigmoid(u[lanes + l] + gt[d + i])
                    let n = Scalar.tanh(u[2 * lanes + l] + r * gt[2 * d + i])
                    let lambda = adjoints[t * lanes + l]
                    let gpn = lambda * (1 - z) * (1 - n * n)
                    let gpz = lambda * (prev[l] - n) * z * (1 - z)
                    let gpr = gpn * gt[2 * d + i] * r * (1 - r)
                    du[l] = gpr
                    du[lanes + l] = gpz
                    du[2 * lanes + l] = gpn
                    pt[i] = gpr
                    pt[d + i] = gpz
                    pt[2 * d + i] = gpn * r
                }
            }
        }
        accumulateRecurrentGradients(
            steps: steps, batch: batch, previous: previous, states: states, preGradients: pre,
            parameterGradients: parameterGradients)
    }
}
