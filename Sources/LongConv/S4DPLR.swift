import CBLAS
import ComplexModule
import Foundation
import ParallelScan
import RealModule

/// The diagonal-plus-low-rank (DPLR) form of HiPPO-LegS in its eigenbasis (N/2 modes kept;
/// the other N/2 are their complex conjugates).
public struct HiPPODPLR: Sendable {
    /// N.
    public let stateSize: Int
    /// Λ_n = −½ + i·μ_n, μ_n < 0 the eigenvalues of −i·S (S the skew part of A + PPᵀ), `[N/2]`.
    public let lambda: [Complex<Double>]
    /// P̃ = V*P, `[N/2]`.
    public let p: [Complex<Double>]
    /// B̃ = V*B, `[N/2]`.
    public let b: [Complex<Double>]
    /// V: the kept eigenvectors as columns, row-major `[N][N/2]`.
    public let eigenvectors: [Complex<Double>]
}

/// The S4 kernel with a DPLR state matrix A = Λ − P̃P̃* (in the eigenbasis, conjugate modes implied),
/// shared B̃, per-channel C and Δ, bilinear discretisation.
///
/// Dense form (full N-dimensional eigenbasis, conjugate halves appended): A = diag(Λ, Λ̄) − p pᴴ
/// with p = (P̃, conj P̃), B = (B̃, conj B̃), C = (C, conj C);
/// Ā = (I − ΔA/2)⁻¹(I + ΔA/2), B̄ = (I − ΔA/2)⁻¹ΔB, K_ℓ = C Ā^ℓ B̄ (real).
///
/// Computed by the truncated generating function at ω_k = e^{−2πik/L}:
///   C̃ = C(I − Ā^L),  K̂(ω) = 2/(1+ω) · C̃ (g − A)⁻¹ B,  g = (2/Δ)(1−ω)/(1+ω),
/// with the Woodbury identity (g − Λ + ppᴴ)⁻¹ = R − Rp(1 + pᴴRp)⁻¹pᴴR, R = (g − Λ)⁻¹, giving
///   K̂ = k00 − ((1+ω)/2)·k01·k10 / (1 + ((1+ω)/2)·k11),
///   k_ab = Σ_n [a_n b_n ρ_n + ā_n b̄_n ρ̃_n],  ρ_n = 2/((2/Δ)(1−ω) − (1+ω)Λ_n), ρ̃ with Λ̄_n,
/// for (a, b) = (C̃, B̃), (C̃, P̃), (conj P̃, B̃), (conj P̃, P̃). The factor 2/(1+ω) is folded into
/// ρ so that ω = −1 (even L) needs no special case. Finally K = irfft(K̂, L).
public struct S4DPLRKernel: Sendable {
    /// H.
    public let channels: Int
    /// N.
    public let stateSize: Int
    /// N/2.
    public var modes: Int { stateSize / 2 }
    /// Λ, `[N/2]`.
    public var lambda: [Complex<Double>]
    /// P̃, `[N/2]`.
    public var p: [Complex<Double>]
    /// B̃, `[N/2]`.
    public var b: [Complex<Double>]
    /// C per channel in the eigenbasis (the output vector of the recurrence), `[H][N/2]`.
    public var c: [Complex<Double>]
    /// log Δ per channel, `[H]`.
    public var logDt: [Double]

    /// Creates a kernel from explicit parameters.
    public init(
        channels: Int, lambda: [Complex<Double>], p: [Complex<Double>], b: [Complex<Double>],
        c: [Complex<Double>], logDt: [Double]
    ) throws(LongConvError) {
        if channels < 1 { throw .noChannels }
        let m = lambda.count
        if m < 1 { throw .oddStateSize(0) }
        try checkShape("p", p.count, m)
        try checkShape("b", b.count, m)
        try checkShape("c", c.count, channels * m)
        try checkShape("logDt", logDt.count, channels)
        self.channels = channels
        stateSize = 2 * m
        self.lambda = lambda
        self.p = p
        self.b = b
        self.c = c
        self.logDt = logDt
    }

    /// HiPPO-LegS: A_nk = −√(2n+1)√(2k+1) (n > k), −(n+1) (n = k), 0 (n < k); B_n = √(2n+1);
    /// and the low-rank term P_n = √(n + ½). A is row-major `[N][N]`.
    public static func hippoLegS(stateSize N: Int) -> (a: [Double], b: [Double], p: [Double]) {
        var a = [Double](repeating: 0, count: N * N)
        for n in 0..<N {
            for k in 0...n {
                a[n * N + k] = n == k ? -Double(n + 1) : -(Double(2 * n + 1) * Double(2 * k + 1)).squareRoot()
            }
        }
        let b = (0..<N).map { (Double(2 * $0 + 1)).squareRoot() }
        let p = (0..<N).map { (Double($0) + 0.5).squareRoot() }
        return (a, b, p)
    }

    /// NPLR → DPLR: A + PPᵀ = −½I + S with S skew-symmetric; the Hermitian −iS is diagonalised
    /// with LAPACKE `zheevd` (eigenvalues ascending), the N/2 eigenvalues μ < 0 are kept:
    /// Λ = −½ + iμ, P̃ = V*P, B̃ = V*B.
    /// - Throws: ``LongConvError/oddStateSize(_:)``, ``LongConvError/lapackFailure(routine:info:)``.
    public static func dplrFromHiPPO(stateSize N: Int) throws(LongConvError) -> HiPPODPLR {
        if N < 2 || N % 2 != 0 { throw .oddStateSize(N) }
        let (a, bv, pv) = hippoLegS(stateSize: N)
        // H = −i·S, interleaved row-major complex; S_jk = (A + PPᵀ)_jk for j ≠ k.
        var h = [Double](repeating: 0, count: 2 * N * N)
        var diagMean = 0.0
        for j in 0..<N {
            for k in 0..<N {
                let ap = a[j * N + k] + pv[j] * pv[k]
                if j == k {
                    diagMean += ap / Double(N)
                    continue
                }
                h[2 * (j * N + k) + 1] = -ap
            }
        }
        var w = [Double](repeating: 0, count: N)
        let info = h.withUnsafeMutableBufferPointer { hp in
            LAPACKE_zheevd(
                LAPACK_ROW_MAJOR, 86 /* V */, 76 /* L */, Int32(N), OpaquePointer(hp.baseAddress!), Int32(N), &w)
        }
        if info != 0 { throw .lapackFailure(routine: "LAPACKE_zheevd", info: Int(info)) }
        let m = N / 2
        var lambda = [Complex<Double>]()
        var pt = [Complex<Double>]()
        var bt = [Complex<Double>]()
        var v = [Complex<Double>](repeating: .zero, count: N * m)
        for k in 0..<m {
            lambda.append(Complex(diagMean, w[k]))
            var sp = Complex<Double>.zero
            var sb = Complex<Double>.zero
            for j in 0..<N {
                let vjk = Complex(h[2 * (j * N + k)], h[2 * (j * N + k) + 1])
                v[j * m + k] = vjk
                sp = sp + vjk.conjugate * pv[j]
                sb = sb + vjk.conjugate * bv[j]
            }
            pt.append(sp)
            bt.append(sb)
        }
        return HiPPODPLR(stateSize: N, lambda: lambda, p: pt, b: bt, eigenvectors: v)
    }

    /// S4 initialisation: DPLR HiPPO-LegS, C ~ complex normal (variance ½ per part),
    /// log Δ ~ U[log dtMin, log dtMax].
    public static func initialized(
        channels: Int, stateSize: Int, dtMin: Double = 1e-3, dtMax: Double = 1e-1, seed: UInt64 = 0
    ) throws(LongConvError) -> S4DPLRKernel {
        if channels < 1 { throw .noChannels }
        if !(dtMin > 0 && dtMax >= dtMin) { throw .invalidParameter("need 0 < dtMin ≤ dtMax") }
        let dplr = try dplrFromHiPPO(stateSize: stateSize)
        var rng = SplitMix64(seed: seed)
        var c = [Complex<Double>]()
        var logDt = [Double]()
        let s = 0.5.squareRoot()
        for _ in 0..<channels {
            logDt.append(log(dtMin) + rng.uniform() * (log(dtMax) - log(dtMin)))
            for _ in 0..<dplr.lambda.count { c.append(Complex(rng.normal() * s, rng.normal() * s)) }
        }
        return try S4DPLRKernel(channels: channels, lambda: dplr.lambda, p: dplr.p, b: dplr.b, c: c, logDt: logDt)
    }

    /// C̃ = C(I − Ā^L) of channel h, by stepping the row vector w ← wĀ L times in O(N) each:
    /// r = w + (Δ/2)(wΛ − s·conj P̃) with s = wp = 2 Re Σ w P̃ (real by conjugate symmetry), then
    /// wĀ = (r − (Δ/2)σ conj P̃)/(1 − ΔΛ/2), σ = α/(1 + (Δ/2)β),
    /// α = 2 Re Σ r P̃/(1 − ΔΛ/2), β = 2 Re Σ |P̃|²/(1 − ΔΛ/2).
    func cTilde(channel h: Int, length L: Int, dt: Double) -> [Complex<Double>] {
        let m = modes
        let one = Complex<Double>(1, 0)
        let dInv = lambda.map { one / (one - $0 * (dt / 2)) }
        var beta = 0.0
        for n in 0..<m { beta += 2 * (dInv[n] * p[n].lengthSquared).real }
        var w = Array(c[(h * m)..<(h * m + m)])
        var r = w
        for _ in 0..<L {
            var s = 0.0
            for n in 0..<m { s += 2 * (w[n] * p[n]).real }
            var alpha = 0.0
            for n in 0..<m {
                r[n] = w[n] + (w[n] * lambda[n] - p[n].conjugate * s) * (dt / 2)
                alpha += 2 * (r[n] * p[n] * dInv[n]).real
            }
            let sigma = alpha / (1 + dt / 2 * beta)
            for n in 0..<m { w[n] = (r[n] - p[n].conjugate * (dt / 2 * sigma)) * dInv[n] }
        }
        return (0..<m).map { c[h * m + $0] - w[$0] }
    }

    /// The kernel K[h][ℓ], `[H][L]`, by Cauchy sums + Woodbury at the roots of unity and an
    /// inverse real FFT of length L (FFTW, plan from `cache`).
    public func kernel(length L: Int, cache: FFTPlanCache = .shared) throws(LongConvError) -> [Double] {
        if L < 1 { throw .emptyLength }
        let plan = try cache.plan(length: L, scalar: Double.self)
        let m = modes
        let bins = L / 2 + 1
        var out = [Double](repeating: 0, count: channels * L)
        let scratch = FFTScratch<Double>(n: L)
        let pc = p.map { $0.conjugate }
        for h in 0..<channels {
            let dt = exp(logDt[h])
            let ct = cTilde(channel: h, length: L, dt: dt)
            for k in 0..<bins {
                let theta = -2 * Double.pi * Double(k) / Double(L)
                let omega = Complex(cos(theta), sin(theta))
                let onePlus = Complex(1, 0) + omega
                let base = (Complex(1, 0) - omega) * (2 / dt)
                var k00 = Complex<Double>.zero
                var k01 = Complex<Double>.zero
                var k10 = Complex<Double>.zero
                var k11 = Complex<Double>.zero
                for n in 0..<m {
                    let rho = Complex(2, 0) / (base - onePlus * lambda[n])
                    let rhoC = Complex(2, 0) / (base - onePlus * lambda[n].conjugate)
                    func term(_ a: Complex<Double>, _ b: Complex<Double>) -> Complex<Double> {
                        let ab = a * b
                        return ab * rho + ab.conjugate * rhoC
                    }
                    k00 = k00 + term(ct[n], b[n])
                    k01 = k01 + term(ct[n], p[n])
                    k10 = k10 + term(pc[n], b[n])
                    k11 = k11 + term(pc[n], p[n])
                }
                let half = onePlus * 0.5
                let khat = k00 - half * k01 * k10 / (Complex(1, 0) + half * k11)
                scratch.c0[2 * k] = khat.real
                scratch.c0[2 * k + 1] = khat.imaginary
            }
            plan.inverse(scratch.c0, scratch.real)
            for l in 0..<L { out[h * L + l] = scratch.real[l] / Double(L) }
        }
        return out
    }
}
