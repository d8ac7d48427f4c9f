extension AffineScan {
    /// Solves the dense recurrence h_t = A_t h_{t∓1} + b_t with a full d×d matrix A_t for every
    /// sequence of a batch (DEER-style Newton steps of classic GRU/LSTM cells).
    ///
    /// Layout (see ``AffineScan``): `a` is `[T][batch][d][d]` with row-major matrices, `b` and
    /// `output` are `[T][batch][d]`. With `transposed: true` A_tᵀ is applied (adjoints).
    /// Combining two steps is a d×d matrix product (BLAS), O(d³) against O(d²) for a sequential
    /// step, so the parallel scan only pays off for small d and many cores; the worker count is
    /// chosen accordingly.
    @inlinable
    public static func dense<S: ScanScalar>(
        a: UnsafeBufferPointer<S>, b: UnsafeBufferPointer<S>, steps: Int, batch: Int,
        dimension d: Int, initial: UnsafeBufferPointer<S>? = nil,
        output: UnsafeMutableBufferPointer<S>, transposed: Bool = false,
        direction: ScanDirection = .forward, pool: WorkerPool = .shared
    ) throws(ScanError) {
        try solve(
            .dense(batch: batch, dimension: d), a: a, b: b, steps: steps, initial: initial, output: output,
            transposed: transposed, direction: direction, pool: pool)
    }

    /// Array convenience for the dense scan; returns `[T][batch][d]`.
    @inlinable
    public static func dense<S: ScanScalar>(
        a: [S], b: [S], steps: Int, batch: Int, dimension d: Int, initial: [S]? = nil,
        transposed: Bool = false, direction: ScanDirection = .forward,
        pool: WorkerPool = .shared
    ) throws(ScanError) -> [S] {
        try solve(
            .dense(batch: batch, dimension: d), a: a, b: b, steps: steps, initial: initial,
            transposed: transposed, direction: direction, pool: pool)
    }

    @inlinable
    static func denseSolve<S: ScanScalar>(
        a: UnsafePointer<S>, b: UnsafePointer<S>, d: Int, batch: Int, range: Range<Int>,
        transposed: Bool, reverse: Bool, carry: UnsafePointer<S>, output: UnsafeMutablePointer<S>
    ) {
        let state = batch * d
        let rowA = state * d
        var previous = carry
        forEachStep(of: range, reverse: reverse) { t in
            let o = output + t * state
            let bt = b + t * state
            let at = a + t * rowA
            if o != UnsafeMutablePointer(mutating: bt) { o.update(from: bt, count: state) }
            for n in 0..<batch {
                denseMultiplyAdd(
                    transposed: transposed, d: d, a: at + n * d * d, x: previous + n * d,
                    y: o + n * d)
            }
            previous = UnsafePointer(o)
        }
    }

    /// Composes a range into (P, Q) per batch entry: P = Â_last ⋯ Â_first (`[batch][d][d]`),
    /// Q = the state reached from zero (`[batch][d]`).
    ///
    /// Small matrices (d ≤ ``smallDenseLimit``, d a multiple of 4) form A·P row by row in whole
    /// vectors (``multiplyRows(transposed:d:a:p:c:)``), bitwise the same as ``denseMultiply``'s
    /// column loop without its per-row aliasing checks and scalar tails; the others go through
    /// ``denseMultiply``.
    @inlinable
    static func denseReduce<S: ScanScalar>(
        a: UnsafePointer<S>, b: UnsafePointer<S>, d: Int, batch: Int, range: Range<Int>,
        transposed: Bool, reverse: Bool, summary: UnsafeMutablePointer<S>,
        scratch: UnsafeMutablePointer<S>
    ) {
        let state = batch * d
        let matrix = batch * d * d
        var p = summary
        var q = summary + matrix
        var np = scratch
        var nq = scratch + matrix
        p.update(repeating: 0, count: matrix)
        for n in 0..<batch { for i in 0..<d { p[n * d * d + i * d + i] = 1 } }
        q.update(repeating: 0, count: state)
        let byRows = d <= smallDenseLimit && d % 4 == 0
        forEachStep(of: range, reverse: reverse) { t in
            let at = a + t * matrix
            let bt = b + t * state
            nq.update(from: bt, count: state)
            for n in 0..<batch {
                if byRows {
                    multiplyRows(
                        transposed: transposed, d: d, a: at + n * d * d, p: p + n * d * d, c: np + n * d * d)
                } else {
                    denseMultiply(
                        transposed: transposed, d: d, a: at + n * d * d, p: p + n * d * d,
                        c: np + n * d * d)
                }
                denseMultiplyAdd(
                    transposed: transposed, d: d, a: at + n * d * d, x: q + n * d, y: nq + n * d)
            }
            swap(&p, &np)
            swap(&q, &nq)
        }
        if p != summary { summary.update(from: p, count: matrix + state) }
    }
}

extension AffineScan {
    /// Largest d for which the dense kernels use their own loops instead of BLAS: a BLAS call
    /// costs about as much as a few hundred multiply-adds, and its internal buffer locks make
    /// concurrent calls from several workers contend.
    public static let smallDenseLimit = 16

    /// y ← y + op(A)·x for a row-major d×d matrix A (op(A) = Aᵀ if `transposed`).
    @inlinable @inline(__always)
    public static func denseMultiplyAdd<S: ScanScalar>(
        transposed: Bool, d: Int, a: UnsafePointer<S>, x: UnsafePointer<S>,
        y: UnsafeMutablePointer<S>
    ) {
        if d > smallDenseLimit {
            S.gemv(transposed: transposed, rows: d, cols: d, alpha: 1, a: a, x: x, beta: 1, y: y)
            return
        }
        if transposed {
            // y += Σ_k x_k·(row k of A): contiguous rows, vectorises.
            for k in 0..<d {
                let xk = x[k]
                let row = a + k * d
                for i in 0..<d { y[i] += row[i] * xk }
            }
        } else {
            for i in 0..<d {
                let row = a + i * d
                var sum: S = 0
                for k in 0..<d { sum += row[k] * x[k] }
                y[i] += sum
            }
        }
    }

    /// C ← op(A)·P for row-major d×d matrices (C must not alias A or P).
    @inlinable @inline(__always)
    public static func denseMultiply<S: ScanScalar>(
        transposed: Bool, d: Int, a: UnsafePointer<S>, p: UnsafePointer<S>,
        c: UnsafeMutablePointer<S>
    ) {
        if d > smallDenseLimit {
            S.gemm(
                transposeA: transposed, m: d, n: d, k: d, alpha: 1, a: a, lda: d, b: p, ldb: d,
                beta: 0, c: c, ldc: d)
            return
        }
        c.update(repeating: 0, count: d * d)
        for i in 0..<d {
            let out = c + i * d
            for k in 0..<d {
                let aik = transposed ? a[k * d + i] : a[i * d + k]
                let row = p + k * d
                for j in 0..<d { out[j] += aik * row[j] }
            }
        }
    }
}
