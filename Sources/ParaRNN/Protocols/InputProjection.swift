import ParallelScan

/// The input projections of a cell, u_t = W_ih x_t + b_ih for every step, built once and
/// applied block after block (a streamed rollout projects a cache-sized block of steps at a
/// time, so whatever is prepared per call — transposed weights — is prepared once here).
///
/// `inputs` are `[T][B][m]`, projections `[T][G][B][d]` (gate-major within a step). Two kernels:
/// - **few inputs** (m ≤ ``maximumDirectInputs``: audio, sensor channels): a direct kernel over
///   W transposed to `[m][G·d]`, each output
///   u = b + x₀·w₀ + x₁·w₁ + … (fused multiply-adds, in input order) in SIMD8 registers, the m
///   input values broadcast once per row. For one sequence a projection row `[G][1][d]` is
///   contiguous over the gates, so one pass covers all G·d outputs. The sum of each output is
///   the same in every tiling, so a batch entry's projections do not depend on the batch;
/// - **many inputs**: the bias copied per row, then one BLAS GEMM per (gate, batch entry) over
///   the block's rows.
///
/// ```swift
/// let projection = InputProjection(cell)
/// for block in blocks {
///     projection.project(inputs: x + block.lowerBound * batch * m, steps: block.count,
///                        batch: batch, projections: u, pool: pool)
/// }
/// ```
public struct InputProjection<Scalar: ScanScalar>: Sendable {
    /// The most inputs the direct kernel takes; more go through BLAS.
    public static var maximumDirectInputs: Int { 8 }

    let gates: Int
    let inputs: Int
    let hidden: Int
    /// W_ih as stored by the cell, `[G·d][m]`.
    let weights: [Scalar]
    /// b_ih, `[G·d]`.
    let bias: [Scalar]
    /// W_ih transposed to `[m][G·d]` for the direct kernel; empty for the BLAS path.
    let inputMajor: [Scalar]

    public init<C: RecurrentCell>(_ cell: C) where C.Scalar == Scalar {
        self.init(
            gates: cell.gateCount, inputs: cell.inputSize, hidden: cell.hiddenSize, weights: cell.inputWeights,
            bias: cell.inputBias)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    init(gates: Int, inputs m: Int, hidden: Int, weights: [Scalar], bias: [Scalar]) {
        (self.gates, self.inputs, self.hidden) = (gates, m, hidden)
        (self.weights, self.bias) = (weights, bias)
        let n = gates * hidden
        if m >= 1 && m <= Self.maximumDirectInputs {
            var transposed = uninitializedArray(Scalar.self, count: m * n)
            weights.withUnsafeBufferPointer { w in
                transposed.withUnsafeMutableBufferPointer { t in
                    for o in 0..<n {
                        for i in 0..<m { t[i * n + o] = w[o * m + i] }
                    }
                }
            }
            inputMajor = transposed
        } else {
            inputMajor = []
        }
    }

    /// Writes the projections of `steps` rows of `inputs` into `projections`, split over the
    /// pool when the block is large (≥ 64 Ki outputs per worker).
    public func project(
        inputs: UnsafePointer<Scalar>, steps: Int, batch: Int,
        projections: UnsafeMutablePointer<Scalar>, pool: WorkerPool
    ) {
        let row = gates * batch * hidden
        let parts = max(1, min(pool.threadCount, steps * row / 65_536))
        let x = UnsafeSendable(inputs)
        let out = UnsafeMutableSendable(projections)
        if parts == 1 {
            project(inputs: inputs, rows: 0..<steps, batch: batch, into: projections)
            return
        }
        pool.forEach(parts) { part in
            let range = ChunkPlan.evenRange(index: part, of: parts, total: steps)
            if range.isEmpty { return }
            project(inputs: x.base, rows: range, batch: batch, into: out.base)
        }
    }

    /// The projections of input rows `rows` (pointers address row 0). Pre-specialised: callers
    /// such as a solver reached through a type-erased layer run generic code.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func project(
        inputs x: UnsafePointer<Scalar>, rows: Range<Int>, batch: Int, into out: UnsafeMutablePointer<Scalar>
    ) {
        let (g, m, d) = (gates, inputs, hidden)
        let row = g * batch * d
        if inputMajor.isEmpty {
            projectByGEMM(inputs: x, rows: rows, batch: batch, into: out)
            return
        }
        inputMajor.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { bias in
                let (w, bias) = (w.baseAddress!, bias.baseAddress!)
                if batch == 1, (1...4).contains(m) {
                    Self.fewInputRows(
                        x: x, inputs: m, weights: w, stride: row, count: row, bias: bias, rows: rows, outStride: row,
                        into: out)
                    return
                }
                if (1...4).contains(m) {
                    // Per step and gate, the batch entries are rows of d outputs, d apart.
                    for t in rows {
                        for v in 0..<g {
                            Self.fewInputRows(
                                x: x + t * batch * m, inputs: m, weights: w + v * d, stride: g * d, count: d,
                                bias: bias + v * d, rows: 0..<batch, outStride: d, into: out + t * row + v * batch * d)
                        }
                    }
                    return
                }
                for t in rows {
                    for b in 0..<batch {
                        let xb = x + (t * batch + b) * m
                        if batch == 1 {
                            Self.directRow(
                                x: xb, inputs: m, weights: w, stride: g * d, count: g * d, bias: bias,
                                into: out + t * row)
                            continue
                        }
                        for v in 0..<g {
                            Self.directRow(
                                x: xb, inputs: m, weights: w + v * d, stride: g * d, count: d, bias: bias + v * d,
                                into: out + t * row + (v * batch + b) * d)
                        }
                    }
                }
            }
        }
    }

    /// out[j] = bias[j] + Σ_i x[i] · w[i·stride + j] for j < count, the sum in input order with
    /// one fused multiply-add per input, in SIMD8, then SIMD4, then scalar lanes (the same sum
    /// for every lane).
    @inline(__always)
    static func directRow(
        x: UnsafePointer<Scalar>, inputs m: Int, weights w: UnsafePointer<Scalar>, stride: Int, count n: Int,
        bias: UnsafePointer<Scalar>, into out: UnsafeMutablePointer<Scalar>
    ) {
        /// out[j ..< j + V.scalarCount], one vector of V.
        @inline(__always)
        func lanes<V: SIMD>(_: V.Type, at j: Int) where V.Scalar == Scalar {
            var acc = UnsafeRawPointer(bias + j).loadUnaligned(as: V.self)
            for i in 0..<m {
                acc = multiplyAdd(
                    V(repeating: x[i]), UnsafeRawPointer(w + i * stride + j).loadUnaligned(as: V.self), acc)
            }
            UnsafeMutableRawPointer(out + j).storeBytes(of: acc, as: V.self)
        }
        var j = vectorLaneGroups(
            n, octet: { lanes(SIMD8<Scalar>.self, at: $0) }, quad: { lanes(SIMD4<Scalar>.self, at: $0) })
        while j < n {
            var acc = bias[j]
            for i in 0..<m { acc = multiplyAdd(x[i], w[i * stride + j], acc) }
            out[j] = acc
            j += 1
        }
    }

    /// ``directRow(x:inputs:m:weights:stride:count:bias:into:)`` over many rows with at most 4
    /// inputs (x row r at x + r·m, its `count` outputs at out + r·outStride, input i's weights at
    /// w + i·stride): each octet (then quad) of outputs keeps its bias and weight columns in
    /// registers and sweeps the rows, instead of reloading them and running the input loop per
    /// row (the per-row bookkeeping made the m = 2, 12-output projection of a ParaGRU d = 4 cost
    /// 9 % of a Newton bench, and the batch-8 projection of a ParaGRU d = 8 training step 13 %
    /// of the step). The rows are a sequence's steps (batch 1), or a step's batch entries for
    /// one gate. Same sums in the same order, so the same values bit for bit.
    @inline(__always)
    static func fewInputRows(
        x: UnsafePointer<Scalar>, inputs m: Int, weights w: UnsafePointer<Scalar>, stride: Int, count n: Int,
        bias: UnsafePointer<Scalar>, rows: Range<Int>, outStride: Int, into out: UnsafeMutablePointer<Scalar>
    ) {
        if rows.isEmpty { return }
        @inline(__always) func sweep<V: SIMD>(_: V.Type, at j: Int) where V.Scalar == Scalar {
            @inline(__always) func load(_ p: UnsafePointer<Scalar>) -> V {
                UnsafeRawPointer(p).loadUnaligned(as: V.self)
            }
            let b = load(bias + j)
            let c0 = load(w + j)
            let c1 = m > 1 ? load(w + stride + j) : V()
            let c2 = m > 2 ? load(w + 2 * stride + j) : V()
            let c3 = m > 3 ? load(w + 3 * stride + j) : V()
            var xp = x + rows.lowerBound * m
            var op = UnsafeMutableRawPointer(out + rows.lowerBound * outStride + j)
            let rowBytes = outStride * MemoryLayout<Scalar>.stride
            // The rows for a literal input count k ≤ 4 (folded once inlined): the accumulator
            // starts at the bias and adds x_i · c_i in input order, as the scalar tail below.
            @inline(__always) func rowsOf(_ k: Int) {
                for _ in rows {
                    var a = b
                    if k > 0 { a = multiplyAdd(V(repeating: xp[0]), c0, a) }
                    if k > 1 { a = multiplyAdd(V(repeating: xp[1]), c1, a) }
                    if k > 2 { a = multiplyAdd(V(repeating: xp[2]), c2, a) }
                    if k > 3 { a = multiplyAdd(V(repeating: xp[3]), c3, a) }
                    op.storeBytes(of: a, as: V.self)
                    xp += k
                    op += rowBytes
                }
            }
            switch m {
            case 0: rowsOf(0)
            case 1: rowsOf(1)
            case 2: rowsOf(2)
            case 3: rowsOf(3)
            default: rowsOf(4)
            }
        }
        let j = vectorLaneGroups(
            n, octet: { sweep(SIMD8<Scalar>.self, at: $0) }, quad: { sweep(SIMD4<Scalar>.self, at: $0) })
        if j < n {
            for t in rows {
                let xt = x + t * m
                for k in j..<n {
                    var acc = bias[k]
                    for i in 0..<m { acc = multiplyAdd(xt[i], w[i * stride + k], acc) }
                    out[t * outStride + k] = acc
                }
            }
        }
    }

    /// The BLAS path: bias rows, then C[t][j] += Σ_i X[t][b][i] · W[v·d + j][i] per (gate v,
    /// entry b) over the rows.
    func projectByGEMM(
        inputs x: UnsafePointer<Scalar>, rows: Range<Int>, batch: Int, into out: UnsafeMutablePointer<Scalar>
    ) {
        let (g, m, d) = (gates, inputs, hidden)
        let row = g * batch * d
        bias.withUnsafeBufferPointer { bias in
            for t in rows {
                for v in 0..<g {
                    for b in 0..<batch {
                        copyScalars(out + t * row + (v * batch + b) * d, bias.baseAddress! + v * d, count: d)
                    }
                }
            }
        }
        if m == 0 || rows.isEmpty { return }
        weights.withUnsafeBufferPointer { w in
            for v in 0..<g {
                for b in 0..<batch {
                    Scalar.gemm(
                        transposeA: false, transposeB: true, m: rows.count, n: d, k: m,
                        alpha: 1, a: x + (rows.lowerBound * batch + b) * m,
                        lda: batch * m, b: w.baseAddress! + v * d * m, ldb: m, beta: 1,
                        c: out + rows.lowerBound * row + (v * batch + b) * d,
                        ldc: row)
                }
            }
        }
    }
}

/// Covers the lanes 0..<n with vectors: `octet(j)` for j..<j + 8 while 8 lanes remain, then
/// `quad(j)` for j..<j + 4 if 4 remain; returns where the scalar tail (< 4 lanes) starts.
///
///     let tail = vectorLaneGroups(n, octet: { row(SIMD8<Float>.self, at: $0) }, quad: { row(SIMD4<Float>.self, at: $0) })
///     for j in tail..<n { … }
@inline(__always)
func vectorLaneGroups(_ n: Int, octet: (Int) -> Void, quad: (Int) -> Void) -> Int {
    var j = 0
    while j + 8 <= n {
        octet(j)
        j += 8
    }
    if j + 4 <= n {
        quad(j)
        j += 4
    }
    return j
}
