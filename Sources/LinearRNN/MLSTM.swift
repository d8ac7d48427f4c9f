import ParallelScan

/// The mLSTM layer of xLSTM (matrix memory, exponential input gate, sigmoid forget gate), per head:
///
///     m_t = max(log σ(f̃_t) + m_{t−1}, ĩ_t)                         (m_0 = 0, C_0 = 0, n_0 = 0)
///     f'  = exp(log σ(f̃_t) + m_{t−1} − m_t),   i' = exp(ĩ_t − m_t)
///     C_t = f' C_{t−1} + i' k_t v_tᵀ,   n_t = f' n_{t−1} + i' k_t
///     h_t = (q̂_tᵀ C_t) / (max(|q̂_tᵀ n_t|, exp(−m_t)) + ε),   q̂_t = q_t / √D_k
///
/// m is the stabiliser: it changes no output beyond the ε term, and keeps every exponential ≤ 1.
///
/// Three evaluation forms (``GatedForm``), equal up to rounding:
/// - `.recurrent`: the step form (the reference), one rank-1 update and read-out per step;
/// - `.chunkwise(chunkSize:tileSize:)`: the chunkwise-parallel form (TFLA): per chunk of L steps,
///   the inter-chunk term q̂ C_prev and the state update Kᵀ V are GEMMs, and the intra-chunk
///   causal part is computed in τ×τ tiles at or below the diagonal (see `GatedChunkwise`);
/// - `.quadratic(tileSize:)`: the parallel form, one chunk of length T.
///
/// Heads and sequences run in parallel on the pool (batch × heads independent problems).
///
/// Layouts (time-major): queries and keys `[T][batch][heads][D_k]`, values and output
/// `[T][batch][heads][D_v]`, gate pre-activations ĩ and f̃ `[T][batch][heads]`.
///
/// **Backward** (``backward(queries:keys:values:inputGates:forgetGates:trace:outputGradient:pool:)``)
/// runs chunk by chunk in reverse with GEMMs of the same shapes, from the chunk-start states the
/// chunkwise forward saved (`keepStates: true`), and includes the ε term's dependence on m.
///
/// ```swift
/// let layer = try MLSTM<Float>(heads: 4, keySize: 64, valueSize: 64)
/// let trace = try layer.forward(queries: q, keys: k, values: v, inputGates: i, forgetGates: f,
///                               steps: T, batch: 1, form: .chunkwise)
/// let grads = try layer.backward(queries: q, keys: k, values: v, inputGates: i, forgetGates: f,
///                                trace: trace, outputGradient: dh)
/// ```
public struct MLSTM<S: ScanScalar>: Sendable {
    public let heads: Int, keySize: Int, valueSize: Int
    /// ε in the denominator (xLSTM's default 1e-6).
    public var epsilon: S

    public init(heads: Int, keySize: Int, valueSize: Int, epsilon: S = 1e-6) throws(LinearRNNError) {
        try checkPositive("heads", heads)
        try checkPositive("keySize", keySize)
        try checkPositive("valueSize", valueSize)
        guard epsilon >= 0, epsilon.isFinite else {
            throw .invalidValue("epsilon must be finite and ≥ 0, got \(epsilon)")
        }
        self.heads = heads
        self.keySize = keySize
        self.valueSize = valueSize
        self.epsilon = epsilon
    }

    /// Gradients of L = Σ_t ⟨G_t, h_t⟩, in the input layouts.
    public struct Gradients: Sendable {
        public var queries: [S], keys: [S], values: [S], inputGates: [S], forgetGates: [S]
    }

    var core: GatedHeads<S> {
        GatedHeads(heads: heads, dk: keySize, dv: valueSize, normalised: true, epsilon: epsilon)
    }

    func checkInputs(
        _ q: [S], _ k: [S], _ v: [S], _ i: [S], _ f: [S], steps: Int, batch: Int
    ) throws(LinearRNNError) {
        try core.checkQueriesKeysValues(q, k, v, steps: steps, batch: batch)
        let rows = steps * batch * heads
        try check("inputGates", i.count, rows)
        try check("forgetGates", f.count, rows)
        for x in i where !x.isFinite { throw .invalidValue("inputGates holds a non-finite value (\(x))") }
        for x in f where !x.isFinite { throw .invalidValue("forgetGates holds a non-finite value (\(x))") }
    }

    /// log σ(f̃) and ĩ as `[batch·heads][T]`.
    func gates(_ i: [S], _ f: [S], steps: Int, batch: Int) -> (logF: [S], logI: [S]) {
        let rows = batch * heads
        var logF = [S](repeating: 0, count: rows * steps)
        var logI = logF
        for t in 0..<steps {
            for s in 0..<rows {
                logF[s * steps + t] = -Fn.softplus(-f[t * rows + s])
                logI[s * steps + t] = i[t * rows + s]
            }
        }
        return (logF, logI)
    }

    /// Runs the layer. `keepStates` keeps what `backward` needs (chunkwise and quadratic forms).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func forward(
        queries: [S], keys: [S], values: [S], inputGates: [S], forgetGates: [S], steps: Int,
        batch: Int, form: GatedForm = .chunkwise, keepStates: Bool = true, pool: WorkerPool = .shared
    ) throws(LinearRNNError) -> GatedTrace<S> {
        try checkInputs(queries, keys, values, inputGates, forgetGates, steps: steps, batch: batch)
        return try core.forward(
            q: queries, k: keys, v: values, gates: gates(inputGates, forgetGates, steps: steps, batch: batch),
            steps: steps, batch: batch, form: form, keepStates: keepStates, pool: pool)
    }

    /// Gradients of L = Σ_t ⟨G_t, h_t⟩ with respect to q, k, v, ĩ and f̃. `trace` must come from
    /// a chunkwise or quadratic forward with `keepStates: true` on the same inputs.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward(
        queries: [S], keys: [S], values: [S], inputGates: [S], forgetGates: [S], trace: GatedTrace<S>,
        outputGradient: [S], pool: WorkerPool = .shared
    ) throws(LinearRNNError) -> Gradients {
        let steps = trace.steps
        let batch = trace.batch
        try checkInputs(queries, keys, values, inputGates, forgetGates, steps: steps, batch: batch)
        let r = try core.backward(
            q: queries, k: keys, v: values, gates: gates(inputGates, forgetGates, steps: steps, batch: batch),
            trace: trace, outputGradient: outputGradient, pool: pool)
        let rows = batch * heads
        var di = [S](repeating: 0, count: steps * rows)
        var df = di
        for t in 0..<steps {
            for s in 0..<rows {
                di[t * rows + s] = r.dLogI[s * steps + t]
                // d log σ(x) / dx = σ(−x).
                df[t * rows + s] = r.dLogF[s * steps + t] * Fn.sigmoid(-forgetGates[t * rows + s])
            }
        }
        return Gradients(queries: r.dq, keys: r.dk, values: r.dv, inputGates: di, forgetGates: df)
    }
}
