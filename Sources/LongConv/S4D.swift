import ComplexModule
import Foundation
import ParallelScan
import RealModule

/// How a continuous SSM x' = Ax + Bu is turned into x_k = Ā x_{k−1} + B̄ u_k.
public enum Discretization: Sendable, Equatable {
    /// Zero-order hold: Ā = exp(ΔA), B̄ = (exp(ΔA) − 1)/A · B.
    case zeroOrderHold
    /// Bilinear (Tustin): Ā = (1 + ΔA/2)/(1 − ΔA/2), B̄ = Δ/(1 − ΔA/2) · B.
    case bilinear
}

/// Initialisation of the S4D diagonal A (the S4D paper's and its reference code's sign:
/// Im A_n ≥ 0).
public enum S4DInitialization: Sendable, Equatable {
    /// S4D-Lin: A_n = −½ + iπn.
    case lin
    /// S4D-Inv: A_n = −½ + i(N/π)(N/(2n+1) − 1).
    case inv
}

/// Gradients of a loss with respect to the S4D kernel parameters (same layouts as the parameters).
public struct S4DGradients: Sendable {
    /// dL/d log Δ, `[H]`.
    public var logDt: [Double]
    /// dL/d aRealLog, `[H][N/2]`.
    public var aRealLog: [Double]
    /// dL/d aImag, `[H][N/2]`.
    public var aImag: [Double]
    /// dL/dRe B and dL/dIm B, `[H][N/2]`.
    public var bReal: [Double], bImag: [Double]
    /// dL/dRe C and dL/dIm C, `[H][N/2]`.
    public var cReal: [Double], cImag: [Double]
}

/// The S4D (diagonal state-space) convolution kernel of H channels with N/2 complex modes each.
///
/// Per channel h and mode n (conjugate modes implied):
/// - A_n = −max(exp(aRealLog_n), 10⁻⁴) + i·aImag_n (so Re A ≤ −10⁻⁴ < 0),
/// - Δ = exp(logDt_h), discretised by ``Discretization`` into Ā_n, B̄_n,
/// - K_ℓ = 2·Re Σ_n C_n B̄_n Ā_n^ℓ, ℓ = 0…L−1 (a Vandermonde product).
///
/// The equivalent recurrence is x_k = Ā x_{k−1} + B̄ u_k, y_k = 2·Re Σ_n C_n x_{k,n} (+ D u_k).
/// All computation is in Double.
///
/// The sign convention is the S4D paper's and its reference implementation's
/// (`A = -exp(log_A_real) + 1j * A_imag`), so weights exported from it load as they are:
/// `aRealLog = log_A_real`, `aImag = A_imag`, `b`, `c` = B, C (C as the complex view of its
/// `[..., 2]` real tensor), `logDt = log_dt`. (Before 2026-11-30 pararnn used Im A = −aImag,
/// the conjugate: such weights give the same kernel here with `aImag` negated.)
///
/// ```swift
/// let kernel = try S4DKernel.initialized(channels: 4, stateSize: 64)   // S4D-Lin, ZOH
/// let k = try kernel.kernel(length: 1024)                              // [H][L]
/// ```
public struct S4DKernel: Sendable {
    /// H.
    public let channels: Int
    /// N (even); there are N/2 complex modes.
    public let stateSize: Int
    /// N/2.
    public var modes: Int { stateSize / 2 }
    /// ZOH or bilinear.
    public var discretization: Discretization
    /// log Δ per channel, `[H]`.
    public var logDt: [Double]
    /// Re A = −exp(aRealLog), `[H][N/2]`.
    public var aRealLog: [Double]
    /// Im A = aImag, `[H][N/2]`.
    public var aImag: [Double]
    /// B, `[H][N/2]`.
    public var b: [Complex<Double>]
    /// C, `[H][N/2]`.
    public var c: [Complex<Double>]

    /// The lower bound on −Re A.
    public static let minimumDecay = 1e-4

    /// Creates a kernel from explicit parameters.
    /// - Throws: ``LongConvError/oddStateSize(_:)``, ``LongConvError/noChannels``, shape mismatches.
    public init(
        channels: Int, stateSize: Int, discretization: Discretization, logDt: [Double],
        aRealLog: [Double], aImag: [Double], b: [Complex<Double>], c: [Complex<Double>]
    ) throws(LongConvError) {
        if channels < 1 { throw .noChannels }
        if stateSize < 2 || stateSize % 2 != 0 { throw .oddStateSize(stateSize) }
        let m = channels * stateSize / 2
        try checkShape("logDt", logDt.count, channels)
        try checkShape("aRealLog", aRealLog.count, m)
        try checkShape("aImag", aImag.count, m)
        try checkShape("b", b.count, m)
        try checkShape("c", c.count, m)
        (self.channels, self.stateSize, self.discretization, self.logDt) = (channels, stateSize, discretization, logDt)
        (self.aRealLog, self.aImag, self.b, self.c) = (aRealLog, aImag, b, c)
    }

    /// The standard initialisation: A from S4D-Lin or S4D-Inv, B = 1, C ~ complex normal
    /// (variance ½ per part), log Δ ~ U[log dtMin, log dtMax].
    public static func initialized(
        channels: Int, stateSize: Int, initialization: S4DInitialization = .lin,
        discretization: Discretization = .zeroOrderHold, dtMin: Double = 1e-3, dtMax: Double = 1e-1,
        seed: UInt64 = 0
    ) throws(LongConvError) -> S4DKernel {
        if stateSize < 2 || stateSize % 2 != 0 { throw .oddStateSize(stateSize) }
        if channels < 1 { throw .noChannels }
        if !(dtMin > 0 && dtMax >= dtMin) { throw .invalidParameter("need 0 < dtMin ≤ dtMax") }
        var rng = SplitMix64(seed: seed)
        let half = stateSize / 2
        let N = Double(stateSize)
        var logDt = [Double]()
        var aRe = [Double]()
        var aIm = [Double]()
        var b = [Complex<Double>]()
        var c = [Complex<Double>]()
        for _ in 0..<channels {
            logDt.append(log(dtMin) + rng.uniform() * (log(dtMax) - log(dtMin)))
            for n in 0..<half {
                aRe.append(log(0.5))
                switch initialization {
                case .lin: aIm.append(Double.pi * Double(n))
                case .inv: aIm.append(N / Double.pi * (N / Double(2 * n + 1) - 1))
                }
                b.append(Complex(1, 0))
                let s = 0.5.squareRoot()
                c.append(Complex(rng.normal() * s, rng.normal() * s))
            }
        }
        return try S4DKernel(
            channels: channels, stateSize: stateSize, discretization: discretization, logDt: logDt,
            aRealLog: aRe, aImag: aIm, b: b, c: c)
    }

    /// Continuous A of channel h, mode n.
    public func continuousA(channel h: Int, mode n: Int) -> Complex<Double> {
        let i = h * modes + n
        return Complex(-max(exp(aRealLog[i]), S4DKernel.minimumDecay), aImag[i])
    }

    /// (Ā, B̄) of channel h, mode n.
    public func discretized(channel h: Int, mode n: Int) -> (aBar: Complex<Double>, bBar: Complex<Double>) {
        let p = partials(channel: h, mode: n)
        return (p.aBar, p.bBar)
    }

    /// Ā, B̄ and their partial derivatives with respect to A (holomorphic) and Δ (real).
    struct Partials {
        var a: Complex<Double>, dt: Double
        var aBar: Complex<Double>, bBar: Complex<Double>
        var dAbar_dA: Complex<Double>, dAbar_dDt: Complex<Double>
        var dBbar_dA: Complex<Double>, dBbar_dDt: Complex<Double>
        var phi: Complex<Double>  // B̄ = φ·B
    }

    func partials(channel h: Int, mode n: Int) -> Partials {
        let a = continuousA(channel: h, mode: n)
        let dt = exp(logDt[h])
        let bb = b[h * modes + n]
        let one = Complex<Double>(1, 0)
        switch discretization {
        case .zeroOrderHold:
            // Ā = e^{ΔA}; ∂Ā/∂A = ΔĀ; ∂Ā/∂Δ = AĀ; B̄ = B(Ā−1)/A;
            // ∂B̄/∂A = B[ΔĀ/A − (Ā−1)/A²]; ∂B̄/∂Δ = BĀ.
            let aBar = Complex.exp(a * dt)
            let phi = (aBar - one) / a
            return Partials(
                a: a, dt: dt, aBar: aBar, bBar: phi * bb, dAbar_dA: aBar * dt, dAbar_dDt: a * aBar,
                dBbar_dA: bb * ((aBar * dt) / a - phi / a), dBbar_dDt: bb * aBar, phi: phi)
        case .bilinear:
            // d = 1 − ΔA/2; Ā = (1 + ΔA/2)/d; ∂Ā/∂A = Δ/d²; ∂Ā/∂Δ = A/d²;
            // B̄ = ΔB/d; ∂B̄/∂A = BΔ²/(2d²); ∂B̄/∂Δ = B/d².
            let d = one - a * (dt / 2)
            let d2 = d * d
            let aBar = (one + a * (dt / 2)) / d
            let phi = Complex(dt, 0) / d
            return Partials(
                a: a, dt: dt, aBar: aBar, bBar: phi * bb, dAbar_dA: Complex(dt, 0) / d2,
                dAbar_dDt: a / d2, dBbar_dA: bb * Complex(dt * dt / 2, 0) / d2, dBbar_dDt: bb / d2,
                phi: phi)
        }
    }

    /// The kernel K[h][ℓ] = 2·Re Σ_n C_n B̄_n Ā_n^ℓ, `[H][L]`.
    /// - Throws: ``LongConvError/emptyLength`` for L < 1.
    public func kernel(length L: Int) throws(LongConvError) -> [Double] {
        if L < 1 { throw .emptyLength }
        var k = [Double](repeating: 0, count: channels * L)
        let m = modes
        // z_n = 2·C_n·B̄_n·Ā_n^ℓ for all modes side by side: the mode loop is independent work
        // (instruction-level parallelism), the ℓ loop the unavoidable recurrence.
        var zr = [Double](repeating: 0, count: m)
        var zi = zr
        var ar = zr
        var ai = zr
        k.withUnsafeMutableBufferPointer { kb in
            for h in 0..<channels {
                for n in 0..<m {
                    let p = partials(channel: h, mode: n)
                    let w = c[h * m + n] * p.bBar
                    zr[n] = 2 * w.real
                    zi[n] = 2 * w.imaginary
                    ar[n] = p.aBar.real
                    ai[n] = p.aBar.imaginary
                }
                let out = kb.baseAddress! + h * L
                zr.withUnsafeMutableBufferPointer { zrp in
                    zi.withUnsafeMutableBufferPointer { zip in
                        ar.withUnsafeBufferPointer { arp in
                            ai.withUnsafeBufferPointer { aip in
                                for l in 0..<L {
                                    var s = 0.0
                                    for n in 0..<m {
                                        let xr = zrp[n]
                                        let xi = zip[n]
                                        s += xr
                                        zrp[n] = xr * arp[n] - xi * aip[n]
                                        zip[n] = xr * aip[n] + xi * arp[n]
                                    }
                                    out[l] = s
                                }
                            }
                        }
                    }
                }
            }
        }
        return k
    }

    /// Gradients of a loss through the kernel, given G = dL/dK `[H][L]`.
    ///
    /// With W_n = C_n B̄_n, S_n = Σ_ℓ G_ℓ Ā_n^ℓ and T_n = Σ_ℓ ℓ G_ℓ Ā_n^{ℓ−1}, the first-order change
    /// of the loss is δL = 2·Re Σ_n [α δC + β δA + γ δΔ + SCφ δB] with
    ///   α = S B̄,  β = S C ∂B̄/∂A + W T ∂Ā/∂A,  γ = S C ∂B̄/∂Δ + W T ∂Ā/∂Δ,  B̄ = φB.
    /// Hence dL/dRe C = 2 Re α, dL/dIm C = −2 Im α (likewise B with SCφ);
    /// A = −exp(aRealLog) + i·aImag gives dL/daRealLog = −2 exp(aRealLog) Re β (0 where the
    /// 10⁻⁴ clamp is active) and dL/daImag = −2 Im β; Δ = exp(logDt) gives dL/dlogDt = Σ_n 2 Δ Re γ.
    public func kernelGradient(length L: Int, gradKernel g: [Double]) throws(LongConvError) -> S4DGradients {
        if L < 1 { throw .emptyLength }
        try checkShape("gradKernel", g.count, channels * L)
        let m = channels * modes
        var out = S4DGradients(
            logDt: [Double](repeating: 0, count: channels), aRealLog: [Double](repeating: 0, count: m),
            aImag: [Double](repeating: 0, count: m), bReal: [Double](repeating: 0, count: m),
            bImag: [Double](repeating: 0, count: m), cReal: [Double](repeating: 0, count: m),
            cImag: [Double](repeating: 0, count: m))
        g.withUnsafeBufferPointer { gb in
            for h in 0..<channels {
                let gh = gb.baseAddress! + h * L
                var dDt = 0.0
                for n in 0..<modes {
                    let i = h * modes + n
                    let p = partials(channel: h, mode: n)
                    let ar = p.aBar.real
                    let ai = p.aBar.imaginary
                    var pr = 1.0
                    var pi = 0.0  // Ā^ℓ
                    var sr = 0.0
                    var si = 0.0
                    var tr = 0.0
                    var ti = 0.0
                    var qr = 0.0
                    var qi = 0.0  // Ā^{ℓ−1}
                    for l in 0..<L {
                        let gl = gh[l]
                        sr += gl * pr
                        si += gl * pi
                        if l > 0 {
                            tr += Double(l) * gl * qr
                            ti += Double(l) * gl * qi
                        }
                        qr = pr
                        qi = pi
                        let t = pr * ar - pi * ai
                        pi = pr * ai + pi * ar
                        pr = t
                    }
                    let S = Complex(sr, si)
                    let T = Complex(tr, ti)
                    let C = c[i]
                    let W = C * p.bBar
                    let alpha = S * p.bBar
                    let SC: Complex<Double> = S * C
                    let WT: Complex<Double> = W * T
                    let beta: Complex<Double> = SC * p.dBbar_dA + WT * p.dAbar_dA
                    let gamma: Complex<Double> = SC * p.dBbar_dDt + WT * p.dAbar_dDt
                    let bCoef: Complex<Double> = SC * p.phi
                    out.cReal[i] = 2 * alpha.real
                    out.cImag[i] = -2 * alpha.imaginary
                    out.bReal[i] = 2 * bCoef.real
                    out.bImag[i] = -2 * bCoef.imaginary
                    let e = exp(aRealLog[i])
                    out.aRealLog[i] = e > S4DKernel.minimumDecay ? -2 * e * beta.real : 0
                    out.aImag[i] = -2 * beta.imaginary
                    dDt += 2 * gamma.real
                }
                out.logDt[h] = dDt * exp(logDt[h])
            }
        }
        return out
    }
}

extension Complex where RealType == Double {
    /// z·s for a real s.
    @inline(__always) static func * (z: Complex, s: Double) -> Complex { Complex(z.real * s, z.imaginary * s) }
    /// z/s for a real s.
    @inline(__always) static func / (z: Complex, s: Double) -> Complex { Complex(z.real / s, z.imaginary / s) }
}
