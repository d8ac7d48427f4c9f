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
        let d = try checkDiagonalLayer(
            inputSize: m, stateSize: n, outputSize: p, perState: [("nu", nu), ("theta", theta)],
            b: [("bRe", bRe), ("bIm", bIm)], c: [("cRe", cRe), ("cIm", cIm)], d: d)
        (inputSize, stateSize, outputSize, self.nu, self.theta, self.bRe, self.bIm) = (m, n, p, nu, theta, bRe, bIm)
        (self.cRe, self.cIm, self.d) = (cRe, cIm, d)
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
        try checkDiagonalSizes(inputSize: m, stateSize: n, outputSize: p)
        var rng = SplitMix64(seed: seed)
        var nu = [S]()
        var theta = [S]()
        for _ in 0..<n {
            let u1 = rng.openUniform()
            let u2 = rng.openUniform()
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
        var re = [S]()
        var im = [S]()
        var gamma = [S]()
        for j in 0..<stateSize {
            let e = Foundation.exp(Double(nu[j]))
            let r = Foundation.exp(-e)
            let th = Double(theta[j])
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

    /// λ (real and imaginary parts), γ and the maps B, C, D as raw pointers for one pass
    /// (release with ``freeKernelCoefficients(_:_:_:_:)``).
    func kernelCoefficients() -> (Copied<S>, Copied<S>, Copied<S>, DiagonalMaps<S>) {
        let (lre, lim, gam) = eigenvalues()
        return (Copied(lre), Copied(lim), Copied(gam), makeMaps())
    }

    /// Releases what ``kernelCoefficients()`` allocated.
    func freeKernelCoefficients(_ lr: Copied<S>, _ li: Copied<S>, _ gamma: Copied<S>, _ maps: DiagonalMaps<S>) {
        [lr, li, gamma].forEach { $0.free() }
        maps.free()
    }

    /// Runs the layer (equations in the type's documentation). With `boundaries`, T holds
    /// several sequences end to end and the state restarts from 0 at each (λ = 0 at a reset);
    /// the trace carries them to ``backward(_:trace:outputGradient:pool:)``.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func forward(
        _ x: [S], steps: Int, batch: Int, boundaries: SequenceBoundaries? = nil, keepStates: Bool = true,
        pool: WorkerPool = .shared
    ) throws(LinearRNNError) -> LinearRNNTrace<S> {
        try checkInput(x, steps: steps, batch: batch)
        try checkBoundaries(boundaries, steps: steps)
        let m = inputSize
        let n = stateSize
        let p = outputSize
        let (Lr, Li, G, maps) = kernelCoefficients()
        defer { freeKernelCoefficients(Lr, Li, G, maps) }
        let lanes = batch * n
        return tracedForward(
            steps: steps, batch: batch, outputs: p, stateRow: 2 * lanes, keepStates: keepStates, boundaries: boundaries
        ) {
            y, record in
            x.withUnsafeBufferPointer { xb in
                let x = xb.baseAddress!
                var scan = FusedDiagonalScan<S>(
                    steps: steps, lanes: lanes, complex: true, reverse: false, pool: pool,
                    workPerStep: batch * (2 * n * m + 2 * p * n + p * m))
                scan.resets = boundaries
                scan.run(
                    coefficients: { t, at, bt, _ in
                        for s in 0..<batch {
                            let xs = x + (t * batch + s) * m
                            for j in 0..<n {
                                let l = s * n + j
                                at[l] = Lr.p[j]
                                at[lanes + l] = Li.p[j]
                                let v = maps.projectComplex(j, xs)
                                bt[l] = G.p[j] * v.re
                                bt[lanes + l] = G.p[j] * v.im
                            }
                        }
                    },
                    emit: { t, h, _ in maps.emit(t, h, batch: batch, x: x, y: y, record: record) })
            }
        }
    }

    /// Gradients of L = Σ_t ⟨G_t, y_t⟩ (equations in the type's documentation).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward(
        _ x: [S], trace: LinearRNNTrace<S>, outputGradient g: [S], pool: WorkerPool = .shared
    ) throws(LinearRNNError) -> Gradients {
        let (steps, batch, m, n, p, lanes) = try checkBackward(x, trace: trace, outputGradient: g)
        let row = 2 * lanes
        let (Lr, Li, G, maps) = kernelCoefficients()
        defer { freeKernelCoefficients(Lr, Li, G, maps) }
        let adjoint = maps.adjointStates(
            g, steps: steps, batch: batch, pool: pool, workPerStep: batch * 2 * p * n, resets: trace.boundaries
        ) {
            _, at in
            for s in 0..<batch {
                (at + s * n).update(from: Lr.p, count: n)
                for j in 0..<n { at[lanes + s * n + j] = -Li.p[j] }
            }
        }
        defer { adjoint.free() }
        // Accumulator layout: gλ (re, im), gγ, then B, C, D (maps.gradients).
        let chunks = chunkCount(
            steps: steps, workPerStep: batch * (3 * n + maps.gradientSize),
            bytesPerStep: batch * (2 * m + p + 6 * n) * MemoryLayout<S>.stride, pool: pool)
        let (input, sum) = maps.accumulateGradients(
            x: x, g: g, states: trace.states, steps: steps, batch: batch, ownSize: 3 * n, chunks: chunks, pool: pool,
            resets: trace.boundaries
        ) { st in
            let gLr = st.own
            let gLi = gLr + n
            let gG = gLi + n
            let mu = adjoint.p + st.t * row
            let hp = st.restarts ? nil : st.states + (st.t - 1) * row
            let bImag = maps.bIm!
            let gBr = st.grad.b
            let gBi = st.grad.bIm!
            let xs = st.x
            let dxs = st.dx
            for j in 0..<n {
                let l = st.s * n + j
                let mr = mu[l]
                let mi = mu[lanes + l]
                if let hp {
                    let pr = hp[l]
                    let pi = hp[lanes + l]
                    gLr[j] += mr * pr + mi * pi
                    gLi[j] += mi * pr - mr * pi
                }
                var vr: S = 0
                var vi: S = 0
                let gj = G.p[j]
                for k in 0..<m {
                    let br = maps.b[j * m + k]
                    let bi = bImag[j * m + k]
                    vr += br * xs[k]
                    vi += bi * xs[k]
                    gBr[j * m + k] += gj * mr * xs[k]
                    gBi[j * m + k] += gj * mi * xs[k]
                    dxs[k] += gj * (br * mr + bi * mi)
                }
                gG[j] += mr * vr + mi * vi
            }
        }
        var gNu = [S]()
        var gTheta = [S]()
        for j in 0..<n {
            let e = S(Foundation.exp(Double(nu[j])))
            let lr = Lr.p[j]
            let li = Li.p[j]
            let gr = sum[j]
            let gi = sum[n + j]
            let modulus2 = lr * lr + li * li
            // ∂L/∂ν = Re(conj(gλ)·(−e^ν λ)) + gγ · e^ν |λ|²/γ;  ∂L/∂θ = Re(conj(gλ)·iλ).
            gNu.append(-e * (gr * lr + gi * li) + sum[2 * n + j] * e * modulus2 / G.p[j])
            gTheta.append(-gr * li + gi * lr)
        }
        let parts = sum.slices(from: 3 * n, sizes: maps.gradientSizes)
        return Gradients(
            input: input, nu: gNu, theta: gTheta, bRe: parts[0], bIm: parts[1], cRe: parts[2], cIm: parts[3],
            d: parts[4])
    }
}

extension LRU: ComplexDiagonalLayer {}
