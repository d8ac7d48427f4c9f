import ParallelScan

extension ParaGRU: DifferentiableCell {
    public var recurrentParameterLayout: [(name: String, count: Int)] { [("A", 3 * hiddenSize)] }

    /// ParaGRU's VJP. With g_a = λ z (1 − c²), g_z = λ (c − h) z(1 − z), g_r = g_a A_h h r(1 − r):
    /// ∂L/∂u = (g_z, g_r, g_a); ∂L/∂A_z += g_z h, ∂L/∂A_r += g_r h, ∂L/∂A_h += g_a h r.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vectorJacobianProducts(_ arguments: VJPArguments<Scalar>) { vjpKernel(arguments) }

    /// The VJP loops (specialised per precision through the entry's `@_specialize`).
    func vjpKernel(_ arguments: VJPArguments<Scalar>) {
        let (steps, batch, previous, states) = (arguments.steps, arguments.batch, arguments.previous, arguments.states)
        let (projections, adjoints) = (arguments.projections, arguments.adjoints)
        let (projectionGradients, parameterGradients) = (arguments.projectionGradients, arguments.parameterGradients)
        let d = hiddenSize
        let lanes = batch * d
        recurrentGains.withUnsafeBufferPointer { gains in
            let az = gains.baseAddress!
            let ar = az + d
            let ah = az + 2 * d
            let gz = parameterGradients
            let gr = gz + d
            let gh = gz + 2 * d
            for t in steps {
                let prev = t == steps.lowerBound ? previous : states + (t - 1) * lanes
                let u = projections + t * 3 * lanes
                let du = projectionGradients + t * 3 * lanes
                let lambda = adjoints + t * lanes
                for b in 0..<batch {
                    for j in 0..<d {
                        let l = b * d + j
                        let h = prev[l]
                        let z = Scalar.sigmoid(az[j] * h + u[l])
                        let r = Scalar.sigmoid(ar[j] * h + u[lanes + l])
                        let c = Scalar.tanh(ah[j] * (h * r) + u[2 * lanes + l])
                        let ga = lambda[l] * z * (1 - c * c)
                        let gzPre = lambda[l] * (c - h) * z * (1 - z)
                        let grPre = ga * ah[j] * h * r * (1 - r)
                        du[l] = gzPre
                        du[lanes + l] = grPre
                        du[2 * lanes + l] = ga
                        gz[j] += gzPre * h
                        gr[j] += grPre * h
                        gh[j] += ga * h * r
                    }
                }
            }
        }
    }
}
