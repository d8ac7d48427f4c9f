import Foundation
import ParallelScan

/// The Linear Recurrent Unit (Orvieto et al. 2023): a complex-diagonal linear RNN with
/// exponential parametrisation and input normalisation.
///
/// With ν, θ ∈ ℝⁿ, complex B = B_re + i B_im ∈ ℂⁿˣᵐ, C = C_re + i C_im ∈ ℂᵖˣⁿ, real D ∈ ℝᵖˣᵐ:
///
///     λ_j = exp(−exp(ν_j) + i θ_j)            (|λ_j| = exp(−exp ν_j) < 1 for every ν)
///     γ_j = sqrt(1 − |λ_j|²)                  (derived from ν, not a free parameter)
///     h_t = λ ⊙ h_{t−1} + γ ⊙ (B x_t),   h_{−1} = 0,   h_t ∈ ℂⁿ
///     y_t = Re(C h_t) + D x_t = C_re Re h_t − C_im Im h_t + D x_t
///
/// **Complex scan.** The complex state runs on this module's own fused complex-diagonal chunked
/// scan (``FusedDiagonalScan`` with `complex: true`, built on ParallelScan's `ChunkPlan` and
/// `WorkerPool`), i.e. complex multiplication per lane — equivalent to the 2×2 rotation-scaling
/// blocks [[Re λ, −Im λ], [Im λ, Re λ]] of `AffineScan.blockDiagonal` with k = 2, but without
/// materialising the `[T][2][2][n]` coefficient array for a λ that is constant in time.
///
/// Layouts: `x` `[T][batch][m]`, output `[T][batch][p]`, states `[T][2][batch][n]` (per step a
/// real plane then an imaginary plane).
///
/// **Backward.** With μ_t = ∂L/∂Re h_t + i ∂L/∂Im h_t, the adjoint is the reverse complex scan
/// μ_t = conj(C)ᵀ g_t + conj(λ) ⊙ μ_{t+1}; then ∂L/∂λ = Σ_t μ_t conj(h_{t−1}),
/// ∂L/∂γ_j = Σ_t Re(conj(μ_tj) (B x_t)_j), ∂L/∂B = γ ⊙ Σ_t μ_t x_tᵀ, and via
/// ∂λ/∂ν = −e^ν λ, ∂λ/∂θ = iλ, ∂γ/∂ν = e^ν |λ|²/γ the real parameter gradients.
public struct LRU<S: ScanScalar>: Sendable {
    public let inputSize: Int, stateSize: Int, outputSize: Int
    /// `[n]` log of the negative log-modulus: |λ| = exp(−exp ν).
    public var nu: [S]
    /// `[n]` phases θ.
    public var theta: [S]
    /// `[n][m]` real and imaginary parts of B.
    public var bRe: [S], bIm: [S]
    /// `[p][n]` real and imaginary parts of C.
    public var cRe: [S], cIm: [S]
    /// `[p][m]` real feed-through.
    public var d: [S]

    /// Creates the layer from explicit parameters.
    public init(
        inputSize m: Int, stateSize n: Int, outputSize p: Int, nu: [S], theta: [S],
        bRe: [S], bIm: [S], cRe: [S], cIm: [S], d: [S]? = nil
    ) throws(LinearRNNError) {
        try checkPositive("inputSize", m)
        try checkPositive("stateSize", n)
        try checkPositive("outputSize", p)
        try check("nu", nu.count, n)
        try check("theta", theta.count, n)
        try check("bRe", bRe.count, n * m)
        try check("bIm", bIm.count, n * m)
        try check("cRe", cRe.count, p * n)
        try check("cIm", cIm.count, p * n)
        let d = d ?? [S](repeating: 0, count: p * m)
        try check("d", d.count, p * m)
        inputSize = m
        stateSize = n
        outputSize = p
        self.nu = nu
        self.theta = theta
        self.bRe = bRe
        self.bIm = bIm
        self.cRe = cRe
        self.cIm = cIm
        self.d = d
    }

    /// The stable ring initialisation: |λ| uniform-in-area on the ring r_min ≤ |λ| ≤ r_max,
    /// θ uniform in [0, maxPhase]:
    ///
    ///     u₁, u₂ ~ U(0, 1),  ν = log(−½ log(u₁ (r_max² − r_min²) + r_min²)),  θ = maxPhase · u₂,
    ///
    /// B entries ~ N(0, 1/(2m)) (real and imaginary), C entries ~ N(0, 1/(2n)), D ~ N(0, 1/m).
    /// Deterministic for a given `seed`.
    /// - Throws: ``LinearRNNError/invalidValue(_:)`` unless 0 ≤ r_min < r_max < 1.
    public static func ringInit(
        inputSize m: Int, stateSize n: Int, outputSize p: Int, rMin: Double = 0.9,
        rMax: Double = 0.999, maxPhase: Double = 2 * Double.pi, seed: UInt64 = 1
    ) throws(LinearRNNError) -> LRU {
        if !(rMin >= 0 && rMin < rMax && rMax < 1) {
            throw .invalidValue("ring radii need 0 ≤ rMin < rMax < 1, got rMin \(rMin), rMax \(rMax)")
        }
        try checkPositive("inputSize", m)
        try checkPositive("stateSize", n)
        try checkPositive("outputSize", p)
        var rng = SplitMix64(seed: seed)
        var nu = [S](), theta = [S]()
        for _ in 0..<n {
            let u1 = rng.openUniform(), u2 = rng.openUniform()
            nu.append(S(Foundation.log(-0.5 * Foundation.log(u1 * (rMax * rMax - rMin * rMin) + rMin * rMin))))
            theta.append(S(maxPhase * u2))
        }
        func normals(_ count: Int, _ sd: Double) -> [S] { (0..<count).map { _ in S(rng.normal() * sd) } }
        let bRe = normals(n * m, (1 / (2 * Double(m))).squareRoot())
        let bIm = normals(n * m, (1 / (2 * Double(m))).squareRoot())
        let cRe = normals(p * n, (1 / (2 * Double(n))).squareRoot())
        let cIm = normals(p * n, (1 / (2 * Double(n))).squareRoot())
        let d = normals(p * m, (1 / Double(m)).squareRoot())
        return try LRU(
            inputSize: m, stateSize: n, outputSize: p, nu: nu, theta: theta, bRe: bRe, bIm: bIm,
            cRe: cRe, cIm: cIm, d: d)
    }

    /// λ (real, imaginary parts) and γ, computed in Double: γ = sqrt(−expm1(−2 e^ν)).
    public func eigenvalues() -> (re: [S], im: [S], gamma: [S]) {
        var re = [S](), im = [S](), gamma = [S]()
        for j in 0..<stateSize {
            let e = Foundation.exp(Double(nu[j])), r = Foundation.exp(-e), th = Double(theta[j])
            re.append(S(r * Foundation.cos(th)))
            im.append(S(r * Foundation.sin(th)))
            gamma.append(S((-Foundation.expm1(-2 * e)).squareRoot()))
        }
        return (re, im, gamma)
    }

    /// Gradients of L = Σ_t ⟨G_t, y_t⟩.
    public struct Gradients: Sendable {
        /// ∂L/∂x, `[T][batch][m]`.
        public var input: [S]
        /// ∂L/∂ν, ∂L/∂θ `[n]` (ν's includes the path through γ), then B, C, D parts as stored.
        public var nu: [S], theta: [S], bRe: [S], bIm: [S], cRe: [S], cIm: [S], d: [S]
    }

    /// Runs the layer (equations in the type's documentation).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func forward(
        _ x: [S], steps: Int, batch: Int, keepStates: Bool = true, pool: WorkerPool = .shared
    ) throws(LinearRNNError) -> LinearRNNTrace<S> {
        try checkSequence(steps: steps, batch: batch)
        let m = inputSize, n = stateSize, p = outputSize
        try check("x", x.count, steps * batch * m)
        let (lre, lim, gam) = eigenvalues()
        let Lr = Copied(lre), Li = Copied(lim), G = Copied(gam)
        let Br = Copied(bRe), Bi = Copied(bIm), Cr = Copied(cRe), Ci = Copied(cIm), D = Copied(d)
        defer { [Lr, Li, G, Br, Bi, Cr, Ci, D].forEach { $0.free() } }
        let lanes = batch * n, row = 2 * lanes
        var states: [S] = []
        let output: [S] = makeArray(steps * batch * p) { yp in
            let y = Shared(yp)
            let statesPtr = keepStates ? UnsafeMutablePointer<S>.allocate(capacity: steps * row) : nil
            x.withUnsafeBufferPointer { xb in
                let x = xb.baseAddress!
                FusedDiagonalScan<S>(
                    steps: steps, lanes: lanes, complex: true, reverse: false, pool: pool,
                    workPerStep: batch * (2 * n * m + 2 * p * n + p * m)
                ).run(
                    coefficients: { t, at, bt, _ in
                        for s in 0..<batch {
                            let xs = x + (t * batch + s) * m
                            for j in 0..<n {
                                let l = s * n + j
                                at[l] = Lr.p[j]
                                at[lanes + l] = Li.p[j]
                                var vr: S = 0, vi: S = 0
                                for k in 0..<m {
                                    vr += Br.p[j * m + k] * xs[k]
                                    vi += Bi.p[j * m + k] * xs[k]
                                }
                                bt[l] = G.p[j] * vr
                                bt[lanes + l] = G.p[j] * vi
                            }
                        }
                    },
                    emit: { t, h, _ in
                        if let statesPtr { (statesPtr + t * row).initialize(from: h, count: row) }
                        for s in 0..<batch {
                            let xs = x + (t * batch + s) * m
                            let hr = h + s * n, hi = h + lanes + s * n
                            let ys = y.p + (t * batch + s) * p
                            for i in 0..<p {
                                var acc: S = 0
                                for j in 0..<n { acc += Cr.p[i * n + j] * hr[j] - Ci.p[i * n + j] * hi[j] }
                                for k in 0..<m { acc += D.p[i * m + k] * xs[k] }
                                ys[i] = acc
                            }
                        }
                    })
            }
            if let statesPtr {
                states = Array(UnsafeBufferPointer(start: statesPtr, count: steps * row))
                statesPtr.deinitialize(count: steps * row)
                statesPtr.deallocate()
            }
        }
        return LinearRNNTrace(steps: steps, batch: batch, output: output, states: states)
    }

    /// Gradients of L = Σ_t ⟨G_t, y_t⟩ (equations in the type's documentation).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward(
        _ x: [S], trace: LinearRNNTrace<S>, outputGradient g: [S], pool: WorkerPool = .shared
    ) throws(LinearRNNError) -> Gradients {
        let steps = trace.steps, batch = trace.batch
        try checkSequence(steps: steps, batch: batch)
        let m = inputSize, n = stateSize, p = outputSize, lanes = batch * n, row = 2 * lanes
        try check("x", x.count, steps * batch * m)
        try check("outputGradient", g.count, steps * batch * p)
        try check("trace.states", trace.states.count, steps * row)
        let (lre, lim, gam) = eigenvalues()
        let Lr = Copied(lre), Li = Copied(lim), G = Copied(gam)
        let Br = Copied(bRe), Bi = Copied(bIm), Cr = Copied(cRe), Ci = Copied(cIm), D = Copied(d)
        defer { [Lr, Li, G, Br, Bi, Cr, Ci, D].forEach { $0.free() } }
        let adjoint = Copied<S>(zeros: steps * row)
        defer { adjoint.free() }
        g.withUnsafeBufferPointer { gb in
            let g = gb.baseAddress!
            FusedDiagonalScan<S>(
                steps: steps, lanes: lanes, complex: true, reverse: true, pool: pool,
                workPerStep: batch * 2 * p * n
            ).run(
                coefficients: { t, at, bt, _ in
                    for s in 0..<batch {
                        let gs = g + (t * batch + s) * p
                        for j in 0..<n {
                            let l = s * n + j
                            at[l] = Lr.p[j]
                            at[lanes + l] = -Li.p[j]
                            var ur: S = 0, ui: S = 0
                            for i in 0..<p {
                                ur += Cr.p[i * n + j] * gs[i]
                                ui -= Ci.p[i * n + j] * gs[i]
                            }
                            bt[l] = ur
                            bt[lanes + l] = ui
                        }
                    }
                },
                emit: { t, h, _ in (adjoint.p + t * row).update(from: h, count: row) })
        }
        // Accumulator layout: gλ (re, im), gγ, bRe, bIm, cRe, cIm, d.
        let total = 3 * n + 2 * n * m + 2 * p * n + p * m
        let chunks = chunkCount(
            steps: steps, workPerStep: batch * total,
            bytesPerStep: batch * (2 * m + p + 6 * n) * MemoryLayout<S>.stride, pool: pool)
        let acc = Accumulators<S>(chunks: chunks, size: total)
        defer { acc.free() }
        let input: [S] = makeArray(steps * batch * m) { dxp in
            let dx = Shared(dxp)
            x.withUnsafeBufferPointer { xb in
                g.withUnsafeBufferPointer { gb in
                    trace.states.withUnsafeBufferPointer { hb in
                        let x = xb.baseAddress!, g = gb.baseAddress!, h = hb.baseAddress!
                        forEachTimeChunk(steps: steps, chunks: chunks, pool: pool) { chunk, range in
                            let gLr = acc.chunk(chunk), gLi = gLr + n, gG = gLi + n
                            let gBr = gG + n, gBi = gBr + n * m, gCr = gBi + n * m
                            let gCi = gCr + p * n, gD = gCi + p * n
                            for t in range {
                                let mu = adjoint.p + t * row, ht = h + t * row
                                for s in 0..<batch {
                                    let r = t * batch + s
                                    let xs = x + r * m, gs = g + r * p, dxs = dx.p + r * m
                                    for j in 0..<n {
                                        let l = s * n + j
                                        let mr = mu[l], mi = mu[lanes + l]
                                        if t > 0 {
                                            let hp = h + (t - 1) * row
                                            let pr = hp[l], pi = hp[lanes + l]
                                            gLr[j] += mr * pr + mi * pi
                                            gLi[j] += mi * pr - mr * pi
                                        }
                                        var vr: S = 0, vi: S = 0
                                        let gj = G.p[j]
                                        for k in 0..<m {
                                            let br = Br.p[j * m + k], bi = Bi.p[j * m + k]
                                            vr += br * xs[k]
                                            vi += bi * xs[k]
                                            gBr[j * m + k] += gj * mr * xs[k]
                                            gBi[j * m + k] += gj * mi * xs[k]
                                            dxs[k] += gj * (br * mr + bi * mi)
                                        }
                                        gG[j] += mr * vr + mi * vi
                                    }
                                    for i in 0..<p {
                                        let gi = gs[i]
                                        for j in 0..<n {
                                            gCr[i * n + j] += gi * ht[s * n + j]
                                            gCi[i * n + j] -= gi * ht[lanes + s * n + j]
                                        }
                                        for k in 0..<m {
                                            gD[i * m + k] += gi * xs[k]
                                            dxs[k] += D.p[i * m + k] * gi
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let sum = acc.total()
        var gNu = [S](), gTheta = [S]()
        for j in 0..<n {
            let e = S(Foundation.exp(Double(nu[j])))
            let lr = lre[j], li = lim[j], gr = sum[j], gi = sum[n + j]
            let modulus2 = lr * lr + li * li
            // ∂L/∂ν = Re(conj(gλ)·(−e^ν λ)) + gγ · e^ν |λ|²/γ;  ∂L/∂θ = Re(conj(gλ)·iλ).
            gNu.append(-e * (gr * lr + gi * li) + sum[2 * n + j] * e * modulus2 / gam[j])
            gTheta.append(-gr * li + gi * lr)
        }
        var offset = 3 * n
        func take(_ count: Int) -> [S] {
            defer { offset += count }
            return Array(sum[offset..<(offset + count)])
        }
        return Gradients(
            input: input, nu: gNu, theta: gTheta, bRe: take(n * m), bIm: take(n * m),
            cRe: take(p * n), cIm: take(p * n), d: take(p * m))
    }
}

