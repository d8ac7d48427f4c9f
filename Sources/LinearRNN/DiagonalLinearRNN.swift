import ParallelScan

/// A diagonal real linear RNN, evaluated by a parallel scan over time.
///
/// For every sequence in the batch, with input x_t ∈ ℝᵐ, state h_t ∈ ℝⁿ, output y_t ∈ ℝᵖ:
///
///     h_t = a ⊙ h_{t−1} + B x_t,   h_{−1} = 0
///     y_t = C h_t + D x_t
///
/// with a ∈ ℝⁿ (one decay per state channel, |a_j| ≤ 1 for a stable layer), B ∈ ℝⁿˣᵐ,
/// C ∈ ℝᵖˣⁿ, D ∈ ℝᵖˣᵐ, all row-major. Layouts are time-major: `x` is `[T][batch][m]`, the output
/// `[T][batch][p]`, the stored states `[T][batch][n]`.
///
/// The forward pass is one fused chunked scan (``FusedDiagonalScan``): B x_t is formed inside
/// the chunks and y_t is formed as soon as h_t is known. The backward pass runs the adjoint as a
/// reverse scan, λ_t = Cᵀ g_t + a ⊙ λ_{t+1} (λ_T = 0), with g_t = ∂L/∂y_t, then
///
///     ∂L/∂x_t = Bᵀ λ_t + Dᵀ g_t,   ∂L/∂a = Σ_t λ_t ⊙ h_{t−1},   ∂L/∂B = Σ_t λ_t x_tᵀ,
///     ∂L/∂C = Σ_t g_t h_tᵀ,        ∂L/∂D = Σ_t g_t x_tᵀ.
public struct DiagonalLinearRNN<S: ScanScalar>: Sendable {
    /// m, n, p.
    public let inputSize: Int, stateSize: Int, outputSize: Int
    /// `[n]` decays.
    public var a: [S]
    /// `[n][m]` input matrix.
    public var b: [S]
    /// `[p][n]` output matrix.
    public var c: [S]
    /// `[p][m]` feed-through matrix.
    public var d: [S]

    /// Creates the layer; `d` defaults to zeros.
    /// - Throws: ``LinearRNNError`` when a size is below 1 or an array has the wrong length.
    public init(
        inputSize m: Int, stateSize n: Int, outputSize p: Int, a: [S], b: [S], c: [S],
        d: [S]? = nil
    ) throws(LinearRNNError) {
        try checkPositive("inputSize", m)
        try checkPositive("stateSize", n)
        try checkPositive("outputSize", p)
        try check("a", a.count, n)
        try check("b", b.count, n * m)
        try check("c", c.count, p * n)
        let d = d ?? [S](repeating: 0, count: p * m)
        try check("d", d.count, p * m)
        inputSize = m
        stateSize = n
        outputSize = p
        self.a = a
        self.b = b
        self.c = c
        self.d = d
    }

    /// Gradients of a scalar loss L = Σ_t ⟨G_t, y_t⟩.
    public struct Gradients: Sendable {
        /// ∂L/∂x, `[T][batch][m]`.
        public var input: [S]
        /// ∂L/∂a `[n]`, ∂L/∂B `[n][m]`, ∂L/∂C `[p][n]`, ∂L/∂D `[p][m]`.
        public var a: [S], b: [S], c: [S], d: [S]
    }

    /// Runs the layer. `x` is `[T][batch][m]`; returns the output `[T][batch][p]` and, with
    /// `keepStates`, the states `[T][batch][n]` for ``backward(_:trace:outputGradient:pool:)``.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func forward(
        _ x: [S], steps: Int, batch: Int, keepStates: Bool = true, pool: WorkerPool = .shared
    ) throws(LinearRNNError) -> LinearRNNTrace<S> {
        try checkSequence(steps: steps, batch: batch)
        let m = inputSize, n = stateSize, p = outputSize
        try check("x", x.count, steps * batch * m)
        let A = Copied(a), B = Copied(b), C = Copied(c), D = Copied(d)
        defer { A.free(); B.free(); C.free(); D.free() }
        let lanes = batch * n
        var states: [S] = []
        let output: [S] = makeArray(steps * batch * p) { yp in
            let y = Shared(yp)
            let statesPtr = keepStates ? UnsafeMutablePointer<S>.allocate(capacity: steps * lanes) : nil
            x.withUnsafeBufferPointer { xb in
                let x = xb.baseAddress!
                let scan = forwardScan(steps: steps, batch: batch, keepStates: keepStates, pool: pool)
                scan.run(
                    coefficients: { t, at, bt, _ in
                        for s in 0..<batch {
                            let xs = x + (t * batch + s) * m
                            let ar = at + s * n, br = bt + s * n
                            for j in 0..<n {
                                ar[j] = A.p[j]
                                let row = B.p + j * m
                                var acc: S = 0
                                for k in 0..<m { acc += row[k] * xs[k] }
                                br[j] = acc
                            }
                        }
                    },
                    emit: { t, h, _ in
                        if let statesPtr { (statesPtr + t * lanes).initialize(from: h, count: lanes) }
                        for s in 0..<batch {
                            let xs = x + (t * batch + s) * m, hs = h + s * n
                            let ys = y.p + (t * batch + s) * p
                            for i in 0..<p {
                                let crow = C.p + i * n, drow = D.p + i * m
                                var acc: S = 0
                                for j in 0..<n { acc += crow[j] * hs[j] }
                                for k in 0..<m { acc += drow[k] * xs[k] }
                                ys[i] = acc
                            }
                        }
                    })
            }
            if let statesPtr {
                states = Array(UnsafeBufferPointer(start: statesPtr, count: steps * lanes))
                statesPtr.deinitialize(count: steps * lanes)
                statesPtr.deallocate()
            }
        }
        return LinearRNNTrace(steps: steps, batch: batch, output: output, states: states)
    }

    /// The fused scan of ``forward(_:steps:batch:keepStates:pool:)``: coefficients computed in
    /// the chunks from x (n·m operations per lane row), outputs formed as states are emitted.
    func forwardScan(steps: Int, batch: Int, keepStates: Bool, pool: WorkerPool) -> FusedDiagonalScan<S> {
        let (m, n, p) = (inputSize, stateSize, outputSize)
        return FusedDiagonalScan<S>(
            steps: steps, lanes: batch * n, complex: false, reverse: false, pool: pool,
            workPerStep: batch * (n * m + p * n + p * m),
            reduceCost: Double(n * m + 2 * n) / Double(n * m + n + p * n + p * m),
            bytesPerStep: (batch * (m + p) + (keepStates ? 2 * batch * n : 0)) * MemoryLayout<S>.stride)
    }

    /// The number of workers ``forward(_:steps:batch:keepStates:pool:)`` uses on `pool` (1: the
    /// plain loop), as chosen by ParallelScan's `WorkerCount` model.
    public func forwardWorkers(steps: Int, batch: Int, keepStates: Bool = true, pool: WorkerPool) -> Int {
        forwardScan(steps: steps, batch: batch, keepStates: keepStates, pool: pool).workers
    }

    /// Gradients of L = Σ_t ⟨G_t, y_t⟩ for `outputGradient` G `[T][batch][p]`, from the inputs
    /// and the trace of a forward pass run with `keepStates: true` (equations in the type's
    /// documentation).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward(
        _ x: [S], trace: LinearRNNTrace<S>, outputGradient g: [S], pool: WorkerPool = .shared
    ) throws(LinearRNNError) -> Gradients {
        let steps = trace.steps, batch = trace.batch
        try checkSequence(steps: steps, batch: batch)
        let m = inputSize, n = stateSize, p = outputSize, lanes = batch * n
        try check("x", x.count, steps * batch * m)
        try check("outputGradient", g.count, steps * batch * p)
        try check("trace.states", trace.states.count, steps * lanes)
        let A = Copied(a), B = Copied(b), C = Copied(c), D = Copied(d)
        defer { A.free(); B.free(); C.free(); D.free() }
        let adjoint = Copied<S>(zeros: steps * lanes)
        defer { adjoint.free() }
        g.withUnsafeBufferPointer { gb in
            let g = gb.baseAddress!
            // λ_t = Cᵀ g_t + a ⊙ λ_{t+1}: a reverse scan with constant coefficients.
            FusedDiagonalScan<S>(
                steps: steps, lanes: lanes, complex: false, reverse: true, pool: pool,
                workPerStep: batch * p * n
            ).run(
                coefficients: { t, at, bt, _ in
                    for s in 0..<batch {
                        let gs = g + (t * batch + s) * p
                        for j in 0..<n {
                            at[s * n + j] = A.p[j]
                            var acc: S = 0
                            for i in 0..<p { acc += C.p[i * n + j] * gs[i] }
                            bt[s * n + j] = acc
                        }
                    }
                },
                emit: { t, h, _ in (adjoint.p + t * lanes).update(from: h, count: lanes) })
        }
        let sizes = (a: n, b: n * m, c: p * n, d: p * m)
        let total = sizes.a + sizes.b + sizes.c + sizes.d
        let chunks = chunkCount(
            steps: steps, workPerStep: batch * total,
            bytesPerStep: batch * (2 * m + p + 3 * n) * MemoryLayout<S>.stride, pool: pool)
        let acc = Accumulators<S>(chunks: chunks, size: total)
        defer { acc.free() }
        let input: [S] = makeArray(steps * batch * m) { dxp in
            let dx = Shared(dxp)
            x.withUnsafeBufferPointer { xb in
                g.withUnsafeBufferPointer { gb in
                    trace.states.withUnsafeBufferPointer { hb in
                        let x = xb.baseAddress!, g = gb.baseAddress!, h = hb.baseAddress!
                        forEachTimeChunk(steps: steps, chunks: chunks, pool: pool) { chunk, range in
                            let ga = acc.chunk(chunk), gB = ga + sizes.a
                            let gC = gB + sizes.b, gD = gC + sizes.c
                            for t in range {
                                for s in 0..<batch {
                                    let row = t * batch + s
                                    let xs = x + row * m, gs = g + row * p
                                    let lam = adjoint.p + row * n, hs = h + row * n
                                    let dxs = dx.p + row * m
                                    if t > 0 {
                                        let hp = h + ((t - 1) * batch + s) * n
                                        for j in 0..<n { ga[j] += lam[j] * hp[j] }
                                    }
                                    for j in 0..<n {
                                        let l = lam[j]
                                        for k in 0..<m {
                                            gB[j * m + k] += l * xs[k]
                                            dxs[k] += B.p[j * m + k] * l
                                        }
                                    }
                                    for i in 0..<p {
                                        let gi = gs[i]
                                        for j in 0..<n { gC[i * n + j] += gi * hs[j] }
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
        var offset = 0
        func take(_ count: Int) -> [S] {
            defer { offset += count }
            return Array(sum[offset..<(offset + count)])
        }
        return Gradients(input: input, a: take(sizes.a), b: take(sizes.b), c: take(sizes.c), d: take(sizes.d))
    }
}
