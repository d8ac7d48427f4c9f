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
    /// - Parameters:
    ///   - input: x, `[T][d]`.
    ///   - stateSize: d.
    /// - Returns: y, `[T][d]`.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func propagate(input: [S], stateSize d: Int, pool: WorkerPool = .shared)
        throws(PLSTMError) -> [S]
    {
        try check()
        if d < 1 { throw .invalidStateSize(d) }
        let n = steps
        try checkCount("input", input.count, n * d)
        var a = [S](repeating: 0, count: n * d)
        var b = [S](repeating: 0, count: n * d)
        for t in 0..<n {
            for l in 0..<d {
                a[t * d + l] = transition[t]
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
                let prev: S = t > 0 ? c[(t - 1) * d + l] : 0
                y[t * d + l] = direct[t] * input[t * d + l] + mark[t] * prev
            }
        }
        return y
    }
}
