import ParallelScan

extension GatedChunkwise {
    /// The recurrent step form (the reference): one rank-1 state update and one read-out per step,
    ///
    ///     m_t = max(φ_t + m_{t−1}, ι_t),  f' = e^{φ_t + m_{t−1} − m_t},  i' = e^{ι_t − m_t}
    ///     C̄_t = f' C̄_{t−1} + i' k_t ṽ_tᵀ,  H_t = q̂_tᵀ C̄_t
    ///
    /// fused row by row (each state row is updated and read out while it is in registers).
    /// O(T·D_k·W) work and O(D_k·W) memory; no BLAS.
    func recurrent(_ seq: HeadSequence<S>, steps: Int, out: StridedOut<S>, _ w: ChunkScratch<S>) {
        let W = width
        let scale = self.scale
        let state = w.state
        let acc = w.rows
        state.update(repeating: 0, count: dk * W)
        var mPrev: S = 0
        for t in 0..<steps {
            let lf = seq.logF[t]
            let li = seq.logI[t]
            let mt = max(lf + mPrev, li)
            let f = Fn.exp(lf + mPrev - mt)
            let ig = Fn.exp(li - mt)
            mPrev = mt
            let q = seq.q + t * seq.qStride
            let k = seq.k + t * seq.kStride
            let v = seq.v + t * seq.vStride
            for x in 0..<W { acc[x] = 0 }
            for r in 0..<dk {
                let kr = ig * k[r]
                let qr = scale * q[r]
                let row = state + r * W
                for x in 0..<dv {
                    let c = f * row[x] + kr * v[x]
                    row[x] = c
                    acc[x] += qr * c
                }
                if normalised {
                    let c = f * row[dv] + kr
                    row[dv] = c
                    acc[dv] += qr * c
                }
            }
            let o = out.base + t * out.stride
            if normalised {
                let inv = 1 / (max(abs(acc[dv]), Fn.exp(-mt)) + epsilon)
                for x in 0..<dv { o[x] = acc[x] * inv }
            } else {
                for x in 0..<dv { o[x] = acc[x] }
            }
        }
    }
}
