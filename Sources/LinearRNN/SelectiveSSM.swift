import ParallelScan

/// The output gate of ``SelectiveSSM``.
public enum SelectiveGate: Sendable, Equatable {
    /// out = y ⊙ silu(z), silu(z) = z σ(z) (Mamba).
    case silu
    /// out = y ⊙ σ(z).
    case sigmoid
    /// out = y (no gate input).
    case none

    @inline(__always)
    func value<S: ScanScalar>(_ z: S) -> (f: S, df: S) {
        switch self {
        case .silu:
            let s = Fn.sigmoid(z)
            return (z * s, s * (1 + z * (1 - s)))
        case .sigmoid:
            let s = Fn.sigmoid(z)
            return (s, s * (1 - s))
        case .none:
            return (1, 0)
        }
    }
}

/// A selective (Mamba-style) state-space layer: input-dependent step sizes, input and output
/// projections, diagonal decays, gated output.
///
/// For each sequence, channel c ∈ 0..<d and state s ∈ 0..<N, with input x_t ∈ ℝᵈ and gate input
/// z_t ∈ ℝᵈ:
///
///     δ_t   = W_Δ x_t + b_Δ                    ∈ ℝᵈ   (W_Δ ∈ ℝᵈˣᵈ)
///     Δ_t   = softplus(δ_t)                     (elementwise, > 0)
///     B_t   = W_B x_t,  C_t = W_C x_t           ∈ ℝᴺ   (W_B, W_C ∈ ℝᴺˣᵈ)
///     A     = exp(A_log)                        ∈ ℝᵈˣᴺ (> 0)
///     a_t[c,s] = exp(−Δ_t[c] · A[c,s])          ∈ (0, 1)
///     h_t[c,s] = a_t[c,s] h_{t−1}[c,s] + Δ_t[c] B_t[s] x_t[c],   h_{−1} = 0
///     y_t[c]   = Σ_s C_t[s] h_t[c,s] + D[c] x_t[c]
///     out_t[c] = y_t[c] · gate(z_t[c])          (gate: silu, σ, or 1)
///
/// (B̄ = Δ B is the Euler/"simplified ZOH" input discretisation used by Mamba.) All of δ, Δ,
/// B_t, a_t and b_t are computed inside the parallel chunks of a fused scan
/// (``FusedDiagonalScan``), and y_t, out_t as soon as h_t is known — the expensive per-element
/// exp/softplus work is what the parallel chunks share.
///
/// Layouts: `x`, `z`, output `[T][batch][d]`; states `[T][batch][d][N]`.
///
/// **Backward.** With gy_t = G_t ⊙ gate(z_t), the adjoint is the reverse scan
/// μ_t[c,s] = gy_t[c] C_t[s] + a_{t+1}[c,s] μ_{t+1}[c,s]; then per step
/// ∂a = μ_t h_{t−1}, ∂Δ[c] = Σ_s (−A[c,s] a ∂a + μ B_t[s] x[c]), ∂A_log = −Δ A a ∂a,
/// ∂B_t[s] = Σ_c μ Δ[c] x[c], ∂C_t[s] = Σ_c gy[c] h[c,s], ∂δ = ∂Δ σ(δ), and the projections
/// pass these to W_Δ, b_Δ, W_B, W_C and x; ∂z = G y gate′(z).
public struct SelectiveSSM<S: ScanScalar>: Sendable {
    /// d (channels) and N (state per channel).
    public let channels: Int, stateSize: Int
    public var gate: SelectiveGate
    /// `[d][N]`, A = exp(aLog).
    public var aLog: [S]
    /// `[d][d]` and `[d]`.
    public var wDelta: [S], bDelta: [S]
    /// `[N][d]`.
    public var wB: [S], wC: [S]
    /// `[d]` skip connection.
    public var d: [S]

    public init(
        channels: Int, stateSize: Int, aLog: [S], wDelta: [S], bDelta: [S], wB: [S], wC: [S],
        d: [S]? = nil, gate: SelectiveGate = .silu
    ) throws(LinearRNNError) {
        try checkPositive("channels", channels)
        try checkPositive("stateSize", stateSize)
        try check("aLog", aLog.count, channels * stateSize)
        try check("wDelta", wDelta.count, channels * channels)
        try check("bDelta", bDelta.count, channels)
        try check("wB", wB.count, stateSize * channels)
        try check("wC", wC.count, stateSize * channels)
        let d = d ?? [S](repeating: 0, count: channels)
        try check("d", d.count, channels)
        (self.channels, self.stateSize, self.aLog, self.wDelta) = (channels, stateSize, aLog, wDelta)
        (self.bDelta, self.wB, self.wC, self.d, self.gate) = (bDelta, wB, wC, d, gate)
    }

    /// Gradients of L = Σ_t ⟨G_t, out_t⟩.
    public struct Gradients: Sendable {
        /// ∂L/∂x and ∂L/∂z, `[T][batch][d]` each (`gate` is empty for ``SelectiveGate/none``).
        public var input: [S], gate: [S]
        /// Parameter gradients in the parameters' shapes.
        public var aLog: [S], wDelta: [S], bDelta: [S], wB: [S], wC: [S], d: [S]
    }

    /// Writes Δ_t (`[d]`) for one sequence's x_t; returns nothing. δ goes to `delta` first.
    @inline(__always)
    static func steps(
        x: UnsafePointer<S>, d: Int, wDelta: UnsafePointer<S>, bDelta: UnsafePointer<S>,
        preactivation: UnsafeMutablePointer<S>?, delta: UnsafeMutablePointer<S>
    ) {
        for c in 0..<d {
            var acc = bDelta[c]
            let row = wDelta + c * d
            for k in 0..<d { acc += row[k] * x[k] }
            preactivation?[c] = acc
            delta[c] = Fn.softplus(acc)
        }
    }

    /// Writes W x_t (`[N]`) for one sequence.
    @inline(__always)
    static func project(
        x: UnsafePointer<S>, d: Int, n: Int, w: UnsafePointer<S>, out: UnsafeMutablePointer<S>
    ) {
        for s in 0..<n {
            var acc: S = 0
            let row = w + s * d
            for k in 0..<d { acc += row[k] * x[k] }
            out[s] = acc
        }
    }

    func validate(_ x: [S], _ z: [S]?, steps: Int, batch: Int) throws(LinearRNNError) {
        try checkSequence(steps: steps, batch: batch)
        try check("x", x.count, steps * batch * channels)
        if gate != .none {
            guard let z else { throw .invalidValue("gate \(gate) needs the gate input z") }
            try check("z", z.count, steps * batch * channels)
        }
    }

    /// The fused forward scan: Δ, B and exp(Δ·A) computed in the chunks (≈ 20 operations per
    /// exp), states emitted into y.
    func forwardScan(steps: Int, batch: Int, pool: WorkerPool) -> FusedDiagonalScan<S> {
        let d = channels
        let n = stateSize
        return FusedDiagonalScan<S>(
            steps: steps, lanes: batch * d * n, complex: false, reverse: false, pool: pool,
            workPerStep: batch * (d * d + 3 * n * d + 20 * d * n), scratchSize: d + n,
            reduceCost: 0.85, bytesPerStep: batch * 3 * d * MemoryLayout<S>.stride)
    }

    /// The number of workers ``forward(_:z:steps:batch:boundaries:keepStates:pool:)`` uses on `pool` (1:
    /// the plain loop), as chosen by ParallelScan's `WorkerCount` model.
    public func forwardWorkers(steps: Int, batch: Int, pool: WorkerPool) -> Int {
        forwardScan(steps: steps, batch: batch, pool: pool).workers
    }

    /// A = exp(A_log), W_Δ, b_Δ, W_B, W_C and D as raw pointers for the kernels (release each
    /// with `free()`).
    func copiedParameters() -> (Copied<S>, Copied<S>, Copied<S>, Copied<S>, Copied<S>, Copied<S>) {
        (Copied(aLog.map { Fn.exp($0) }), Copied(wDelta), Copied(bDelta), Copied(wB), Copied(wC), Copied(d))
    }

    /// Runs the layer. `x` and `z` are `[T][batch][d]`; `z` may be nil only for gate `.none`.
    /// With `boundaries`, T holds several sequences end to end and the state restarts from 0 at
    /// each (exp(Δ·A) = 0 at a reset); the trace carries them to the backward pass.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func forward(
        _ x: [S], z: [S]?, steps: Int, batch: Int, boundaries: SequenceBoundaries? = nil, keepStates: Bool = true,
        pool: WorkerPool = .shared
    ) throws(LinearRNNError) -> LinearRNNTrace<S> {
        try validate(x, z, steps: steps, batch: batch)
        try checkBoundaries(boundaries, steps: steps)
        let d = channels
        let n = stateSize
        let lanes = batch * d * n
        let gate = self.gate
        let (A, WD, BD, WB, WC, Dk) = copiedParameters()
        defer { [A, WD, BD, WB, WC, Dk].forEach { $0.free() } }
        let zArray = z ?? [S](repeating: 0, count: 1)
        var scan = forwardScan(steps: steps, batch: batch, pool: pool)
        scan.resets = boundaries
        return tracedForward(
            steps: steps, batch: batch, outputs: d, stateRow: lanes, keepStates: keepStates, boundaries: boundaries
        ) {
            y, record in
            x.withUnsafeBufferPointer { xb in
                zArray.withUnsafeBufferPointer { zb in
                    let (x, z) = (xb.baseAddress!, zb.baseAddress!)
                    scan.run(
                        coefficients: { t, at, bt, scratch in
                            let delta = scratch
                            let bProj = scratch + d
                            for s in 0..<batch {
                                let xs = x + (t * batch + s) * d
                                SelectiveSSM.steps(
                                    x: xs, d: d, wDelta: WD.p, bDelta: BD.p, preactivation: nil,
                                    delta: delta)
                                SelectiveSSM.project(x: xs, d: d, n: n, w: WB.p, out: bProj)
                                for c in 0..<d {
                                    let dc = delta[c]
                                    let u = dc * xs[c]
                                    let base = (s * d + c) * n
                                    let arow = A.p + c * n
                                    for k in 0..<n {
                                        at[base + k] = Fn.exp(-dc * arow[k])
                                        bt[base + k] = u * bProj[k]
                                    }
                                }
                            }
                        },
                        emit: { t, h, scratch in
                            record(t, h)
                            let cProj = scratch + d
                            for s in 0..<batch {
                                let r = t * batch + s
                                let xs = x + r * d
                                SelectiveSSM.project(x: xs, d: d, n: n, w: WC.p, out: cProj)
                                for c in 0..<d {
                                    let hs = h + (s * d + c) * n
                                    var acc = Dk.p[c] * xs[c]
                                    for k in 0..<n { acc += cProj[k] * hs[k] }
                                    y[r * d + c] = gate == .none ? acc : acc * gate.value(z[r * d + c]).f
                                }
                            }
                        })
                }
            }
        }
    }

    /// Gradients of L = Σ_t ⟨G_t, out_t⟩ w.r.t. x, z and every parameter.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward(
        _ x: [S], z: [S]?, trace: LinearRNNTrace<S>, outputGradient g: [S],
        pool: WorkerPool = .shared
    ) throws(LinearRNNError) -> Gradients {
        let steps = trace.steps
        let batch = trace.batch
        try validate(x, z, steps: steps, batch: batch)
        let d = channels
        let n = stateSize
        let lanes = batch * d * n
        let gate = self.gate
        try check("outputGradient", g.count, steps * batch * d)
        try check("trace.states", trace.states.count, steps * lanes)
        let (A, WD, BD, WB, WC, Dk) = copiedParameters()
        defer { [A, WD, BD, WB, WC, Dk].forEach { $0.free() } }
        let zArray = z ?? [S](repeating: 0, count: 1)
        let adjoint = Copied<S>(zeros: steps * lanes)
        defer { adjoint.free() }
        x.withUnsafeBufferPointer { xb in
            zArray.withUnsafeBufferPointer { zb in
                g.withUnsafeBufferPointer { gb in
                    let (x, z, g) = (xb.baseAddress!, zb.baseAddress!, gb.baseAddress!)
                    var scan = FusedDiagonalScan<S>(
                        steps: steps, lanes: lanes, complex: false, reverse: true, pool: pool,
                        workPerStep: batch * (d * d + 2 * n * d + 20 * d * n), scratchSize: d + n)
                    scan.resets = trace.boundaries
                    scan.run(
                        coefficients: { t, at, bt, scratch in
                            let delta = scratch
                            let cProj = scratch + d
                            for s in 0..<batch {
                                // a_{t+1} (zero past the end), b = gy_t[c] C_t[s].
                                if t + 1 < steps {
                                    let xn = x + ((t + 1) * batch + s) * d
                                    SelectiveSSM.steps(
                                        x: xn, d: d, wDelta: WD.p, bDelta: BD.p,
                                        preactivation: nil, delta: delta)
                                    for c in 0..<d {
                                        let base = (s * d + c) * n
                                        let arow = A.p + c * n
                                        for k in 0..<n { at[base + k] = Fn.exp(-delta[c] * arow[k]) }
                                    }
                                } else {
                                    (at + s * d * n).update(repeating: 0, count: d * n)
                                }
                                let r = t * batch + s
                                SelectiveSSM.project(x: x + r * d, d: d, n: n, w: WC.p, out: cProj)
                                for c in 0..<d {
                                    var gy = g[r * d + c]
                                    if gate != .none { gy *= gate.value(z[r * d + c]).f }
                                    let base = (s * d + c) * n
                                    for k in 0..<n { bt[base + k] = gy * cProj[k] }
                                }
                            }
                        },
                        emit: { t, h, _ in (adjoint.p + t * lanes).update(from: h, count: lanes) })
                }
            }
        }
        // Accumulators: aLog [d][N], wDelta [d][d], bDelta [d], wB [N][d], wC [N][d], D [d].
        let sizes = [d * n, d * d, d, n * d, n * d, d]
        let offsets = sizes.indices.map { i in sizes[..<i].reduce(0, +) }
        let total = sizes.reduce(0, +)
        let chunks = chunkCount(
            steps: steps, workPerStep: batch * (total + 20 * d * n),
            bytesPerStep: batch * (5 * d + 2 * d * n) * MemoryLayout<S>.stride, pool: pool)
        let acc = Accumulators<S>(chunks: chunks, size: total)
        let starts = ResetFlags(trace.boundaries, reverse: false)
        defer {
            acc.free()
            starts?.free()
        }
        var gradZ = [S](repeating: 0, count: gate == .none ? 0 : steps * batch * d)
        let input: [S] = makeArray(steps * batch * d) { dxp in
            let dx = UnsafeMutableSendable(dxp)
            gradZ.withUnsafeMutableBufferPointer { gzb in
                let gz = gzb.baseAddress.map { UnsafeMutableSendable($0) }
                x.withUnsafeBufferPointer { xb in
                    zArray.withUnsafeBufferPointer { zb in
                        g.withUnsafeBufferPointer { gb in
                            trace.states.withUnsafeBufferPointer { hb in
                                let (x, z, g, h) = (xb.baseAddress!, zb.baseAddress!, gb.baseAddress!, hb.baseAddress!)
                                forEachTimeChunk(steps: steps, chunks: chunks, pool: pool) { chunk, range in
                                    let base = acc.chunk(chunk)
                                    let gAlog = base + offsets[0]
                                    let gWD = base + offsets[1]
                                    let gBD = base + offsets[2]
                                    let gWB = base + offsets[3]
                                    let gWC = base + offsets[4]
                                    let gD = base + offsets[5]
                                    // δ, Δ, B_t, C_t, gy, ∂Δ, ∂B_t, ∂C_t.
                                    let work = UnsafeMutablePointer<S>.allocate(capacity: 5 * d + 3 * n)
                                    work.initialize(repeating: 0, count: 5 * d + 3 * n)
                                    defer { work.deallocate() }
                                    let (pre, delta, gy, gDelta, gPre) = (
                                        work, work + d, work + 2 * d, work + 3 * d, work + 4 * d
                                    )
                                    let (bP, cP, gB) = (work + 5 * d, work + 5 * d + n, work + 5 * d + 2 * n)
                                    let gC = UnsafeMutablePointer<S>.allocate(capacity: n)
                                    defer { gC.deallocate() }
                                    for t in range {
                                        let restarts = t == 0 || (starts?.isReset(t) ?? false)
                                        for s in 0..<batch {
                                            let r = t * batch + s
                                            let xs = x + r * d
                                            let gs = g + r * d
                                            let dxs = dx.base + r * d
                                            let ht = h + t * lanes + s * d * n
                                            let mu = adjoint.p + t * lanes + s * d * n
                                            let hp: UnsafePointer<S>? = restarts ? nil : h + (t - 1) * lanes + s * d * n
                                            SelectiveSSM.steps(
                                                x: xs, d: d, wDelta: WD.p, bDelta: BD.p,
                                                preactivation: pre, delta: delta)
                                            SelectiveSSM.project(x: xs, d: d, n: n, w: WB.p, out: bP)
                                            SelectiveSSM.project(x: xs, d: d, n: n, w: WC.p, out: cP)
                                            for k in 0..<n {
                                                gB[k] = 0
                                                gC[k] = 0
                                            }
                                            for c in 0..<d {
                                                // y, gate.
                                                let hc = ht + c * n
                                                var y = Dk.p[c] * xs[c]
                                                for k in 0..<n { y += cP[k] * hc[k] }
                                                if gate == .none {
                                                    gy[c] = gs[c]
                                                } else {
                                                    let (f, df) = gate.value(z[r * d + c])
                                                    gy[c] = gs[c] * f
                                                    gz!.base[r * d + c] = gs[c] * y * df
                                                }
                                                dxs[c] += Dk.p[c] * gy[c]
                                                gD[c] += gy[c] * xs[c]
                                                for k in 0..<n { gC[k] += gy[c] * hc[k] }
                                                // Decay and input terms.
                                                let dc = delta[c]
                                                let xc = xs[c]
                                                let mc = mu + c * n
                                                let arow = A.p + c * n
                                                let glog = gAlog + c * n
                                                var gd: S = 0
                                                var gxc: S = 0
                                                for k in 0..<n {
                                                    let m = mc[k]
                                                    if let hp {
                                                        let a = Fn.exp(-dc * arow[k])
                                                        let ga = m * hp[c * n + k] * a
                                                        gd -= arow[k] * ga
                                                        glog[k] -= dc * arow[k] * ga
                                                    }
                                                    gd += m * bP[k] * xc
                                                    gB[k] += m * dc * xc
                                                    gxc += m * dc * bP[k]
                                                }
                                                dxs[c] += gxc
                                                gDelta[c] = gd
                                                gPre[c] = gd * Fn.sigmoid(pre[c])
                                            }
                                            // Projections.
                                            for c in 0..<d {
                                                let gp = gPre[c]
                                                gBD[c] += gp
                                                for k in 0..<d {
                                                    gWD[c * d + k] += gp * xs[k]
                                                    dxs[k] += WD.p[c * d + k] * gp
                                                }
                                            }
                                            for k in 0..<n {
                                                for c in 0..<d {
                                                    gWB[k * d + c] += gB[k] * xs[c]
                                                    gWC[k * d + c] += gC[k] * xs[c]
                                                    dxs[c] += WB.p[k * d + c] * gB[k] + WC.p[k * d + c] * gC[k]
                                                }
                                            }
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
        let parts = sum.slices(sizes: sizes)
        return Gradients(
            input: input, gate: gradZ, aLog: parts[0], wDelta: parts[1], bDelta: parts[2], wB: parts[3],
            wC: parts[4], d: parts[5])
    }
}
