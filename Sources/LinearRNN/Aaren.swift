import ParallelScan

/// One element of the Aaren prefix scan: a running maximum m, a scaled numerator u and a scaled
/// denominator w, representing Σ_i e^{s_i} v_i = u e^m and Σ_i e^{s_i} = w e^m.
public struct AarenState<S: ScanScalar>: Sendable, Equatable {
    public var m: S, u: S, w: S
    public init(m: S, u: S, w: S) {
        self.m = m
        self.u = u
        self.w = w
    }

    /// The identity element (−∞, 0, 0).
    public static var identity: AarenState { AarenState(m: -.infinity, u: 0, w: 0) }

    /// The associative log-sum-exp operator:
    ///
    ///     (m_A, u_A, w_A) ⊕ (m_B, u_B, w_B) = (m, u_A e^{m_A−m} + u_B e^{m_B−m},
    ///                                            w_A e^{m_A−m} + w_B e^{m_B−m}),  m = max(m_A, m_B).
    ///
    /// Every exponent is ≤ 0, so nothing overflows; the operand holding the maximum gets the
    /// factor 1 exactly (which also keeps (−∞, 0, 0) ⊕ (−∞, 0, 0) free of NaN).
    @inline(__always)
    public static func combine(_ a: AarenState, _ b: AarenState) -> AarenState {
        if a.m >= b.m {
            let f = b.m == a.m ? 1 : Fn.exp(b.m - a.m)
            return AarenState(m: a.m, u: a.u + b.u * f, w: a.w + b.w * f)
        } else {
            let f = Fn.exp(a.m - b.m)
            return AarenState(m: b.m, u: a.u * f + b.u, w: a.w * f + b.w)
        }
    }
}

/// Attention as an RNN (Aaren, Feng et al. 2024): many-to-many softmax attention of a learned
/// query over every prefix of keys and values, computed by a parallel prefix scan.
///
/// With query q ∈ ℝ^{d_k} (a parameter shared by all steps), keys k_t ∈ ℝ^{d_k} and values
/// v_t ∈ ℝ^{d_v}:
///
///     s_t = ⟨q, k_t⟩ / sqrt(d_k)
///     o_t = Σ_{i≤t} softmax_i(s_0 … s_t) v_i = Σ_{i≤t} e^{s_i} v_i / Σ_{i≤t} e^{s_i}
///
/// computed as the inclusive prefix scan (ParallelScan's `AssociativeScan.inclusive`) of
/// x_t = (s_t, v_t[j], 1) under ``AarenState/combine(_:_:)``, one lane per (sequence, value
/// channel), and o_t = u_t / w_t. Layouts: keys `[T][batch][d_k]`, values and output
/// `[T][batch][d_v]`; the trace's `states` holds m_t and w_t as `[T][batch][2]`.
///
/// **Backward** (a scan adjoint, not differentiation through the O(T²) formula). With
/// g_t = ∂L/∂o_t, p_i = e^{s_i − m_i} ∈ (0, 1], and the reverse affine scan (ParallelScan's
/// `AffineScan.diagonal`, `.reverse`)
///
///     R_i = r_i + e^{m_i − m_{i+1}} R_{i+1},   r_t = (g_t / w_t,  ⟨g_t, o_t⟩ / w_t)
///
/// (coefficients e^{m_i − m_{i+1}} ∈ (0, 1] since the prefix maximum never decreases):
///
///     ∂L/∂v_i = p_i R_i[0..<d_v],   ∂L/∂s_i = p_i (⟨v_i, R_i[0..<d_v]⟩ − R_i[d_v]),
///     ∂L/∂k_i = ∂L/∂s_i · q / sqrt(d_k),   ∂L/∂q = Σ_i ∂L/∂s_i · k_i / sqrt(d_k).
public struct Aaren<S: ScanScalar>: Sendable {
    public let keySize: Int, valueSize: Int
    /// `[d_k]` learned query.
    public var query: [S]

    public init(keySize: Int, valueSize: Int, query: [S]) throws(LinearRNNError) {
        try checkPositive("keySize", keySize)
        try checkPositive("valueSize", valueSize)
        try check("query", query.count, keySize)
        self.keySize = keySize
        self.valueSize = valueSize
        self.query = query
    }

    /// Gradients of L = Σ_t ⟨G_t, o_t⟩: keys `[T][batch][d_k]`, values `[T][batch][d_v]`,
    /// query `[d_k]`.
    public struct Gradients: Sendable {
        public var keys: [S], values: [S], query: [S]
    }

    var scale: S { 1 / S(keySize).squareRoot() }

    /// Runs the layer.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func forward(
        keys: [S], values: [S], steps: Int, batch: Int, pool: WorkerPool = .shared
    ) throws(LinearRNNError) -> LinearRNNTrace<S> {
        try checkSequence(steps: steps, batch: batch)
        let dk = keySize
        let dv = valueSize
        let lanes = batch * dv
        let scale = self.scale
        try check("keys", keys.count, steps * batch * dk)
        try check("values", values.count, steps * batch * dv)
        var elements = [AarenState<S>](repeating: .identity, count: steps * lanes)
        elements.withUnsafeMutableBufferPointer { eb in
            keys.withUnsafeBufferPointer { kb in
                values.withUnsafeBufferPointer { vb in
                    query.withUnsafeBufferPointer { qb in
                        let e = UnsafeMutableSendable(eb.baseAddress!)
                        let (k, v, q) = (kb.baseAddress!, vb.baseAddress!, qb.baseAddress!)
                        let chunks = chunkCount(
                            steps: steps, workPerStep: batch * (dk + dv),
                            bytesPerStep: batch * (dk + 2 * dv) * MemoryLayout<S>.stride, pool: pool)
                        forEachTimeChunk(steps: steps, chunks: chunks, pool: pool) { _, range in
                            for t in range {
                                for s in 0..<batch {
                                    let r = t * batch + s
                                    var score: S = 0
                                    for i in 0..<dk { score += q[i] * k[r * dk + i] }
                                    score *= scale
                                    for j in 0..<dv {
                                        e.base[r * dv + j] = AarenState(m: score, u: v[r * dv + j], w: 1)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        // The operator's inputs are all finite here, so the scan cannot fail for shape reasons.
        do {
            try elements.withUnsafeMutableBufferPointer { (eb) throws(ScanError) in
                try AssociativeScan.inclusive(
                    eb, steps: steps, lanes: lanes, pool: pool, combine: AarenState<S>.combine)
            }
        } catch {
            throw .invalidValue("prefix scan failed: \(error)")
        }
        var states = [S](repeating: 0, count: steps * batch * 2)
        let output: [S] = makeArray(steps * lanes) { o in
            for r in 0..<(steps * batch) {
                for j in 0..<dv {
                    let x = elements[r * dv + j]
                    o[r * dv + j] = x.u / x.w
                }
                states[2 * r] = elements[r * dv].m
                states[2 * r + 1] = elements[r * dv].w
            }
        }
        return LinearRNNTrace(steps: steps, batch: batch, output: output, states: states)
    }

    /// Gradients of L = Σ_t ⟨G_t, o_t⟩ by the reverse-scan adjoint (see the type's doc).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward(
        keys: [S], values: [S], trace: LinearRNNTrace<S>, outputGradient g: [S],
        pool: WorkerPool = .shared
    ) throws(LinearRNNError) -> Gradients {
        let steps = trace.steps
        let batch = trace.batch
        try checkSequence(steps: steps, batch: batch)
        let dk = keySize
        let dv = valueSize
        let width = dv + 1
        let scale = self.scale
        try check("keys", keys.count, steps * batch * dk)
        try check("values", values.count, steps * batch * dv)
        try check("outputGradient", g.count, steps * batch * dv)
        try check("trace.states", trace.states.count, steps * batch * 2)
        try check("trace.output", trace.output.count, steps * batch * dv)
        let lanes = batch * width
        var a = [S](repeating: 0, count: steps * lanes)
        var b = a
        let st = trace.states
        let o = trace.output
        for t in 0..<steps {
            for s in 0..<batch {
                let r = t * batch + s
                let m = st[2 * r]
                let w = st[2 * r + 1]
                let f: S = t + 1 < steps ? Fn.exp(m - st[2 * (r + batch)]) : 0
                var go: S = 0
                for j in 0..<dv {
                    a[r * width + j] = f
                    b[r * width + j] = g[r * dv + j] / w
                    go += g[r * dv + j] * o[r * dv + j]
                }
                a[r * width + dv] = f
                b[r * width + dv] = go / w
            }
        }
        let R: [S]
        do {
            R = try AffineScan.diagonal(a: a, b: b, steps: steps, lanes: lanes, direction: .reverse, pool: pool)
        } catch {
            throw .invalidValue("reverse scan failed: \(error)")
        }
        var gk = [S](repeating: 0, count: steps * batch * dk)
        var gv = [S](repeating: 0, count: steps * batch * dv)
        var gq = [S](repeating: 0, count: dk)
        for t in 0..<steps {
            for s in 0..<batch {
                let r = t * batch + s
                var score: S = 0
                for i in 0..<dk { score += query[i] * keys[r * dk + i] }
                score *= scale
                let p = Fn.exp(score - st[2 * r])
                var dot: S = 0
                for j in 0..<dv {
                    let rj = R[r * width + j]
                    gv[r * dv + j] = p * rj
                    dot += values[r * dv + j] * rj
                }
                let ds = p * (dot - R[r * width + dv])
                for i in 0..<dk {
                    gk[r * dk + i] = ds * scale * query[i]
                    gq[i] += ds * scale * keys[r * dk + i]
                }
            }
        }
        return Gradients(keys: gk, values: gv, query: gq)
    }
}
