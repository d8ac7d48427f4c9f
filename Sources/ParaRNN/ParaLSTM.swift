import ParallelScan

/// ParaRNN's LSTM with diagonal recurrent weights, coupled input–forget gate and peepholes.
/// Each channel has a 2-value state (c, h), so the Jacobian is 2×2-block-diagonal and a Newton
/// step is a 2×2-block affine scan.
///
/// With u^f, u^o, u^c the input projections (rows f, o, c), diagonal gains A (rows f, o, c) and
/// peepholes C (rows f, o):
///
///     f  = σ(A_f ⊙ h + u^f + C_f ⊙ c)
///     ĉ  = tanh(A_c ⊙ h + u^c)
///     c' = f ⊙ c + (1 − f) ⊙ ĉ
///     o  = σ(A_o ⊙ h + u^o + C_o ⊙ c')
///     h' = o ⊙ tanh(c')
///
/// Jacobian block per channel, with f̃ = f(1−f), õ = o(1−o), τ = tanh(c'):
///
///     ∂c'/∂c = f + (c − ĉ)·f̃·C_f
///     ∂c'/∂h = (c − ĉ)·f̃·A_f + (1 − f)(1 − ĉ²)·A_c
///     ∂h'/∂c = g·∂c'/∂c,            g = õ·C_o·τ + o(1 − τ²)
///     ∂h'/∂h = õ·A_o·τ + g·∂c'/∂h
///
/// State row `[2][B][d]` (plane c, then plane h); projection row `[3][B][d]`; Jacobian row
/// `[2][2][B·d]`. The output is h.
public struct ParaLSTM<Scalar: CellMath>: GenericStepCell {
    public static var cellName: String { "paralstm" }
    public let inputSize: Int
    public let hiddenSize: Int
    /// Diagonal recurrent gains A, `[3][d]`, rows (f, o, c).
    public let recurrentGains: [Scalar]
    /// Peephole gains C, `[2][d]`, rows (f on c_{t−1}, o on c_t).
    public let peepholes: [Scalar]
    public let inputWeights: [Scalar]
    public let inputBias: [Scalar]

    public var stateSize: Int { 2 * hiddenSize }
    public var gateCount: Int { 3 }
    public var structure: JacobianStructure { .blockDiagonal(2) }

    /// Creates a ParaLSTM from dense input weights W `[3d][m]` (rows f, o, c) and bias `[3d]`.
    public init(
        inputSize m: Int, hiddenSize d: Int, recurrentGains: [Scalar], peepholes: [Scalar],
        inputWeights: [Scalar], inputBias: [Scalar]
    ) throws(CellError) {
        if d <= 0 || m < 0 { throw .invalidShape("hidden size \(d) and input size \(m) must be positive") }
        try checkParameter("A", recurrentGains, [3, d])
        try checkParameter("C", peepholes, [2, d])
        try checkParameter("W", inputWeights, [3 * d, m])
        try checkParameter("b", inputBias, [3 * d])
        inputSize = m
        hiddenSize = d
        self.recurrentGains = recurrentGains
        self.peepholes = peepholes
        self.inputWeights = inputWeights
        self.inputBias = inputBias
    }

    /// Creates a ParaLSTM from ParaRNN's tensors `A` `[3, d]`, `B` `[H, m/H, 3, d/H]`,
    /// `C` `[2, d]`, `b` `[3, d]`.
    public init(
        inputSize m: Int, hiddenSize d: Int, heads: Int, A: [Scalar], B: [Scalar], C: [Scalar],
        b: [Scalar]
    ) throws(CellError) {
        let w = try headProjectionToDense(B, inputSize: m, hiddenSize: d, heads: heads, gates: 3)
        try self.init(
            inputSize: m, hiddenSize: d, recurrentGains: A, peepholes: C, inputWeights: w,
            inputBias: b)
    }

    public func step<T: CellNumber>(state s: [T], projection u: [T]) -> [T] where T.Base == Scalar {
        let d = hiddenSize
        var next = [T](repeating: T(0), count: 2 * d)
        for j in 0..<d {
            let c = s[j], h = s[d + j]
            let f = T.sigmoid(T(recurrentGains[j]) * h + u[j] + T(peepholes[j]) * c)
            let candidate = T.tanh(T(recurrentGains[2 * d + j]) * h + u[2 * d + j])
            let cNext = f * c + (T(1) - f) * candidate
            let o = T.sigmoid(T(recurrentGains[d + j]) * h + u[d + j] + T(peepholes[d + j]) * cNext)
            next[j] = cNext
            next[d + j] = o * T.tanh(cNext)
        }
        return next
    }

    public func linearize(
        steps: Range<Int>, batch: Int, previous: UnsafePointer<Scalar>,
        states: UnsafePointer<Scalar>, projections: UnsafePointer<Scalar>,
        values: UnsafeMutablePointer<Scalar>, jacobians: UnsafeMutablePointer<Scalar>?,
        request: JacobianRequest
    ) {
        let d = hiddenSize, lanes = batch * d, row = 2 * lanes
        recurrentGains.withUnsafeBufferPointer { gains in
            peepholes.withUnsafeBufferPointer { peep in
                let af = gains.baseAddress!, ao = af + d, ac = af + 2 * d
                let cf = peep.baseAddress!, co = cf + d
                for t in steps {
                    let prev = t == steps.lowerBound ? previous : states + (t - 1) * row
                    let u = projections + t * 3 * lanes
                    let out = values + t * row
                    let jrow = request == .diagonalOnly ? row : 2 * row
                    for b in 0..<batch {
                        let cp = prev + b * d, hp = prev + lanes + b * d
                        let oc = out + b * d, oh = out + lanes + b * d
                        let uf = u + b * d, uo = u + lanes + b * d, uc = u + 2 * lanes + b * d
                        for j in 0..<d {
                            let c = cp[j], h = hp[j]
                            let f = Scalar.sigmoid(af[j] * h + uf[j] + cf[j] * c)
                            let candidate = Scalar.tanh(ac[j] * h + uc[j])
                            let cNext = f * c + (1 - f) * candidate
                            let o = Scalar.sigmoid(ao[j] * h + uo[j] + co[j] * cNext)
                            let tau = Scalar.tanh(cNext)
                            oc[j] = cNext
                            oh[j] = o * tau
                            guard let jacobians else { continue }
                            let fTilde = f * (1 - f), oTilde = o * (1 - o)
                            let gap = c - candidate
                            let dcdc: Scalar = f + gap * fTilde * cf[j]
                            let dcdh: Scalar = gap * fTilde * af[j] + (1 - f) * (1 - candidate * candidate) * ac[j]
                            let g: Scalar = oTilde * co[j] * tau + o * (1 - tau * tau)
                            let dhdh: Scalar = oTilde * ao[j] * tau + g * dcdh
                            let jt = jacobians + t * jrow + b * d + j
                            if request == .diagonalOnly {
                                jt[0] = dcdc
                                jt[lanes] = dhdh
                            } else {
                                jt[0] = dcdc
                                jt[lanes] = dcdh
                                jt[2 * lanes] = g * dcdc
                                jt[3 * lanes] = dhdh
                            }
                        }
                    }
                }
            }
        }
    }
}
