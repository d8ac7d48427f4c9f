import ParallelScan

extension GRU: DifferentiableCell {
    /// GRU's VJP: g_pn = λ(1−z)(1−n²), g_pz = λ(h−n)z(1−z), g_pr = g_pn (W_hn h + b_hn) r(1−r);
    /// ∂L/∂u = (g_pr, g_pz, g_pn); recurrent pre-activation gradients (g_pr, g_pz, g_pn r).
    public func vectorJacobianProducts(_ arguments: VJPArguments<Scalar>) {
        let d = hiddenSize
        let lanes = arguments.batch * d
        denseVJP(arguments) { t, b, gt, pt in
            let prev = t == arguments.steps.lowerBound ? arguments.previous : arguments.states + (t - 1) * lanes
            let u = arguments.projections + t * 3 * lanes
            let du = arguments.projectionGradients + t * 3 * lanes
            let adjoints = arguments.adjoints
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
}
