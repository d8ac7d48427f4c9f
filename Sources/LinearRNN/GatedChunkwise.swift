import ParallelScan

/// The chunkwise-parallel engine shared by ``MLSTM`` and ``Retention``: gated linear attention
/// with a scalar log-decay per step, an optional normaliser and a running-max stabiliser.
///
/// One head of one sequence, with q̂_t = s·q_t (s = 1/√D_k), log-forget φ_t, log-input ι_t and
/// augmented values ṽ_t = (v_t, 1) (normalised) or ṽ_t = v_t (not normalised):
///
///     m_t = max(φ_t + m_{t−1}, ι_t)                 (m_0 = 0)
///     C̄_t = e^{φ_t + m_{t−1} − m_t} C̄_{t−1} + e^{ι_t − m_t} k_t ṽ_tᵀ      (C̄ = [C | n], D_k×W)
///     H_t = q̂_tᵀ C̄_t,   h_t = H_t[0..<D_v] / (max(|H_t[D_v]|, e^{−m_t}) + ε)   (normalised)
///
/// **Chunkwise form** (chunks of L steps; b_i = Σ_{s≤i} φ_s from the chunk start, u_j = ι_j − b_j,
/// carried state (C̄_prev, m_prev)): m_i = max(m_prev + b_i, b_i + max_{j≤i} u_j) (the same m as the
/// recurrence, so both forms agree to rounding), and
///
///     H_i = e^{b_i + m_prev − m_i} q̂_iᵀ C̄_prev + Σ_{j≤i} (q̂_i·k_j) e^{b_i + u_j − m_i} ṽ_j
///     C̄_end = e^{b_L + m_prev − m_L} C̄_prev + Σ_j e^{b_L + u_j − m_L} k_j ṽ_jᵀ
///
/// Every exponent is ≤ 0. The products are GEMMs: the inter-chunk term (L×D_k by D_k×W), the
/// state update (D_k×L by L×W) and the intra-chunk causal part, tiled TFLA-style in τ×τ tiles
/// (τ = `tile`) so a chunk never materialises its L×L matrix and tiles above the diagonal are
/// skipped: S = q̂_a k_cᵀ, masked and decayed in place, then H_a += S ṽ_c.
///
/// Usage (inside a layer): `GatedChunkwise(keySize: 64, valueSize: 64, normalised: true,
/// epsilon: 1e-6, chunk: 64, tile: 64).forward(sequence, steps: T, scratch: &buffers, …)`.
struct GatedChunkwise<S: ScanScalar>: Sendable {
    let dk: Int, dv: Int, normalised: Bool, epsilon: S, chunk: Int, tile: Int
    /// Width of the augmented state: D_v + 1 with the normaliser column, else D_v.
    var width: Int { normalised ? dv + 1 : dv }
    var scale: S { 1 / S(dk).squareRoot() }

    init(keySize: Int, valueSize: Int, normalised: Bool, epsilon: S, chunk: Int, tile: Int) {
        dk = keySize
        dv = valueSize
        self.normalised = normalised
        self.epsilon = epsilon
        self.chunk = chunk
        self.tile = min(tile, chunk)
    }

    /// Number of chunks for `steps` steps.
    func chunkCount(_ steps: Int) -> Int { (steps + chunk - 1) / chunk }
}

/// One head of one sequence: row t of q is at `q + t·qStride`, and so on. `logF` and `logI` are
/// contiguous `[T]`.
struct HeadSequence<S: ScanScalar>: @unchecked Sendable {
    var q: UnsafePointer<S>, k: UnsafePointer<S>, v: UnsafePointer<S>
    var qStride: Int, kStride: Int, vStride: Int
    var logF: UnsafePointer<S>, logI: UnsafePointer<S>
}

/// Per-step statistics written by the forward pass: row t at `base + t·stride`.
struct StridedOut<S>: @unchecked Sendable {
    var base: UnsafeMutablePointer<S>
    var stride: Int
}

/// Scratch memory of one worker, reused across the sequences it runs.
final class ChunkScratch<S: ScanScalar> {
    let state: UnsafeMutablePointer<S>  // D_k × W
    let values: UnsafeMutablePointer<S>  // L × W
    let rows: UnsafeMutablePointer<S>  // L × W (H for a query tile, or G)
    let tileScores: UnsafeMutablePointer<S>  // τ × τ
    let tileScores2: UnsafeMutablePointer<S>  // τ × τ
    let keys: UnsafeMutablePointer<S>  // L × D_k
    let keys2: UnsafeMutablePointer<S>  // L × D_k
    let keys3: UnsafeMutablePointer<S>  // L × D_k
    let wide: UnsafeMutablePointer<S>  // L × W
    let wide2: UnsafeMutablePointer<S>  // L × W
    let gradState: UnsafeMutablePointer<S>  // D_k × W
    let b: UnsafeMutablePointer<S>, u: UnsafeMutablePointer<S>, m: UnsafeMutablePointer<S>
    let e: UnsafeMutablePointer<S>, db: UnsafeMutablePointer<S>
    private let all: [UnsafeMutablePointer<S>]

    init(_ engine: GatedChunkwise<S>) {
        let L = engine.chunk
        let W = engine.width
        let dk = engine.dk
        let tau = engine.tile
        func make(_ n: Int) -> UnsafeMutablePointer<S> {
            let p = UnsafeMutablePointer<S>.allocate(capacity: max(1, n))
            p.initialize(repeating: 0, count: max(1, n))
            return p
        }
        state = make(dk * W)
        values = make(L * W)
        rows = make(L * W)
        tileScores = make(tau * tau)
        tileScores2 = make(tau * tau)
        keys = make(L * dk)
        keys2 = make(L * dk)
        keys3 = make(L * dk)
        wide = make(L * W)
        wide2 = make(L * W)
        gradState = make(dk * W)
        b = make(L)
        u = make(L)
        m = make(L)
        e = make(L)
        db = make(L)
        all = [
            state, values, rows, tileScores, tileScores2, keys, keys2, keys3, wide, wide2, gradState, b, u, m, e, db,
        ]
    }
    deinit { for p in all { p.deallocate() } }
}

extension GatedChunkwise {
    /// Fills b (local cumulative log-forget), u = ι − b and the stabiliser m for the chunk's `n`
    /// steps starting at `start`, given the carried m_prev.
    @inline(__always)
    func gateStatistics(
        _ seq: HeadSequence<S>, start: Int, n: Int, mPrev: S, _ w: ChunkScratch<S>
    ) {
        var acc: S = 0
        var runMax = -S.infinity
        for i in 0..<n {
            acc += seq.logF[start + i]
            w.b[i] = acc
            let ui = seq.logI[start + i] - acc
            w.u[i] = ui
            runMax = max(runMax, ui)
            w.m[i] = max(mPrev + acc, acc + runMax)
        }
    }

    /// Copies the chunk's values into `w.values` as rows ṽ_j (with the trailing 1 when normalised).
    @inline(__always)
    func loadValues(_ seq: HeadSequence<S>, start: Int, n: Int, _ w: ChunkScratch<S>) {
        let W = width
        for j in 0..<n {
            let src = seq.v + (start + j) * seq.vStride
            let dst = w.values + j * W
            for c in 0..<dv { dst[c] = src[c] }
            if normalised { dst[dv] = 1 }
        }
    }

    /// Runs the chunkwise forward pass over one head of one sequence, chunk after chunk.
    ///
    /// Writes h_t to `out`, m_t to `mOut` and the normaliser q̂_t·n_t (stabilised) to `dOut` when
    /// given, and the chunk-start states C̄ (`[chunks][D_k][W]`) and their m (`[chunks]`) when
    /// `chunkStates` is given.
    func forward(
        _ seq: HeadSequence<S>, steps: Int, out: StridedOut<S>, mOut: StridedOut<S>?,
        dOut: StridedOut<S>?, chunkStates: UnsafeMutablePointer<S>?,
        chunkM: UnsafeMutablePointer<S>?, _ w: ChunkScratch<S>
    ) {
        let W = width
        let state = w.state
        state.update(repeating: 0, count: dk * W)
        var mPrev: S = 0
        var c = 0
        for start in stride(from: 0, to: steps, by: chunk) {
            let n = min(chunk, steps - start)
            if let chunkStates, let chunkM {
                (chunkStates + c * dk * W).update(from: state, count: dk * W)
                chunkM[c] = mPrev
            }
            chunkOutputs(seq, start: start, n: n, state: state, mPrev: mPrev, out: out, mOut: mOut, dOut: dOut, w)
            // State update: C̄ ← e^{b_L + m_prev − m_L} C̄ + Σ_j e^{b_L + u_j − m_L} k_j ṽ_jᵀ.
            let mL = w.m[n - 1]
            let g = w.b[n - 1]
            let decay = Fn.exp(g + mPrev - mL)
            for x in 0..<(dk * W) { state[x] *= decay }
            addChunkState(seq, start: start, n: n, shift: mL, into: state, w)
            mPrev = mL
            c += 1
        }
    }

    /// C̄ += Σ_j e^{b_L + u_j − shift} k_j ṽ_jᵀ for the chunk whose statistics and values are in
    /// `w` (one GEMM over the value columns; the normaliser column by a plain sum).
    @inline(__always)
    func addChunkState(
        _ seq: HeadSequence<S>, start: Int, n: Int, shift: S, into state: UnsafeMutablePointer<S>,
        _ w: ChunkScratch<S>
    ) {
        let W = width
        let g = w.b[n - 1]
        for j in 0..<n {
            let f = Fn.exp(g + w.u[j] - shift)
            let src = seq.k + (start + j) * seq.kStride
            let dst = w.keys + j * dk
            for x in 0..<dk { dst[x] = src[x] * f }
        }
        S.gemm(
            transposeA: true, transposeB: false, m: dk, n: dv, k: n, alpha: 1, a: w.keys, lda: dk,
            b: w.values, ldb: W, beta: 1, c: state, ldc: W)
        if normalised {
            for j in 0..<n {
                let kr = w.keys + j * dk
                for x in 0..<dk { state[x * W + dv] += kr[x] }
            }
        }
    }

    /// The outputs of one chunk from its start state (C̄_prev, m_prev); leaves the chunk's gate
    /// statistics and values in `w`.
    func chunkOutputs(
        _ seq: HeadSequence<S>, start: Int, n: Int, state: UnsafePointer<S>, mPrev: S, out: StridedOut<S>,
        mOut: StridedOut<S>?, dOut: StridedOut<S>?, _ w: ChunkScratch<S>
    ) {
        let W = width
        let tau = tile
        let scale = self.scale
        gateStatistics(seq, start: start, n: n, mPrev: mPrev, w)
        loadValues(seq, start: start, n: n, w)
        let H = w.rows
        let St = w.tileScores
        for a0 in stride(from: 0, to: n, by: tau) {
            let na = min(tau, n - a0)
            let qa = seq.q + (start + a0) * seq.qStride
            // Inter-chunk: H = e^{b_i + m_prev − m_i} q̂_i C̄_prev (GEMM over the value columns,
            // the normaliser column by dot products).
            S.gemm(
                transposeA: false, transposeB: false, m: na, n: dv, k: dk, alpha: scale, a: qa,
                lda: seq.qStride, b: state, ldb: W, beta: 0, c: H, ldc: W)
            for i in 0..<na {
                let f = Fn.exp(w.b[a0 + i] + mPrev - w.m[a0 + i])
                let row = H + i * W
                for x in 0..<dv { row[x] *= f }
                if normalised {
                    let qi = qa + i * seq.qStride
                    var dotN: S = 0
                    for x in 0..<dk { dotN += qi[x] * state[x * W + dv] }
                    row[dv] = f * scale * dotN
                }
            }
            // Intra-chunk tiles at or below the diagonal.
            for c0 in stride(from: 0, through: a0, by: tau) {
                let nc = min(tau, n - c0)
                S.gemm(
                    transposeA: false, transposeB: true, m: na, n: nc, k: dk, alpha: scale,
                    a: qa, lda: seq.qStride, b: seq.k + (start + c0) * seq.kStride,
                    ldb: seq.kStride, beta: 0, c: St, ldc: tau)
                for i in 0..<na {
                    let gi = a0 + i
                    let ri = w.b[gi] - w.m[gi]
                    let row = St + i * tau
                    var rowSum: S = 0
                    for j in 0..<nc {
                        let gj = c0 + j
                        let p = gj <= gi ? row[j] * Fn.exp(ri + w.u[gj]) : 0
                        row[j] = p
                        rowSum += p
                    }
                    if normalised { H[i * W + dv] += rowSum }
                }
                S.gemm(
                    transposeA: false, transposeB: false, m: na, n: dv, k: nc, alpha: 1, a: St,
                    lda: tau, b: w.values + c0 * W, ldb: W, beta: 1, c: H, ldc: W)
            }
            for i in 0..<na {
                let t = start + a0 + i
                let mi = w.m[a0 + i]
                let row = H + i * W
                let o = out.base + t * out.stride
                if normalised {
                    let d = row[dv]
                    let inv = 1 / (max(abs(d), Fn.exp(-mi)) + epsilon)
                    for x in 0..<dv { o[x] = row[x] * inv }
                    if let dOut { dOut.base[t * dOut.stride] = d }
                } else {
                    for x in 0..<dv { o[x] = row[x] }
                }
                if let mOut { mOut.base[t * mOut.stride] = mi }
            }
        }
    }
}

extension GatedChunkwise {
    /// Chunk-parallel phase 1: the chunk's own contribution to its end state,
    /// Σ_j e^{b_L + u_j − μ} k_j ṽ_jᵀ with its own stabiliser μ = b_L + max_j u_j, written to
    /// `local` (D_k×W). Returns (g = b_L, μ).
    func chunkLocalState(
        _ seq: HeadSequence<S>, start: Int, n: Int, local: UnsafeMutablePointer<S>, _ w: ChunkScratch<S>
    ) -> (g: S, mu: S) {
        gateStatistics(seq, start: start, n: n, mPrev: -S.infinity, w)
        loadValues(seq, start: start, n: n, w)
        local.update(repeating: 0, count: dk * width)
        let mu = w.m[n - 1]
        addChunkState(seq, start: start, n: n, shift: mu, into: local, w)
        return (w.b[n - 1], mu)
    }

    /// Chunk-parallel phase 2 (sequential over one sequence's chunks): turns the local states in
    /// `states` (`[chunks][D_k][W]`) into chunk-start states in place,
    ///
    ///     m_k = max(g_k + m_{k−1}, μ_k),  C̄_k = e^{g_k + m_{k−1} − m_k} C̄_{k−1} + e^{μ_k − m_k} Local_k,
    ///
    /// and writes m at each chunk start to `chunkM`. `carry` is D_k×W scratch.
    func combineChunkStates(
        _ states: UnsafeMutablePointer<S>, g: UnsafePointer<S>, mu: UnsafePointer<S>, chunks: Int,
        chunkM: UnsafeMutablePointer<S>, carry: UnsafeMutablePointer<S>
    ) {
        let size = dk * width
        carry.update(repeating: 0, count: size)
        var mPrev: S = 0
        for c in 0..<chunks {
            let mk = max(g[c] + mPrev, mu[c])
            let a = Fn.exp(g[c] + mPrev - mk)
            let b = Fn.exp(mu[c] - mk)
            let slot = states + c * size
            for x in 0..<size {
                let l = slot[x]
                slot[x] = carry[x]
                carry[x] = a * carry[x] + b * l
            }
            chunkM[c] = mPrev
            mPrev = mk
        }
    }
}
