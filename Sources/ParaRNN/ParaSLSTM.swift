import Foundation
import ParallelScan

/// xLSTM's sLSTM with a diagonal recurrence (ParaRNN-style): exponential input gate, sigmoid
/// forget gate, normaliser n and stabiliser m. Each channel has a 4-value state (c, n, m, h), so
/// the Jacobian is 4×4-block-diagonal and a Newton step is a 4×4-block affine scan.
///
/// With u^i, u^f, u^z, u^o the input projections (rows i, f, z, o) and diagonal gains R (rows
/// i, f, z, o):
///
///     ĩ = R_i ⊙ h + u^i,  f̃ = R_f ⊙ h + u^f,  z̃ = R_z ⊙ h + u^z,  õ = R_o ⊙ h + u^o
///     m' = max(ĩ, log σ(f̃) + m)
///     i' = exp(ĩ − m'),   f' = exp(log σ(f̃) + m − m')
///     c' = f' ⊙ c + i' ⊙ tanh(z̃),   n' = f' ⊙ n + i',   h' = σ(õ) ⊙ c' / n'
///
/// m only rescales c and n together (h' is unchanged by it in exact arithmetic); every exponent is
/// ≤ 0. This port has no max(n, 1) (see the xLSTM reference notes). The zero state (m = 0) is
/// the default start. State row `[4][B][d]` (planes c, n, m, h); projection row `[4][B][d]`.
/// The output is h. Jacobians come from the generic dual-number path of ``GenericStepCell``.
///
/// ```swift
/// let cell = try ParaSLSTM<Double>(inputSize: 1, hiddenSize: 8, recurrentGains: r, inputWeights: w, inputBias: b)
/// let s = try SequenceSolver(cell: cell, options: SolverOptions(method: .newton)).solve(inputs: x, steps: T, batch: 1)
/// ```
public struct ParaSLSTM<Scalar: CellMath>: GenericStepCell {
    public let inputSize: Int
    public let hiddenSize: Int
    /// Diagonal recurrent gains R, `[4][d]`, rows (i, f, z, o).
    public let recurrentGains: [Scalar]
    /// Input weights W, `[4d][m]`, rows (i, f, z, o).
    public let inputWeights: [Scalar]
    /// Input bias, `[4d]`.
    public let inputBias: [Scalar]

    public var stateSize: Int { 4 * hiddenSize }
    public var gateCount: Int { 4 }
    public var structure: JacobianStructure { .blockDiagonal(4) }

    public init(
        inputSize m: Int, hiddenSize d: Int, recurrentGains: [Scalar], inputWeights: [Scalar],
        inputBias: [Scalar]
    ) throws(CellError) {
        if d <= 0 || m < 0 { throw .invalidShape("hidden size \(d) and input size \(m) must be positive") }
        try checkParameter("R", recurrentGains, [4, d])
        try checkParameter("W", inputWeights, [4 * d, m])
        try checkParameter("b", inputBias, [4 * d])
        inputSize = m
        hiddenSize = d
        self.recurrentGains = recurrentGains
        self.inputWeights = inputWeights
        self.inputBias = inputBias
    }

    /// Creates the cell from ParaRNN-style tensors `A` `[4, d]` (diagonal gains), `B`
    /// `[H, m/H, 4, d/H]` (head-block input projection) and `b` `[4, d]`.
    public init(
        inputSize m: Int, hiddenSize d: Int, heads: Int, A: [Scalar], B: [Scalar], b: [Scalar]
    ) throws(CellError) {
        let w = try headProjectionToDense(B, inputSize: m, hiddenSize: d, heads: heads, gates: 4)
        try self.init(inputSize: m, hiddenSize: d, recurrentGains: A, inputWeights: w, inputBias: b)
    }

    /// log σ(x) = −(max(−x, 0) + log1p(e^{−|x|})) in Double.
    @inlinable static func logSigmoid(_ x: Scalar) -> Scalar {
        let v = Double(x)
        return Scalar(-(max(-v, 0) + Foundation.log1p(Foundation.exp(-abs(v)))))
    }

    public func step<T: CellNumber>(state s: [T], projection u: [T]) -> [T] where T.Base == Scalar {
        let d = hiddenSize
        var next = [T](repeating: T(0), count: 4 * d)
        for j in 0..<d {
            let c = s[j], n = s[d + j], m = s[2 * d + j], h = s[3 * d + j]
            let pi = T(recurrentGains[j]) * h + u[j]
            let pf = T(recurrentGains[d + j]) * h + u[d + j]
            let pz = T(recurrentGains[2 * d + j]) * h + u[2 * d + j]
            let po = T(recurrentGains[3 * d + j]) * h + u[3 * d + j]
            // log σ(f̃) to first order around its value (exact for plain and dual numbers):
            // value log σ(v), derivative σ(−v).
            let v = pf.value
            let logF = T(Self.logSigmoid(v)) + (pf - T(v)) * T(Scalar.sigmoid(-v))
            let a = logF + m
            let mNext = pi.value >= a.value ? pi : a
            let ig = T.exp(pi - mNext), fg = T.exp(a - mNext)
            let cNext = fg * c + ig * T.tanh(pz)
            let nNext = fg * n + ig
            next[j] = cNext
            next[d + j] = nNext
            next[2 * d + j] = mNext
            next[3 * d + j] = T.sigmoid(po) * cNext / nNext
        }
        return next
    }
}

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
    public func vectorJacobianProducts(
        steps: Range<Int>, batch: Int, previous: UnsafePointer<Scalar>,
        states: UnsafePointer<Scalar>, projections: UnsafePointer<Scalar>,
        adjoints: UnsafePointer<Scalar>, projectionGradients: UnsafeMutablePointer<Scalar>,
        parameterGradients: UnsafeMutablePointer<Scalar>
    ) {
        let d = hiddenSize, lanes = batch * d, row = 4 * lanes
        recurrentGains.withUnsafeBufferPointer { gains in
            let r = gains.baseAddress!
            for t in steps {
                let prev = t == steps.lowerBound ? previous : states + (t - 1) * row
                let cur = states + t * row
                let u = projections + t * 4 * lanes, du = projectionGradients + t * 4 * lanes
                let lambda = adjoints + t * row
                for b in 0..<batch {
                    for j in 0..<d {
                        let l = b * d + j
                        let c = prev[l], n = prev[lanes + l], m = prev[2 * lanes + l], h = prev[3 * lanes + l]
                        let pi = r[j] * h + u[l], pf = r[d + j] * h + u[lanes + l]
                        let pz = r[2 * d + j] * h + u[2 * lanes + l], po = r[3 * d + j] * h + u[3 * lanes + l]
                        let a = Self.logSigmoid(pf) + m
                        let inputWins = pi >= a
                        let mNext = inputWins ? pi : a
                        let ig = Scalar.cellExp(pi - mNext), fg = Scalar.cellExp(a - mNext)
                        let zeta = Scalar.tanh(pz), o = Scalar.sigmoid(po)
                        let cNext = cur[l], nNext = cur[lanes + l], hNext = cur[3 * lanes + l]
                        let lc = lambda[l], ln = lambda[lanes + l], lm = lambda[2 * lanes + l], lh = lambda[3 * lanes + l]
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

extension ParaSLSTM: TrainableCell {
    public var parameterVector: [Scalar] { recurrentGains + inputWeights + inputBias }

    public func with(parameterVector vector: [Scalar]) throws(CellError) -> ParaSLSTM {
        let (recurrent, w, b) = try split(vector)
        return try ParaSLSTM(inputSize: inputSize, hiddenSize: hiddenSize, recurrentGains: recurrent[0], inputWeights: w, inputBias: b)
    }

    /// R ∼ U(−0.5, 0.5), W ∼ U(±1/√m), forget-gate bias +3 (long memory), other biases 0.
    public static func initialized<G: RandomNumberGenerator>(
        inputSize m: Int, hiddenSize d: Int, using generator: inout G
    ) throws(CellError) -> ParaSLSTM {
        var bias = [Scalar](repeating: 0, count: 4 * d)
        for j in 0..<d { bias[d + j] = 3 }
        return try ParaSLSTM(
            inputSize: m, hiddenSize: d, recurrentGains: uniformValues(4 * d, 0.5, &generator),
            inputWeights: uniformValues(4 * d * m, 1 / Double(max(1, m)).squareRoot(), &generator),
            inputBias: bias)
    }
}
