/// One channel's gates at one step of a ``ParaSLSTM``: what its kernel (values and Jacobian) and
/// its VJP both start from, with the notation of the type's notes.
struct SLSTMGates<Scalar: CellMath> {
    /// The pre-activations ĩ, f̃, z̃, õ.
    let pi, pf, pz, po: Scalar
    /// Whether m′ = ĩ (the input gate's branch of the stabiliser; ties take it), else log σ(f̃) + m.
    let inputWins: Bool
    /// m′, the stabilised gates i′ = exp(ĩ − m′) and f′ = exp(log σ(f̃) + m − m′), ζ = tanh(z̃)
    /// and σ(õ).
    let mNext, ig, fg, z, o: Scalar

    /// The gates of lane `l` (channel `j` = l mod d) from the previous m and h, the diagonal
    /// gains `r` (`[4][d]`) and the step's projection row `u` (`[4][B·d]`).
    @inline(__always)
    init(
        lane l: Int, channel j: Int, lanes: Int, hidden d: Int, m: Scalar, h: Scalar, gains r: UnsafePointer<Scalar>,
        projections u: UnsafePointer<Scalar>
    ) {
        pi = r[j] * h + u[l]
        pf = r[d + j] * h + u[lanes + l]
        pz = r[2 * d + j] * h + u[2 * lanes + l]
        po = r[3 * d + j] * h + u[3 * lanes + l]
        let a = ParaSLSTM<Scalar>.logSigmoid(pf) + m
        inputWins = pi >= a
        mNext = inputWins ? pi : a
        ig = Scalar.cellExp(pi - mNext)
        fg = Scalar.cellExp(a - mNext)
        z = Scalar.tanh(pz)
        o = Scalar.sigmoid(po)
    }
}
