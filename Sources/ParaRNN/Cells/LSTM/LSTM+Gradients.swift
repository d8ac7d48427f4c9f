import ParallelScan

extension LSTM: DifferentiableCell {
    /// LSTM's VJP: g_c' = λ_c + λ_h o(1−τ²); pre-activation gradients
    /// (g_c' g i(1−i), g_c' c f(1−f), g_c' i (1−g²), λ_h τ o(1−o)) for (i, f, g, o).
    public func vectorJacobianProducts(_ arguments: VJPArguments<Scalar>) {
        let d = hiddenSize
        let n = 2 * d
        let lanes = arguments.batch * d
        let row = arguments.batch * n
        denseVJP(arguments) { t, b, gt, pt in
            let s = (t == arguments.steps.lowerBound ? arguments.previous : arguments.states + (t - 1) * row) + b * n
            let u = arguments.projections + t * 4 * lanes
            let du = arguments.projectionGradients + t * 4 * lanes
            let lambda = arguments.adjoints + t * row + b * n
            for j in 0..<d {
                let l = b * d + j
                let (ig, fg, gg, og, _, tau) = LSTM<Scalar>.unitGates(
                    u + l, planes: lanes, gt + j, hidden: d, cell: s[j])
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
}
