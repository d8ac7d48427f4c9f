import Foundation
import ParallelScan

/// An S5-style continuous-time diagonal state-space layer with per-step sampling intervals Δ_t
/// and zero-order-hold (ZOH) discretisation.
///
/// Continuous system: h'(τ) = Λ h(τ) + B x(τ), y = Re(C h) + D x, with complex diagonal
/// Λ_j = −exp(ν_j) + i ω_j (negative real part for every ν), complex B ∈ ℂⁿˣᵐ, C ∈ ℂᵖˣⁿ, real
/// D ∈ ℝᵖˣᵐ. With Δ_t > 0 the time elapsed at step t (per sequence, `[T][batch]`), holding x_t
/// constant over the interval:
///
///     Ā_t = exp(Λ Δ_t)                 (|Ā_tj| = exp(−e^{ν_j} Δ_t) < 1)
///     B̄_t = (Ā_t − 1)/Λ ⊙ B            (row-wise; Ā − 1 formed with expm1 for small ΛΔ)
///     h_t = Ā_t ⊙ h_{t−1} + B̄_t x_t,   h_{−1} = 0
///     y_t = Re(C h_t) + D x_t
///
/// Ā_t and B̄_t x_t are computed inside the parallel chunks of a fused complex-diagonal scan
/// (``FusedDiagonalScan``); layouts as ``LRU`` (states `[T][2][batch][n]`).
///
/// **Backward** (μ_t = ∂L/∂Re h_t + i ∂L/∂Im h_t, complex gradients grad_z = ∂L/∂Re z + i ∂L/∂Im z,
/// v_t = B x_t, E_t = (Ā_t − 1)/Λ): reverse scan μ_t = conj(C)ᵀ g_t + conj(Ā_{t+1}) ⊙ μ_{t+1};
/// grad_Ā_t = μ_t conj(h_{t−1}) + conj(v_t/Λ) μ_t; grad_Λ = Σ_t [Δ_t conj(Ā_t) grad_Ā_t −
/// conj(E_t v_t/Λ) μ_t]; ∂L/∂Δ_t = Σ_j Re(conj(grad_Ā_tj) Λ_j Ā_tj); grad_B = Σ_t conj(E_t) μ_t x_tᵀ;
/// ∂L/∂ν = −e^ν Re grad_Λ, ∂L/∂ω = Im grad_Λ.
public struct S5<S: ScanScalar>: Sendable {
    public let inputSize: Int, stateSize: Int, outputSize: Int
    /// `[n]`: Re Λ = −exp(ν).
    public var nu: [S]
    /// `[n]`: Im Λ = ω.
    public var omega: [S]
    public var bRe: [S], bIm: [S], cRe: [S], cIm: [S], d: [S]

    public init(
        inputSize m: Int, stateSize n: Int, outputSize p: Int, nu: [S], omega: [S],
        bRe: [S], bIm: [S], cRe: [S], cIm: [S], d: [S]? = nil
    ) throws(LinearRNNError) {
        let d = try checkDiagonalLayer(
            inputSize: m, stateSize: n, outputSize: p, perState: [("nu", nu), ("omega", omega)],
            b: [("bRe", bRe), ("bIm", bIm)], c: [("cRe", cRe), ("cIm", cIm)], d: d)
        (inputSize, stateSize, outputSize, self.nu, self.omega, self.bRe, self.bIm) = (m, n, p, nu, omega, bRe, bIm)
        (self.cRe, self.cIm, self.d) = (cRe, cIm, d)
    }

    /// Gradients of L = Σ_t ⟨G_t, y_t⟩.
    public struct Gradients: Sendable {
        /// ∂L/∂x `[T][batch][m]` and ∂L/∂Δ `[T][batch]`.
        public var input: [S], dt: [S]
        /// ∂L/∂ν, ∂L/∂ω `[n]`, then B, C, D parts as stored.
        public var nu: [S], omega: [S], bRe: [S], bIm: [S], cRe: [S], cIm: [S], d: [S]
    }

    /// Λ and 1/Λ per state channel, in Double.
    func spectrum() -> [(lr: Double, li: Double, ir: Double, ii: Double)] {
        (0..<stateSize).map { j in
            let lr = -Foundation.exp(Double(nu[j]))
            let li = Double(omega[j])
            let q = lr * lr + li * li
            return (lr, li, lr / q, -li / q)
        }
    }

    /// Ā = exp(ΛΔ) and Ā − 1 (accurate for small ΛΔ), in Double.
    @inline(__always)
    static func discretise(_ lr: Double, _ li: Double, _ dt: Double)
        -> (ar: Double, ai: Double, er: Double, ei: Double)
    {
        let zr = lr * dt
        let zi = li * dt
        let mag = Foundation.exp(zr)
        let c = Foundation.cos(zi)
        let s = Foundation.sin(zi)
        let half = Foundation.sin(0.5 * zi)
        return (mag * c, mag * s, Foundation.expm1(zr) * c - 2 * half * half, mag * s)
    }

    /// Runs the layer. `x` is `[T][batch][m]`, `dt` is `[T][batch]` (every Δ_t > 0). With
    /// `boundaries`, T holds several sequences end to end (episodes) and the state restarts
    /// from 0 at each (Ā = 0 at a reset); the trace carries them to the backward pass.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func forward(
        _ x: [S], dt: [S], steps: Int, batch: Int, boundaries: SequenceBoundaries? = nil, keepStates: Bool = true,
        pool: WorkerPool = .shared
    ) throws(LinearRNNError) -> LinearRNNTrace<S> {
        try checkInput(x, perStep: [("dt", dt)], steps: steps, batch: batch)
        try checkBoundaries(boundaries, steps: steps)
        let m = inputSize
        let n = stateSize
        let p = outputSize
        if let bad = dt.first(where: { !($0 > 0) || !$0.isFinite }) {
            throw .invalidValue("every step size Δ_t must be positive and finite, got \(bad)")
        }
        let spec = spectrum()
        let maps = makeMaps()
        defer { maps.free() }
        let lanes = batch * n
        return tracedForward(
            steps: steps, batch: batch, outputs: p, stateRow: 2 * lanes, keepStates: keepStates, boundaries: boundaries
        ) {
            y, record in
            x.withUnsafeBufferPointer { xb in
                dt.withUnsafeBufferPointer { db in
                    let x = xb.baseAddress!
                    let dt = db.baseAddress!
                    var scan = FusedDiagonalScan<S>(
                        steps: steps, lanes: lanes, complex: true, reverse: false, pool: pool,
                        workPerStep: batch * (2 * n * m + 2 * p * n + p * m + 40 * n))
                    scan.resets = boundaries
                    scan.run(
                        coefficients: { t, at, bt, _ in
                            for s in 0..<batch {
                                let xs = x + (t * batch + s) * m
                                let delta = Double(dt[t * batch + s])
                                for j in 0..<n {
                                    let l = s * n + j
                                    let sp = spec[j]
                                    let z = S5.discretise(sp.lr, sp.li, delta)
                                    at[l] = S(z.ar)
                                    at[lanes + l] = S(z.ai)
                                    let (vr, vi) = maps.projectComplex(j, xs)
                                    // E = (Ā − 1)/Λ, b = E v.
                                    let er = S(z.er * sp.ir - z.ei * sp.ii)
                                    let ei = S(z.er * sp.ii + z.ei * sp.ir)
                                    bt[l] = er * vr - ei * vi
                                    bt[lanes + l] = er * vi + ei * vr
                                }
                            }
                        },
                        emit: { t, h, _ in maps.emit(t, h, batch: batch, x: x, y: y, record: record) })
                }
            }
        }
    }

    /// Gradients of L = Σ_t ⟨G_t, y_t⟩ w.r.t. x, Δ and every parameter.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward(
        _ x: [S], dt: [S], trace: LinearRNNTrace<S>, outputGradient g: [S],
        pool: WorkerPool = .shared
    ) throws(LinearRNNError) -> Gradients {
        let (steps, batch, m, n, p, lanes) = try checkBackward(
            x, perStep: [("dt", dt)], trace: trace, outputGradient: g)
        let row = 2 * lanes
        let spec = spectrum()
        let maps = makeMaps()
        defer { maps.free() }
        let adjoint = dt.withUnsafeBufferPointer { db in
            let dt = db.baseAddress!
            return maps.adjointStates(
                g, steps: steps, batch: batch, pool: pool, workPerStep: batch * (2 * p * n + 40 * n),
                resets: trace.boundaries
            ) {
                t, at in
                for s in 0..<batch {
                    for j in 0..<n {
                        let l = s * n + j
                        if t + 1 < steps {
                            let sp = spec[j]
                            let z = S5.discretise(sp.lr, sp.li, Double(dt[(t + 1) * batch + s]))
                            at[l] = S(z.ar)
                            at[lanes + l] = S(-z.ai)
                        } else {
                            at[l] = 0
                            at[lanes + l] = 0
                        }
                    }
                }
            }
        }
        defer { adjoint.free() }
        // Accumulators: gΛ (re, im) [n][2], then B, C, D (maps.gradients; sums in S precision).
        let chunks = chunkCount(
            steps: steps, workPerStep: batch * (2 * n + maps.gradientSize + 40 * n),
            bytesPerStep: batch * (2 * m + p + 6 * n + 2) * MemoryLayout<S>.stride, pool: pool)
        var gradDt = [S](repeating: 0, count: steps * batch)
        let (input, sum) = gradDt.withUnsafeMutableBufferPointer { gdb in
            dt.withUnsafeBufferPointer { db in
                let gdt = UnsafeMutableSendable(gdb.baseAddress!)
                let dt = db.baseAddress!
                return maps.accumulateGradients(
                    x: x, g: g, states: trace.states, steps: steps, batch: batch, ownSize: 2 * n, chunks: chunks,
                    pool: pool, resets: trace.boundaries
                ) { st in
                    let gLr = st.own
                    let gLi = gLr + n
                    let gBr = st.grad.b
                    let gBi = st.grad.bIm!
                    let Br = maps.b
                    let Bi = maps.bIm!
                    let xs = st.x
                    let dxs = st.dx
                    let t = st.t
                    let h = st.states
                    let mu = adjoint.p + t * row
                    let r = t * batch + st.s
                    let delta = Double(dt[r])
                    var gDelta = 0.0
                    for j in 0..<n {
                        let l = st.s * n + j
                        let sp = spec[j]
                        let mr = Double(mu[l])
                        let mi = Double(mu[lanes + l])
                        let z = S5.discretise(sp.lr, sp.li, delta)
                        let er = z.er * sp.ir - z.ei * sp.ii
                        let ei = z.er * sp.ii + z.ei * sp.ir
                        var vr = 0.0
                        var vi = 0.0
                        for k in 0..<m {
                            vr += Double(Br[j * m + k] * xs[k])
                            vi += Double(Bi[j * m + k] * xs[k])
                        }
                        // grad_Ā = μ conj(h_{t−1}) + conj(v/Λ) μ.
                        var gar = 0.0
                        var gai = 0.0
                        if !st.restarts {
                            let hp = h + (t - 1) * row
                            let pr = Double(hp[l])
                            let pi = Double(hp[lanes + l])
                            gar += mr * pr + mi * pi
                            gai += mi * pr - mr * pi
                        }
                        let wr = vr * sp.ir - vi * sp.ii  // v/Λ
                        let wi = vr * sp.ii + vi * sp.ir
                        gar += wr * mr + wi * mi
                        gai += wr * mi - wi * mr
                        // grad_Λ += Δ conj(Ā) grad_Ā − conj(E v/Λ) μ.
                        var lr = delta * (z.ar * gar + z.ai * gai)
                        var li = delta * (z.ar * gai - z.ai * gar)
                        let evr = er * wr - ei * wi
                        let evi = er * wi + ei * wr
                        lr -= evr * mr + evi * mi
                        li -= evr * mi - evi * mr
                        gLr[j] += S(lr)
                        gLi[j] += S(li)
                        // ∂L/∂Δ += Re(conj(grad_Ā) Λ Ā).
                        let la_r = sp.lr * z.ar - sp.li * z.ai
                        let la_i = sp.lr * z.ai + sp.li * z.ar
                        gDelta += gar * la_r + gai * la_i
                        // grad_v = conj(E) μ.
                        let gvr = er * mr + ei * mi
                        let gvi = er * mi - ei * mr
                        for k in 0..<m {
                            let xk = Double(xs[k])
                            gBr[j * m + k] += S(gvr * xk)
                            gBi[j * m + k] += S(gvi * xk)
                            dxs[k] += S(Double(Br[j * m + k]) * gvr + Double(Bi[j * m + k]) * gvi)
                        }
                    }
                    gdt.base[r] = S(gDelta)
                }
            }
        }
        let gNu = (0..<n).map { j in S(spec[j].lr) * sum[j] }
        let gOmega = Array(sum[n..<(2 * n)])
        let parts = sum.slices(from: 2 * n, sizes: maps.gradientSizes)
        return Gradients(
            input: input, dt: gradDt, nu: gNu, omega: gOmega, bRe: parts[0], bIm: parts[1], cRe: parts[2],
            cIm: parts[3], d: parts[4])
    }
}

extension S5: ComplexDiagonalLayer {}
