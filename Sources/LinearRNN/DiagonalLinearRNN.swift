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
        let d = try checkDiagonalLayer(
            inputSize: m, stateSize: n, outputSize: p, perState: [("a", a)], b: [("b", b)], c: [("c", c)], d: d)
        (inputSize, stateSize, outputSize, self.a, self.b, self.c, self.d) = (m, n, p, a, b, c, d)
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
    /// With `boundaries`, T holds several sequences end to end and the state restarts from 0 at
    /// each (a reset in the scan: a = 0 there); the outputs are those of separate passes, and
    /// the trace carries the boundaries to the backward pass.
    ///
    /// ```swift
    /// let trace = try layer.forward(a + b, steps: Ta + Tb, batch: 1,
    ///                               boundaries: try SequenceBoundaries(lengths: [Ta, Tb]))
    /// ```
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
        let A = Copied(a)
        let maps = makeMaps()
        defer {
            A.free()
            maps.free()
        }
        let lanes = batch * n
        return tracedForward(
            steps: steps, batch: batch, outputs: p, stateRow: lanes, keepStates: keepStates, boundaries: boundaries
        ) {
            y, record in
            x.withUnsafeBufferPointer { xb in
                let x = xb.baseAddress!
                var scan = forwardScan(steps: steps, batch: batch, keepStates: keepStates, pool: pool)
                scan.resets = boundaries
                scan.run(
                    coefficients: { t, at, bt, _ in
                        for s in 0..<batch {
                            (at + s * n).update(from: A.p, count: n)
                            maps.project(x + (t * batch + s) * m, into: bt + s * n)
                        }
                    },
                    emit: { t, h, _ in maps.emit(t, h, batch: batch, x: x, y: y, record: record) })
            }
        }
    }

    /// The fused scan of ``forward(_:steps:batch:boundaries:keepStates:pool:)``: coefficients computed in
    /// the chunks from x (n·m operations per lane row), outputs formed as states are emitted.
    func forwardScan(steps: Int, batch: Int, keepStates: Bool, pool: WorkerPool) -> FusedDiagonalScan<S> {
        let (m, n, p) = (inputSize, stateSize, outputSize)
        return FusedDiagonalScan<S>(
            steps: steps, lanes: batch * n, complex: false, reverse: false, pool: pool,
            workPerStep: batch * (n * m + p * n + p * m),
            reduceCost: Double(n * m + 2 * n) / Double(n * m + n + p * n + p * m),
            bytesPerStep: (batch * (m + p) + (keepStates ? 2 * batch * n : 0)) * MemoryLayout<S>.stride)
    }

    /// The number of workers ``forward(_:steps:batch:boundaries:keepStates:pool:)`` uses on `pool` (1: the
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
        let (steps, batch, m, n, p, lanes) = try checkBackward(x, trace: trace, outputGradient: g)
        let A = Copied(a)
        let maps = makeMaps()
        defer {
            A.free()
            maps.free()
        }
        // λ_t = Cᵀ g_t + a ⊙ λ_{t+1}: a reverse scan with constant coefficients.
        let adjoint = maps.adjointStates(
            g, steps: steps, batch: batch, pool: pool, workPerStep: batch * p * n, resets: trace.boundaries
        ) {
            _, at in
            for s in 0..<batch { (at + s * n).update(from: A.p, count: n) }
        }
        defer { adjoint.free() }
        let chunks = chunkCount(
            steps: steps, workPerStep: batch * (n + maps.gradientSize),
            bytesPerStep: batch * (2 * m + p + 3 * n) * MemoryLayout<S>.stride, pool: pool)
        let (input, sum) = maps.accumulateGradients(
            x: x, g: g, states: trace.states, steps: steps, batch: batch, ownSize: n, chunks: chunks, pool: pool,
            resets: trace.boundaries
        ) { st in
            let ga = st.own
            let gB = st.grad.b
            let xs = st.x
            let dxs = st.dx
            let t = st.t
            let lam = adjoint.p + t * lanes + st.s * n
            if !st.restarts {
                let hp = st.states + (t - 1) * lanes + st.s * n
                for j in 0..<n { ga[j] += lam[j] * hp[j] }
            }
            for j in 0..<n {
                let l = lam[j]
                for k in 0..<m {
                    gB[j * m + k] += l * xs[k]
                    dxs[k] += maps.b[j * m + k] * l
                }
            }
        }
        let parts = sum.slices(sizes: [n] + maps.gradientSizes)
        return Gradients(input: input, a: parts[0], b: parts[1], c: parts[2], d: parts[3])
    }
}

extension DiagonalLinearRNN: DiagonalLayer {
    static var isComplex: Bool { false }

    func makeMaps() -> DiagonalMaps<S> {
        DiagonalMaps(
            inputSize: inputSize, stateSize: stateSize, outputSize: outputSize, b: b, bIm: nil, c: c, cIm: nil, d: d)
    }
}
