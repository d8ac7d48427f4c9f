import ParallelScan

extension ParaLSTM: DifferentiableCell {
    public var recurrentParameterLayout: [(name: String, count: Int)] {
        [("A", 3 * hiddenSize), ("C", 2 * hiddenSize)]
    }

    /// ParaLSTM's VJP. With g_po = λ_h τ o(1−o), g_c' = λ_c + λ_h o (1−τ²) + g_po C_o,
    /// g_pf = g_c' (c − ĉ) f(1−f), g_pc = g_c' (1−f)(1−ĉ²): ∂L/∂u = (g_pf, g_po, g_pc);
    /// ∂L/∂A_{f,o,c} += g_p{f,o,c} h; ∂L/∂C_f += g_pf c; ∂L/∂C_o += g_po c'.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vectorJacobianProducts(_ arguments: VJPArguments<Scalar>) {
        let (d, batch) = (hiddenSize, arguments.batch)
        let lanes = batch * d
        let row = 2 * lanes
        recurrentGains.withUnsafeBufferPointer { gains in
            peepholes.withUnsafeBufferPointer { peep in
                let af = gains.baseAddress!
                let ao = af + d
                let ac = af + 2 * d
                let cf = peep.baseAddress!
                let co = cf + d
                let gaf = arguments.parameterGradients
                let gao = gaf + d
                let gac = gaf + 2 * d
                let gcf = gaf + 3 * d
                let gco = gaf + 4 * d
                for t in arguments.steps {
                    let (prev, u, du, lambda) = arguments.rows(at: t, stateRow: row, projectionRow: 3 * lanes)
                    for b in 0..<batch {
                        for j in 0..<d {
                            let l = b * d + j
                            let c = prev[l]
                            let h = prev[lanes + l]
                            let f = Scalar.sigmoid(af[j] * h + u[l] + cf[j] * c)
                            let candidate = Scalar.tanh(ac[j] * h + u[2 * lanes + l])
                            let cNext = f * c + (1 - f) * candidate
                            let o = Scalar.sigmoid(ao[j] * h + u[lanes + l] + co[j] * cNext)
                            let tau = Scalar.tanh(cNext)
                            let lc = lambda[l]
                            let lh = lambda[lanes + l]
                            let gpo = lh * tau * o * (1 - o)
                            let gcNext = lc + lh * o * (1 - tau * tau) + gpo * co[j]
                            let gpf = gcNext * (c - candidate) * f * (1 - f)
                            let gpc = gcNext * (1 - f) * (1 - candidate * candidate)
                            du[l] = gpf
                            du[lanes + l] = gpo
                            du[2 * lanes + l] = gpc
                            gaf[j] += gpf * h
                            gao[j] += gpo * h
                            gac[j] += gpc * h
                            gcf[j] += gpf * c
                            gco[j] += gpo * cNext
                        }
                    }
                }
            }
        }
    }
}
