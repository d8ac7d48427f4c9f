import Foundation
import ParallelScan

extension ParaSLSTM: DifferentiableCell {
    public var recurrentParameterLayout: [(name: String, count: Int)] { [("R", 4 * hiddenSize)] }

    /// The VJP. With λ = (λ_c, λ_n, λ_m, λ_h) on (c', n', m', h'), o = σ(õ), ζ = tanh(z̃):
    ///
    ///     g_c' = λ_c + λ_h o / n',   g_n' = λ_n − λ_h h' / n'
    ///     g_õ = λ_h (c'/n') o(1 − o),   g_z̃ = g_c' i' (1 − ζ²)
    ///     g_i' = g_c' ζ + g_n',   g_f' = g_c' c + g_n' n,   g_m' = λ_m − g_i' i' − g_f' f'
    ///     g_ĩ = g_i' i' + [ĩ ≥ a] g_m',   g_a = g_f' f' + [ĩ < a] g_m',   g_f̃ = g_a σ(−f̃)
    ///
    /// (a = log σ(f̃) + m); ∂L/∂u = (g_ĩ, g_f̃, g_z̃, g_õ) and ∂L/∂R_x += g_x h.
    public func vectorJacobianProducts(_ arguments: VJPArguments<Scalar>) {
        let (steps, batch, parameterGradients) = (arguments.steps, arguments.batch, arguments.parameterGradients)
        let d = hiddenSize
        let lanes = batch * d
        let row = 4 * lanes
        recurrentGains.withUnsafeBufferPointer { gains in
            let r = gains.baseAddress!
            for t in steps {
                let (prev, u, du, lambda) = arguments.rows(at: t, stateRow: row, projectionRow: 4 * lanes)
                let cur = arguments.states + t * row
                for b in 0..<batch {
                    for j in 0..<d {
                        let l = b * d + j
                        let c = prev[l]
                        let n = prev[lanes + l]
                        let m = prev[2 * lanes + l]
                        let h = prev[3 * lanes + l]
                        let gates = SLSTMGates(
                            lane: l, channel: j, lanes: lanes, hidden: d, m: m, h: h, gains: r, projections: u)
                        let (pf, inputWins, ig, fg, zeta, o) = (
                            gates.pf, gates.inputWins, gates.ig, gates.fg, gates.z, gates.o
                        )
                        let cNext = cur[l]
                        let nNext = cur[lanes + l]
                        let hNext = cur[3 * lanes + l]
                        let lc = lambda[l]
                        let ln = lambda[lanes + l]
                        let lm = lambda[2 * lanes + l]
                        let lh = lambda[3 * lanes + l]
                        let gc = lc + lh * o / nNext
                        let gn = ln - lh * hNext / nNext
                        let go = lh * (cNext / nNext) * o * (1 - o)
                        let gz = gc * ig * (1 - zeta * zeta)
                        let gi = gc * zeta + gn
                        let gf = gc * c + gn * n
                        let gm = lm - gi * ig - gf * fg
                        let gPi = gi * ig + (inputWins ? gm : 0)
                        let gA = gf * fg + (inputWins ? 0 : gm)
                        let gPf = gA * Scalar.sigmoid(-pf)
                        du[l] = gPi
                        du[lanes + l] = gPf
                        du[2 * lanes + l] = gz
                        du[3 * lanes + l] = go
                        parameterGradients[j] += gPi * h
                        parameterGradients[d + j] += gPf * h
                        parameterGradients[2 * d + j] += gz * h
                        parameterGradients[3 * d + j] += go * h
                    }
                }
            }
        }
    }
}
