import ParallelScan

/// pLSTM on a 1D sequence (the chain 0 → 1 → … → T−1): a linear RNN.
///
/// Edge t = (t → t+1) carries the state c_t ∈ ℝ^d. With per-step scalar gates
///
///     c_t = T_t · c_{t−1} + S_t · x_t        (c_{−1} = 0)
///     y_t = D_t · x_t + M_t · c_{t−1}
///
/// i.e. the DAG propagation on ``DAG/chain(_:)`` with source[t] = S_t, the transition slot of
/// node t = T_t, mark[t−1] = M_t and direct[t] = D_t (``dagGates()``). `transition[0]` and
/// `mark[0]` are unused (node 0 has no incoming edge); so is `source[T−1]`.
public struct SequenceGates<S: ScanScalar>: Sendable, Equatable {
    /// S_t.
    public var source: [S]
    /// T_t.
    public var transition: [S]
    /// M_t.
    public var mark: [S]
    /// D_t.
    public var direct: [S]
    /// The sequence length T.
    public var steps: Int { direct.count }

    /// Creates gates for `source.count` steps; all four arrays must have the same length.
    public init(source: [S], transition: [S], mark: [S], direct: [S]) {
        self.source = source
        self.transition = transition
        self.mark = mark
        self.direct = direct
    }

    func check() throws(PLSTMError) {
        let n = direct.count
        if n < 1 { throw .invalidSize("a sequence needs at least one step") }
        try checkCount("source", source.count, n)
        try checkCount("transition", transition.count, n)
        try checkCount("mark", mark.count, n)
    }

    /// The same gates laid out for ``DAG/chain(_:)``.
    public func dagGates() throws(PLSTMError) -> DAGGates<S> {
        try check()
        let n = steps
        return DAGGates(
            source: Array(source[0..<(n - 1)]),
            transition: n > 2 ? Array(transition[1..<(n - 1)]) : [],
            mark: Array(mark[1..<n]), direct: direct)
    }

    /// pLSTM over the sequence via the parallel diagonal affine scan
    /// (`AffineScan.diagonal` with a_t = T_t on every lane and b_t = S_t x_t).
    ///
    /// With `boundaries`, the T steps hold several sequences end to end, each from c = 0: at a
    /// sequence start s the scan resets (a_s = 0, so c_s = S_s x_s) and the mark term reads
    /// c_{s−1} = 0 — y is that of separate propagations, gate values at a start's transition
    /// slot (T_s, M_s) being unused as at step 0.
    ///
    /// - Parameters:
    ///   - input: x, `[T][d]`.
    ///   - stateSize: d.
    ///   - boundaries: packed sequences (nil: one), with T steps in all.
    /// - Returns: y, `[T][d]`.
    ///
    /// ```swift
    /// let y = try gates.propagate(input: x, stateSize: d,
    ///                             boundaries: try SequenceBoundaries(lengths: [300, 1, 44]))
    /// ```
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func propagate(
        input: [S], stateSize d: Int, boundaries: SequenceBoundaries? = nil, pool: WorkerPool = .shared
    )
        throws(PLSTMError) -> [S]
    {
        try check()
        if d < 1 { throw .invalidStateSize(d) }
        let n = steps
        try checkCount("input", input.count, n * d)
        if let boundaries, boundaries.steps != n {
            throw .invalidSize("boundaries cover \(boundaries.steps) steps, the gates \(n)")
        }
        // Steps whose predecessor state is zero: 0 and every sequence start.
        var restarts = [Bool](repeating: false, count: n)
        restarts[0] = true
        for start in boundaries?.starts ?? [] { restarts[start] = true }
        var a = [S](repeating: 0, count: n * d)
        var b = [S](repeating: 0, count: n * d)
        for t in 0..<n {
            for l in 0..<d {
                a[t * d + l] = restarts[t] ? 0 : transition[t]
                b[t * d + l] = source[t] * input[t * d + l]
            }
        }
        let c: [S]
        do {
            c = try AffineScan.diagonal(a: a, b: b, steps: n, lanes: d, pool: pool)
        } catch {
            throw .invalidSize("scan refused its input: \(error)")
        }
        var y = [S](repeating: 0, count: n * d)
        for t in 0..<n {
            for l in 0..<d {
                let prev: S = restarts[t] ? 0 : c[(t - 1) * d + l]
                y[t * d + l] = direct[t] * input[t * d + l] + mark[t] * prev
            }
        }
        return y
    }
}
