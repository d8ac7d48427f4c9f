/// ParaSLSTM's hand-written step and Jacobian (in place of the dual-number path).
///
/// Per channel, with the pre-activations p_i, p_f, p_z, p_o of the type's notes,
/// L = log σ(p_f), L′ = σ(−p_f), a = L + m, m′ = max(p_i, a), ι = exp(p_i − m′),
/// φ = exp(a − m′), ζ = tanh(p_z), ω = σ(p_o), and for each state value x ∈ (c, n, m, h) the
/// derivatives ∂p_i = R_i [x = h], ∂a = L′ R_f [x = h] + [x = m], ∂m′ = ∂p_i if p_i ≥ a else
/// ∂a (the branch the step takes; a tie takes p_i, as the step does):
///
///     ∂ι = ι (∂p_i − ∂m′),   ∂φ = φ (∂a − ∂m′)
///     ∂c′ = φ [x = c] + c ∂φ + ζ ∂ι + ι (1 − ζ²) R_z [x = h]
///     ∂n′ = φ [x = n] + n ∂φ + ∂ι
///     ∂h′ = ω (n′ ∂c′ − c′ ∂n′) / n′² + ω (1 − ω) R_o c′ / n′ [x = h]
///
/// so the 4×4 block of a channel has zeros where c′, n′, m′ do not depend on c or n. The state
/// values are those of ``ParaSLSTM/step(state:projection:)`` on plain numbers, computed in the
/// same order; the Jacobian agrees with the dual-number one to rounding
/// (`ParaSLSTMKernelTests`).
extension ParaSLSTM {
    /// Values, and if asked the Jacobian rows (`[4][4][B·d]`, or the diagonal `[4][B·d]` for
    /// ``JacobianRequest/diagonalOnly``), for `arguments.steps`; in place for a rollout.
    func kernel(_ arguments: LinearizeArguments<Scalar>) {
        let (steps, batch, previous, states) = (arguments.steps, arguments.batch, arguments.previous, arguments.states)
        let (projections, values, jacobians) = (arguments.projections, arguments.values, arguments.jacobians)
        let diagonalOnly = arguments.request == .diagonalOnly
        let d = hiddenSize
        let lanes = batch * d
        let row = 4 * lanes
        recurrentGains.withUnsafeBufferPointer { gains in
            let r = gains.baseAddress!
            for t in steps {
                let sp = t == steps.lowerBound ? previous : states + (t - 1) * row
                let u = projections + t * 4 * lanes
                let out = values + t * row
                let jt = jacobians.map { $0 + t * (diagonalOnly ? row : 4 * row) }
                for l in 0..<lanes {
                    let j = l % d
                    let (c, n, m, h) = (sp[l], sp[lanes + l], sp[2 * lanes + l], sp[3 * lanes + l])
                    let gates = SLSTMGates(
                        lane: l, channel: j, lanes: lanes, hidden: d, m: m, h: h, gains: r, projections: u)
                    let (pf, inputWins, mNext, ig, fg, z, o) = (
                        gates.pf, gates.inputWins, gates.mNext, gates.ig, gates.fg, gates.z, gates.o
                    )
                    let (ri, rf, rz, ro) = (r[j], r[d + j], r[2 * d + j], r[3 * d + j])
                    let cNext = fg * c + ig * z
                    let nNext = fg * n + ig
                    let hNext = o * cNext / nNext
                    out[l] = cNext
                    out[lanes + l] = nNext
                    out[2 * lanes + l] = mNext
                    out[3 * lanes + l] = hNext
                    guard let jt else { continue }
                    // Derivatives along m and h (c and n enter only through φ c and φ n).
                    let slope = Scalar.sigmoid(-pf)  // L′
                    let (dpiH, daH, daM) = (ri, slope * rf, Scalar(1))
                    let (dmH, dmM) = inputWins ? (dpiH, Scalar(0)) : (daH, daM)
                    let (digH, digM) = (ig * (dpiH - dmH), ig * (0 - dmM))
                    let (dfgH, dfgM) = (fg * (daH - dmH), fg * (daM - dmM))
                    let dcC = fg
                    let dcM = c * dfgM + z * digM
                    let dcH = c * dfgH + z * digH + ig * (1 - z * z) * rz
                    let dnN = fg
                    let dnM = n * dfgM + digM
                    let dnH = n * dfgH + digH
                    let scale = o / (nNext * nNext)
                    let dhC = scale * (nNext * dcC)
                    let dhN = scale * (-cNext * dnN)
                    let dhM = scale * (nNext * dcM - cNext * dnM)
                    let gate: Scalar = o * (1 - o) * ro
                    let ratio: Scalar = cNext / nNext
                    let dhH: Scalar = scale * (nNext * dcH - cNext * dnH) + gate * ratio
                    if diagonalOnly {
                        jt[l] = dcC
                        jt[lanes + l] = dnN
                        jt[2 * lanes + l] = dmM
                        jt[3 * lanes + l] = dhH
                        continue
                    }
                    // Block row r, column k at (4r + k)·B·d + lane; rows c′, n′, m′, h′.
                    let block = jt + l
                    block[0] = dcC
                    block[lanes] = 0
                    block[2 * lanes] = dcM
                    block[3 * lanes] = dcH
                    block[4 * lanes] = 0
                    block[5 * lanes] = dnN
                    block[6 * lanes] = dnM
                    block[7 * lanes] = dnH
                    block[8 * lanes] = 0
                    block[9 * lanes] = 0
                    block[10 * lanes] = dmM
                    block[11 * lanes] = dmH
                    block[12 * lanes] = dhC
                    block[13 * lanes] = dhN
                    block[14 * lanes] = dhM
                    block[15 * lanes] = dhH
                }
            }
        }
    }
}
