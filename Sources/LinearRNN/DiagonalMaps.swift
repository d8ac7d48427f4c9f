import ParallelScan

/// The maps a diagonal layer applies around its recurrence — input B, read-out C and
/// feed-through D — copied to raw pointers for the hot loops, with the per-step kernels that
/// ``DiagonalLinearRNN``, ``LRU`` and ``S5`` share.
///
/// Real layers hold B ∈ ℝⁿˣᵐ and C ∈ ℝᵖˣⁿ and keep states `[batch][n]`; complex layers hold
/// B = B_re + i B_im and C = C_re + i C_im and keep states `[2][batch][n]` (a real plane, then
/// an imaginary plane, each `lanes` = batch·n long). Both hold D ∈ ℝᵖˣᵐ. For one sequence of
/// one step, with state h, input x and g = ∂L/∂y:
///
///     v = B x                                            (project)
///     y = Re(C h) + D x                                  (readOut)
///     u = conj(C)ᵀ g                                     (adjointSource: the reverse scan's b_t)
///     ∂C += g conj(h)ᵀ,   ∂D += g xᵀ,   ∂x += Dᵀ g       (accumulateReadOut)
///
/// ```swift
/// let maps = DiagonalMaps(inputSize: m, stateSize: n, outputSize: p, b: bRe, bIm: bIm, c: cRe, cIm: cIm, d: d)
/// defer { maps.free() }
/// maps.readOut(h, lanes: batch * n, batch: batch, x: x + t * batch * m, y: y + t * batch * p)
/// ```
struct DiagonalMaps<S: ScanScalar>: @unchecked Sendable {
    let m: Int, n: Int, p: Int
    /// B (its real part for complex layers) `[n][m]`, and B's imaginary part (complex only).
    let b: UnsafeMutablePointer<S>, bIm: UnsafeMutablePointer<S>?
    /// C (its real part for complex layers) `[p][n]`, and C's imaginary part (complex only).
    let c: UnsafeMutablePointer<S>, cIm: UnsafeMutablePointer<S>?
    /// D `[p][m]`.
    let d: UnsafeMutablePointer<S>
    /// Real maps only: Bᵀ `[m][n]`, Cᵀ `[n][p]` and Dᵀ `[m][p]`, so the per-step products run
    /// along contiguous rows in vectors (``project(_:into:)``, ``readOut(_:lanes:batch:x:y:)``).
    let bT: UnsafeMutablePointer<S>?, cT: UnsafeMutablePointer<S>?, dT: UnsafeMutablePointer<S>?

    /// Copies the maps; `bIm` and `cIm` are given for complex layers only. Release with ``free()``.
    init(inputSize m: Int, stateSize n: Int, outputSize p: Int, b: [S], bIm: [S]?, c: [S], cIm: [S]?, d: [S]) {
        self.m = m
        self.n = n
        self.p = p
        self.b = Copied(b).p
        self.bIm = bIm.map { Copied($0).p }
        self.c = Copied(c).p
        self.cIm = cIm.map { Copied($0).p }
        self.d = Copied(d).p
        if bIm == nil && cIm == nil {
            bT = Self.transposed(b, rows: n, cols: m)
            cT = Self.transposed(c, rows: p, cols: n)
            dT = Self.transposed(d, rows: p, cols: m)
        } else {
            (bT, cT, dT) = (nil, nil, nil)
        }
    }

    func free() {
        [b, c, d].forEach { $0.deallocate() }
        for part in [bIm, cIm, bT, cT, dT] { part?.deallocate() }
    }

    /// A heap copy of the transpose of a row-major `rows`×`cols` matrix.
    static func transposed(_ matrix: [S], rows: Int, cols: Int) -> UnsafeMutablePointer<S> {
        let out = UnsafeMutablePointer<S>.allocate(capacity: max(1, rows * cols))
        for i in 0..<rows { for j in 0..<cols { (out + j * rows + i).initialize(to: matrix[i * cols + j]) } }
        return out
    }

    /// B x for real maps, all n rows: out_j = Σ_k B_jk x_k summed in k order — bitwise
    /// ``project(_:_:)`` row by row — eight (then four) rows at a time along Bᵀ's rows.
    @inline(__always)
    func project(_ x: UnsafePointer<S>, into out: UnsafeMutablePointer<S>) {
        let bT = UnsafePointer(self.bT!)
        Self.transposedProducts(outputs: n, into: out, first: (bT, x, m), then: (bT, x, 0))
    }

    /// Row j of B x for real maps.
    @inline(__always)
    func project(_ j: Int, _ x: UnsafePointer<S>) -> S {
        let row = b + j * m
        var acc: S = 0
        for k in 0..<m { acc += row[k] * x[k] }
        return acc
    }

    /// Row j of B x (real, imaginary part) for complex maps.
    @inline(__always)
    func projectComplex(_ j: Int, _ x: UnsafePointer<S>) -> (re: S, im: S) {
        let br = b + j * m
        let bi = bIm! + j * m
        var vr: S = 0
        var vi: S = 0
        for k in 0..<m {
            vr += br[k] * x[k]
            vi += bi[k] * x[k]
        }
        return (vr, vi)
    }

    /// y_s = Re(C h_s) + D x_s for every sequence s of one step: `h` is the step's state row,
    /// `x` its `[batch][m]` inputs and `y` its `[batch][p]` outputs.
    @inline(__always)
    func readOut(
        _ h: UnsafePointer<S>, lanes: Int, batch: Int, x: UnsafePointer<S>, y: UnsafeMutablePointer<S>
    ) {
        if let cT, let dT {
            for s in 0..<batch { realReadOut(h + s * n, x: x + s * m, y: y + s * p, cT: cT, dT: dT) }
            return
        }
        for s in 0..<batch {
            let xs = x + s * m
            let hr = h + s * n
            let ys = y + s * p
            for i in 0..<p {
                let cr = c + i * n
                let dr = d + i * m
                var acc: S = 0
                if let cIm {
                    let ci = cIm + i * n
                    let hi = hr + lanes
                    for j in 0..<n { acc += cr[j] * hr[j] - ci[j] * hi[j] }
                } else {
                    for j in 0..<n { acc += cr[j] * hr[j] }
                }
                for k in 0..<m { acc += dr[k] * xs[k] }
                ys[i] = acc
            }
        }
    }

    /// y = C h + D x for one real sequence, eight (then four) outputs at a time along Cᵀ's and
    /// Dᵀ's rows; each output sums in ``readOut(_:lanes:batch:x:y:)``'s order (C's terms in j
    /// order, then D's in k order), so the result is bitwise the row-by-row loop's.
    @inline(__always)
    func realReadOut(
        _ h: UnsafePointer<S>, x: UnsafePointer<S>, y: UnsafeMutablePointer<S>, cT: UnsafePointer<S>,
        dT: UnsafePointer<S>
    ) {
        Self.transposedProducts(
            outputs: p, into: y, first: (UnsafePointer(cT), h, n), then: (UnsafePointer(dT), x, m))
    }

    /// y_i = Σ_j M_ij v_j + Σ_k N_ik w_k for i < `outputs`, from the transposed matrices
    /// (`first` = (Mᵀ, v, count of v), `then` = (Nᵀ, w, count of w), rows `outputs` apart): each
    /// output summed from zero, M's terms in j order then N's in k order, eight (then four, then
    /// one) outputs at a time.
    @inline(__always)
    static func transposedProducts(
        outputs: Int, into y: UnsafeMutablePointer<S>, first: (UnsafePointer<S>, UnsafePointer<S>, Int),
        then second: (UnsafePointer<S>, UnsafePointer<S>, Int)
    ) {
        let (mT, v, nv) = first
        let (nT, w, nw) = second
        var i = 0
        /// Outputs i ..< i + V.scalarCount as one vector.
        @inline(__always) func vectorOutputs<V: SIMD>(_: V.Type) where V.Scalar == S {
            var acc = V()
            for j in 0..<nv { acc += loadLanes(mT + j * outputs + i, as: V.self) * V(repeating: v[j]) }
            for k in 0..<nw { acc += loadLanes(nT + k * outputs + i, as: V.self) * V(repeating: w[k]) }
            UnsafeMutableRawPointer(y + i).storeBytes(of: acc, as: V.self)
            i += V.scalarCount
        }
        while i + 8 <= outputs { vectorOutputs(SIMD8<S>.self) }
        if i + 4 <= outputs { vectorOutputs(SIMD4<S>.self) }
        while i < outputs {
            var acc: S = 0
            for j in 0..<nv { acc += mT[j * outputs + i] * v[j] }
            for k in 0..<nw { acc += nT[k * outputs + i] * w[k] }
            y[i] = acc
            i += 1
        }
    }

    /// A forward scan's emit: records step t's state h_t and writes y_t = Re(C h_t) + D x_t
    /// (`x` and `y` are the whole `[T][batch][m]` input and `[T][batch][p]` output).
    @inline(__always)
    func emit(
        _ t: Int, _ h: UnsafePointer<S>, batch: Int, x: UnsafePointer<S>, y: UnsafeMutablePointer<S>,
        record: StateRecorder<S>
    ) {
        record(t, h)
        readOut(h, lanes: batch * n, batch: batch, x: x + t * batch * m, y: y + t * batch * p)
    }

    /// u_s = conj(C)ᵀ g_s for every sequence s of one step, written to lanes s·n + j of `u` (and
    /// of its imaginary plane, `lanes` further on): the source term of the adjoint scan.
    @inline(__always)
    func adjointSource(_ g: UnsafePointer<S>, lanes: Int, batch: Int, into u: UnsafeMutablePointer<S>) {
        for s in 0..<batch {
            let gs = g + s * p
            let us = u + s * n
            for j in 0..<n {
                if let cIm {
                    var ur: S = 0
                    var ui: S = 0
                    for i in 0..<p {
                        ur += c[i * n + j] * gs[i]
                        ui -= cIm[i * n + j] * gs[i]
                    }
                    us[j] = ur
                    us[lanes + j] = ui
                } else {
                    var acc: S = 0
                    for i in 0..<p { acc += c[i * n + j] * gs[i] }
                    us[j] = acc
                }
            }
        }
    }

    /// Elements of the gradients of B, C and D, packed as B (re, im), C (re, im), D.
    var gradientSize: Int { (cIm == nil ? 1 : 2) * (n * m + p * n) + p * m }

    /// Pointers to the gradients of B, C and D in a packed row of ``gradientSize`` elements.
    @inline(__always)
    func gradients(_ base: UnsafeMutablePointer<S>) -> DiagonalMapGradients<S> {
        let parts = cIm == nil ? 1 : 2
        let b = base
        let c = b + parts * n * m
        let d = c + parts * p * n
        return DiagonalMapGradients(
            b: b, bIm: parts == 2 ? b + n * m : nil, c: c, cIm: parts == 2 ? c + p * n : nil, d: d)
    }

    /// The sizes of the packed B, C and D gradients, in ``gradients(_:)``'s order.
    var gradientSizes: [Int] {
        cIm == nil ? [n * m, p * n, p * m] : [n * m, n * m, p * n, p * n, p * m]
    }

    /// ∂C += g_s conj(h_s)ᵀ, ∂D += g_s x_sᵀ and ∂x_s += Dᵀ g_s for one sequence: `h` points at
    /// its (real-plane) state, `x`, `g`, `dx` at its input, output gradient and input gradient.
    @inline(__always)
    func accumulateReadOut(
        g: UnsafePointer<S>, h: UnsafePointer<S>, lanes: Int, x: UnsafePointer<S>,
        dx: UnsafeMutablePointer<S>, into grad: DiagonalMapGradients<S>
    ) {
        for i in 0..<p {
            let gi = g[i]
            let gc = grad.c + i * n
            if let gCIm = grad.cIm {
                let gci = gCIm + i * n
                let hi = h + lanes
                for j in 0..<n {
                    gc[j] += gi * h[j]
                    gci[j] -= gi * hi[j]
                }
            } else {
                for j in 0..<n { gc[j] += gi * h[j] }
            }
            for k in 0..<m {
                grad.d[i * m + k] += gi * x[k]
                dx[k] += d[i * m + k] * gi
            }
        }
    }
}

/// Where the gradients of a ``DiagonalMaps``' B, C and D accumulate (imaginary parts for complex
/// maps only).
struct DiagonalMapGradients<S> {
    let b: UnsafeMutablePointer<S>, bIm: UnsafeMutablePointer<S>?
    let c: UnsafeMutablePointer<S>, cIm: UnsafeMutablePointer<S>?
    let d: UnsafeMutablePointer<S>
}

/// Checks the sizes m, n, p of a diagonal layer and the shapes of its parameters (`[n]`
/// per-state vectors, `[n][m]` B parts, `[p][n]` C parts, in that order); returns D, zeros
/// `[p][m]` when not given.
func checkDiagonalLayer<S: ScanScalar>(
    inputSize m: Int, stateSize n: Int, outputSize p: Int, perState: [(String, [S])],
    b: [(String, [S])], c: [(String, [S])], d: [S]?
) throws(LinearRNNError) -> [S] {
    try checkDiagonalSizes(inputSize: m, stateSize: n, outputSize: p)
    for (name, vector) in perState { try check(name, vector.count, n) }
    for (name, part) in b { try check(name, part.count, n * m) }
    for (name, part) in c { try check(name, part.count, p * n) }
    let d = d ?? [S](repeating: 0, count: p * m)
    try check("d", d.count, p * m)
    return d
}

/// Checks that a diagonal layer's sizes m, n and p are at least 1.
func checkDiagonalSizes(inputSize m: Int, stateSize n: Int, outputSize p: Int) throws(LinearRNNError) {
    try checkPositive("inputSize", m)
    try checkPositive("stateSize", n)
    try checkPositive("outputSize", p)
}

/// Eight scalars from `pointer` as one vector (unaligned).
@inline(__always)
func load8<S: ScanScalar>(_ pointer: UnsafePointer<S>) -> SIMD8<S> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<S>.self)
}

/// `V.scalarCount` scalars from `pointer` as one vector (unaligned).
@inline(__always)
func loadLanes<V: SIMD>(_ pointer: UnsafePointer<V.Scalar>, as _: V.Type) -> V {
    UnsafeRawPointer(pointer).loadUnaligned(as: V.self)
}

/// Stores eight scalars at `pointer` (unaligned).
@inline(__always)
func store8<S: ScanScalar>(_ value: SIMD8<S>, _ pointer: UnsafeMutablePointer<S>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD8<S>.self)
}
