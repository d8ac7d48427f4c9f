import ParallelScan

/// Read-only strided rows: row t at `base + t·stride`.
struct StridedIn<S>: @unchecked Sendable {
    var base: UnsafePointer<S>
    var stride: Int
}

/// Where one head's gradients go: dq, dk, dv rows strided like the inputs; `dLogF`, `dLogI`
/// contiguous `[T]` (overwritten).
struct HeadGradients<S>: @unchecked Sendable {
    var dq: UnsafeMutablePointer<S>, dk: UnsafeMutablePointer<S>, dv: UnsafeMutablePointer<S>
    var qStride: Int, kStride: Int, vStride: Int
    var dLogF: UnsafeMutablePointer<S>, dLogI: UnsafeMutablePointer<S>
}

extension GatedChunkwise {
    /// Gradients of L = Σ_t ⟨g_t, h_t⟩ for one head of one sequence, chunk by chunk in reverse.
    ///
    /// With den_t = max(|d_t|, e^{−m_t}) + ε (d_t = q̂_t·n_t stabilised), the output is
    /// h_t = Ñ_t / (max(|d̃_t|, 1) + ε e^{m_t}) in the unstabilised sums Ñ, d̃, so
    ///
    /// - the augmented read-out H_t = (N_t, d_t) gets G_t = (g_t / den_t, −sign(d_t) ⟨g_t, h_t⟩ / den_t
    ///   where |d_t| > e^{−m_t}, else 0), and back-propagates through the gated linear attention
    ///   H_i = Σ_{j≤i} e^{B_i − B_j + ι_j − m_i} (q̂_i·k_j) ṽ_j with every e^{−m} a constant rescale;
    /// - m_t gets −ε ⟨g_t, h_t⟩ / den_t, carried back through m_t = max(φ_t + m_{t−1}, ι_t) to
    ///   whichever argument is the maximum.
    ///
    /// Per chunk (G, Ṽ, dC̄ = ∂L/∂C̄_end, e_i = e^{b_i + m_prev − m_i}, w_j = e^{b_L + u_j − m_L}):
    ///
    ///     intra (τ×τ tiles, E_ij = e^{b_i + u_j − m_i}, j ≤ i): A = E∘(G Ṽᵀ), B = E∘(q̂ kᵀ), P = A∘(q̂ kᵀ)
    ///         dq̂ += A K,  dk += Aᵀ q̂,  dṽ += Bᵀ G,  ∂b_i += Σ_j P_ij − Σ_j P_ji,  ∂ι_j += Σ_i P_ij
    ///     inter: X = G C̄_prevᵀ,  dq̂_i += e_i X_i,  ∂b_i += e_i q̂_i·X_i
    ///     state: dk_j += w_j Ṽ_j dC̄ᵀ,  dṽ_j += w_j k_j dC̄,  ∂ι_j, −∂b_j, ∂b_L += w_j k_jᵀ dC̄ ṽ_j,
    ///            ∂b_L += e^{b_L + m_prev − m_L} ⟨dC̄, C̄_prev⟩
    ///     carry: dC̄ ← e^{b_L + m_prev − m_L} dC̄ + q̂ᵀ diag(e) G
    ///
    /// and ∂φ_s = Σ_{i≥s in the chunk} ∂b_i. Needs the chunk-start states of the forward pass.
    func backward(
        _ seq: HeadSequence<S>, steps: Int, g: StridedIn<S>, h: StridedIn<S>, mIn: StridedIn<S>?,
        dIn: StridedIn<S>?, chunkStates: UnsafePointer<S>, chunkM: UnsafePointer<S>,
        _ out: HeadGradients<S>, _ w: ChunkScratch<S>
    ) {
        let W = width
        let tau = tile
        let scale = self.scale
        for t in 0..<steps {
            out.dLogF[t] = 0
            out.dLogI[t] = 0
        }
        let dC = w.gradState
        dC.update(repeating: 0, count: dk * W)
        let chunks = chunkCount(steps)
        let (G, dQ, dK, X, dV, scratch) = (w.rows, w.keys, w.keys2, w.keys3, w.wide, w.wide2)
        for c in stride(from: chunks - 1, through: 0, by: -1) {
            let start = c * chunk
            let n = min(chunk, steps - start)
            let prev = chunkStates + c * dk * W
            let mPrev = chunkM[c]
            gateStatistics(seq, start: start, n: n, mPrev: mPrev, w)
            loadValues(seq, start: start, n: n, w)
            // G rows.
            for i in 0..<n {
                let t = start + i
                let gr = g.base + t * g.stride
                let row = G + i * W
                if normalised, let dIn {
                    let hr = h.base + t * h.stride
                    let d = dIn.base[t * dIn.stride]
                    let lower = Fn.exp(-w.m[i])
                    let den = max(abs(d), lower) + epsilon
                    var gh: S = 0
                    for x in 0..<dv {
                        row[x] = gr[x] / den
                        gh += gr[x] * hr[x]
                    }
                    row[dv] = abs(d) > lower ? (d < 0 ? gh / den : -gh / den) : 0
                } else {
                    for x in 0..<dv { row[x] = gr[x] }
                }
                w.e[i] = Fn.exp(w.b[i] + mPrev - w.m[i])
                w.db[i] = 0
            }
            dQ.update(repeating: 0, count: n * dk)
            dK.update(repeating: 0, count: n * dk)
            dV.update(repeating: 0, count: n * W)
            // Intra-chunk tiles.
            let St = w.tileScores
            let At = w.tileScores2
            for a0 in stride(from: 0, to: n, by: tau) {
                let na = min(tau, n - a0)
                let qa = seq.q + (start + a0) * seq.qStride
                for c0 in stride(from: 0, through: a0, by: tau) {
                    let nc = min(tau, n - c0)
                    let kc = seq.k + (start + c0) * seq.kStride
                    S.gemm(
                        transposeA: false, transposeB: true, m: na, n: nc, k: dk, alpha: scale, a: qa,
                        lda: seq.qStride, b: kc, ldb: seq.kStride, beta: 0, c: St, ldc: tau)
                    S.gemm(
                        transposeA: false, transposeB: true, m: na, n: nc, k: W, alpha: 1,
                        a: G + a0 * W, lda: W, b: w.values + c0 * W, ldb: W, beta: 0, c: At, ldc: tau)
                    for i in 0..<na {
                        let gi = a0 + i
                        let ri = w.b[gi] - w.m[gi]
                        let srow = St + i * tau
                        let arow = At + i * tau
                        var rowSum: S = 0
                        for j in 0..<nc {
                            let gj = c0 + j
                            if gj <= gi {
                                let e = Fn.exp(ri + w.u[gj])
                                let s = srow[j]
                                let a = arow[j]
                                let p = e * s * a
                                rowSum += p
                                w.db[gj] -= p
                                out.dLogI[start + gj] += p
                                srow[j] = e * s
                                arow[j] = e * a
                            } else {
                                srow[j] = 0
                                arow[j] = 0
                            }
                        }
                        w.db[gi] += rowSum
                    }
                    S.gemm(
                        transposeA: false, transposeB: false, m: na, n: dk, k: nc, alpha: scale, a: At,
                        lda: tau, b: kc, ldb: seq.kStride, beta: 1, c: dQ + a0 * dk, ldc: dk)
                    S.gemm(
                        transposeA: true, transposeB: false, m: nc, n: dk, k: na, alpha: scale, a: At,
                        lda: tau, b: qa, ldb: seq.qStride, beta: 1, c: dK + c0 * dk, ldc: dk)
                    S.gemm(
                        transposeA: true, transposeB: false, m: nc, n: W, k: na, alpha: 1, a: St,
                        lda: tau, b: G + a0 * W, ldb: W, beta: 1, c: dV + c0 * W, ldc: W)
                }
            }
            let qc = seq.q + start * seq.qStride
            let kc = seq.k + start * seq.kStride
            // Inter-chunk read-out: X = G C̄_prevᵀ.
            S.gemm(
                transposeA: false, transposeB: true, m: n, n: dk, k: W, alpha: 1, a: G, lda: W,
                b: prev, ldb: W, beta: 0, c: X, ldc: dk)
            for i in 0..<n {
                let e = w.e[i]
                let xr = X + i * dk
                let qr = qc + i * seq.qStride
                let dot = dotAccumulating(qr, xr, into: dQ + i * dk, weight: scale * e, count: dk)
                w.db[i] += e * scale * dot
            }
            // State built from this chunk's inputs, against dC̄ = ∂L/∂C̄_end.
            let mL = w.m[n - 1]
            let gL = w.b[n - 1]
            S.gemm(
                transposeA: false, transposeB: true, m: n, n: dk, k: W, alpha: 1, a: w.values, lda: W,
                b: dC, ldb: W, beta: 0, c: X, ldc: dk)
            S.gemm(
                transposeA: false, transposeB: false, m: n, n: W, k: dk, alpha: 1, a: kc,
                lda: seq.kStride, b: dC, ldb: W, beta: 0, c: scratch, ldc: W)
            var dg: S = 0
            for j in 0..<n {
                let wj = Fn.exp(gL + w.u[j] - mL)
                let yr = X + j * dk
                let kr = kc + j * seq.kStride
                let s = wj * dotAccumulating(kr, yr, into: dK + j * dk, weight: wj, count: dk)
                dg += s
                w.db[j] -= s
                out.dLogI[start + j] += s
                let zr = scratch + j * W
                let dvr = dV + j * W
                for x in 0..<W { dvr[x] += wj * zr[x] }
            }
            let decay = Fn.exp(gL + mPrev - mL)
            var frob: S = 0
            for x in 0..<(dk * W) { frob += dC[x] * prev[x] }
            dg += decay * frob
            // Carry: dC̄ ← decay·dC̄ + q̂ᵀ diag(e) G.
            for i in 0..<n {
                let e = w.e[i]
                let src = G + i * W
                let dst = scratch + i * W
                for x in 0..<W { dst[x] = e * src[x] }
            }
            for x in 0..<(dk * W) { dC[x] *= decay }
            S.gemm(
                transposeA: true, transposeB: false, m: dk, n: W, k: n, alpha: scale, a: qc,
                lda: seq.qStride, b: scratch, ldb: W, beta: 1, c: dC, ldc: W)
            w.db[n - 1] += dg
            var acc: S = 0
            for i in stride(from: n - 1, through: 0, by: -1) {
                acc += w.db[i]
                out.dLogF[start + i] += acc
            }
            for i in 0..<n {
                let t = start + i
                let q = out.dq + t * out.qStride
                let k = out.dk + t * out.kStride
                let v = out.dv + t * out.vStride
                for x in 0..<dk {
                    q[x] = dQ[i * dk + x]
                    k[x] = dK[i * dk + x]
                }
                for x in 0..<dv { v[x] = dV[i * W + x] }
            }
        }
        // The stabiliser's path: ∂L/∂m_t = −ε ⟨g_t, h_t⟩ / den_t through m_t = max(φ_t + m_{t−1}, ι_t).
        guard normalised, let mIn, let dIn else { return }
        var acc: S = 0
        for t in stride(from: steps - 1, through: 0, by: -1) {
            let mt = mIn.base[t * mIn.stride]
            let d = dIn.base[t * dIn.stride]
            let den = max(abs(d), Fn.exp(-mt)) + epsilon
            let gr = g.base + t * g.stride
            let hr = h.base + t * h.stride
            var gh: S = 0
            for x in 0..<dv { gh += gr[x] * hr[x] }
            acc -= epsilon * gh / den
            let mPrev: S = t > 0 ? mIn.base[(t - 1) * mIn.stride] : 0
            if seq.logI[t] > seq.logF[t] + mPrev {
                out.dLogI[t] += acc
                acc = 0
            } else {
                out.dLogF[t] += acc
            }
        }
    }
}

/// Σ_x a[x]·b[x] over `count` values (in index order), adding weight·b[x] to out[x] on the way.
@inline(__always)
private func dotAccumulating<S: ScanScalar>(
    _ a: UnsafePointer<S>, _ b: UnsafePointer<S>, into out: UnsafeMutablePointer<S>, weight: S, count: Int
) -> S {
    var dot: S = 0
    for x in 0..<count {
        dot += a[x] * b[x]
        out[x] += weight * b[x]
    }
    return dot
}
