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
/// The output is h. The rollout and the Jacobians run the hand-written kernel of
/// `ParaSLSTM+Kernel.swift`; ``step(state:projection:)`` is its dual-number reference.
///
/// ```swift
/// let cell = try ParaSLSTM<Double>(inputSize: 1, hiddenSize: 8, recurrentGains: r, inputWeights: w, inputBias: b)
/// let s = try SequenceSolver(cell: cell, options: SolverOptions(method: .newton)).solve(inputs: x, steps: T, batch: 1)
/// ```
public struct ParaSLSTM<Scalar: CellMath>: KernelCell, DiagonalGainCell {
    /// Diagonal recurrent gains R `[4][d]`, input weights W `[4d][m]` and bias `[4d]`, rows
    /// (i, f, z, o).
    public let gains: DiagonalGains<Scalar>

    public var stateSize: Int { 4 * hiddenSize }
    public var gateCount: Int { 4 }
    public var structure: JacobianStructure { .blockDiagonal(4) }
    public static var gainsName: String { "R" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func linearize(_ arguments: LinearizeArguments<Scalar>) { kernel(arguments) }

    /// An sLSTM with these tensors; the dense and head-block initialisers
    /// (``DiagonalGainCell``) validate them first.
    public init(gains: DiagonalGains<Scalar>) { self.gains = gains }

    /// log σ(x) = −(max(−x, 0) + log1p(e^{−|x|})) in Double.
    @inlinable static func logSigmoid(_ x: Scalar) -> Scalar {
        let v = Double(x)
        return Scalar(-(max(-v, 0) + Foundation.log1p(Foundation.exp(-abs(v)))))
    }

    public func step<T: CellNumber>(state s: [T], projection u: [T]) -> [T] where T.Base == Scalar {
        let d = hiddenSize
        var next = [T](repeating: T(0), count: 4 * d)
        for j in 0..<d {
            let c = s[j]
            let n = s[d + j]
            let m = s[2 * d + j]
            let h = s[3 * d + j]
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
            let ig = T.exp(pi - mNext)
            let fg = T.exp(a - mNext)
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
