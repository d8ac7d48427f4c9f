import ParallelScan

/// PyTorch's `nn.LSTM(proj_size=p)` cell (gate rows i, f, g, o) with a projected hidden state:
///
///     i, f, g, o = σ, σ, tanh, σ of (W_i· x + b_i· + W_h· h + b_h·)     (W_h· is [4d][p])
///     c' = f ⊙ c + i ⊙ g
///     h' = W_hr (o ⊙ tanh(c'))                                           (W_hr is [p][d])
///
/// The recurrent state is (c, h): row `[B][d + p]` (c first, then h), dense Jacobian
/// `[B][d+p][d+p]` (DEER; its diagonal for quasi-Newton). ``hiddenSize`` is the cell size d
/// (the projections' width); the output h has ``projectionSize`` p values. With y = o ⊙ τ,
/// τ = tanh(c'):
///
///     ∂c'/∂c = diag(f)            ∂c'/∂h = diag(c f(1−f)) W_hf + diag(g i(1−i)) W_hi + diag(i(1−g²)) W_hg
///     ∂h'/∂c = W_hr diag(o(1−τ²) f)   ∂h'/∂h = W_hr (diag(o(1−o) τ) W_ho + diag(o(1−τ²)) ∂c'/∂h)
///
///     let cell = try ProjectedLSTM<Float>(inputSize: 3, hiddenSize: 6, projectionSize: 3,
///         weightIH: wih, weightHH: whh, weightHR: whr, biasIH: bih, biasHH: bhh)
public struct ProjectedLSTM<Scalar: CellMath>: KernelCell, DenseRecurrence {
    public static var cellName: String { "lstm" }
    /// W_ih, W_hh `[4d][p]`, b_ih, b_hh; d is the cell size (rows of each gate).
    public private(set) var weights: DenseWeights<Scalar>
    /// p: the size of the output h.
    public let projectionSize: Int
    /// W_hr, `[p][d]`.
    public let projectionWeights: [Scalar]
    public var stateSize: Int { hiddenSize + projectionSize }
    /// No fused rollout: the whole batch steps together.
    public var rollsOutEntriesIndependently: Bool { false }

    /// Creates the cell from PyTorch's `weight_ih` `[4d][m]`, `weight_hh` `[4d][p]`,
    /// `weight_hr` `[p][d]`, `bias_ih`, `bias_hh` `[4d]`.
    public init(
        inputSize m: Int, hiddenSize d: Int, projectionSize p: Int, weightIH: [Scalar],
        weightHH: [Scalar], weightHR: [Scalar], biasIH: [Scalar], biasHH: [Scalar]
    ) throws(CellError) {
        if d <= 0 || m < 0 || p <= 0 {
            throw .invalidShape("hidden size \(d), projection size \(p) and input size \(m) must be positive")
        }
        weights = try DenseWeights(
            inputSize: m, hiddenSize: d, gates: 4, recurrentColumns: p, weightIH: weightIH,
            weightHH: weightHH, biasIH: biasIH, biasHH: biasHH)
        try checkParameter("weight_hr", weightHR, [p, d])
        projectionSize = p
        projectionWeights = weightHR
    }

    public func with(weights: DenseWeights<Scalar>) -> ProjectedLSTM {
        var cell = self
        cell.weights = weights
        return cell
    }

    public func step<T: CellNumber>(state s: [T], projection u: [T]) -> [T] where T.Base == Scalar {
        let d = hiddenSize
        let p = projectionSize
        func pre(_ gate: Int, _ j: Int) -> T {
            var acc = u[gate * d + j] + T(recurrentBias[gate * d + j])
            let w = (gate * d + j) * p
            for k in 0..<p { acc = acc + T(recurrentWeights[w + k]) * s[d + k] }
            return acc
        }
        var next = [T](repeating: T(0), count: d + p)
        var gated = [T](repeating: T(0), count: d)
        for j in 0..<d {
            let (c, o) = LSTM<Scalar>.unitStep({ pre($0, j) }, cell: s[j])
            next[j] = c
            gated[j] = o * T.tanh(c)
        }
        for q in 0..<p {
            var acc = T(0)
            for j in 0..<d { acc = acc + T(projectionWeights[q * d + j]) * gated[j] }
            next[d + q] = acc
        }
        return next
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func linearize(_ arguments: LinearizeArguments<Scalar>) { kernel(arguments) }

    /// The kernel, reached through ``CellMath`` so it runs specialised per precision.
    func kernel(_ arguments: LinearizeArguments<Scalar>) {
        let (steps, batch, previous, states) = (arguments.steps, arguments.batch, arguments.previous, arguments.states)
        let (projections, values, jacobians, request) = (
            arguments.projections, arguments.values, arguments.jacobians, arguments.request
        )
        if steppedInPlace(arguments, kernel) { return }
        let d = hiddenSize
        let p = projectionSize
        let n = d + p
        let lanes = batch * d
        let row = batch * n
        let gd = 4 * d
        // g = W_hh h_{t−1} + b_hh for every step of the range, h the last p values of each entry.
        let g = UnsafeMutablePointer<Scalar>.allocate(capacity: steps.count * batch * gd)
        let scratch = UnsafeMutablePointer<Scalar>.allocate(capacity: 2 * d * p + d)
        defer {
            g.deallocate()
            scratch.deallocate()
        }
        let dcdh = scratch
        let dydh = scratch + d * p
        let y = scratch + 2 * d * p
        for i in 0..<(steps.count * batch) { (g + i * gd).update(from: recurrentBias, count: gd) }
        recurrentWeights.withUnsafeBufferPointer { w in
            Scalar.gemm(
                transposeA: false, transposeB: true, m: batch, n: gd, k: p, alpha: 1,
                a: previous + d, lda: n, b: w.baseAddress!, ldb: p, beta: 1, c: g, ldc: gd)
            if steps.count > 1 {
                Scalar.gemm(
                    transposeA: false, transposeB: true, m: (steps.count - 1) * batch, n: gd, k: p,
                    alpha: 1, a: states + steps.lowerBound * row + d, lda: n, b: w.baseAddress!,
                    ldb: p, beta: 1, c: g + batch * gd, ldc: gd)
            }
        }
        recurrentWeights.withUnsafeBufferPointer { w in
            projectionWeights.withUnsafeBufferPointer { r in
                let whi = w.baseAddress!
                let whf = whi + d * p
                let whg = whi + 2 * d * p
                let who = whi + 3 * d * p
                let whr = r.baseAddress!
                for (offset, t) in steps.enumerated() {
                    let prev = t == steps.lowerBound ? previous : states + (t - 1) * row
                    let u = projections + t * 4 * lanes
                    for b in 0..<batch {
                        let gt = g + (offset * batch + b) * gd
                        let s = prev + b * n
                        let out = values + t * row + b * n
                        let jm = jacobians.map {
                            request == .diagonalOnly ? $0 + t * row + b * n : $0 + t * row * n + b * n * n
                        }
                        for j in 0..<d {
                            let (ig, fg, gg, og, c, tau) = LSTM<Scalar>.unitGates(
                                u + b * d + j, planes: lanes, gt + j, hidden: d, cell: s[j])
                            out[j] = c
                            y[j] = og * tau
                            guard let jm else { continue }
                            let (cf, ci, cg, hc, ho) = LSTM<Scalar>.unitSlopes(ig, fg, gg, og, tau: tau, cell: s[j])
                            for k in 0..<p {
                                let e = j * p + k
                                dcdh[e] = cf * whf[e] + ci * whi[e] + cg * whg[e]
                                dydh[e] = ho * who[e] + hc * dcdh[e]
                            }
                            if request == .diagonalOnly {
                                jm[j] = fg
                            } else {
                                let rowC = jm + j * n
                                for k in 0..<d { rowC[k] = 0 }
                                rowC[j] = fg
                                for k in 0..<p { rowC[d + k] = dcdh[j * p + k] }
                                // ∂h'/∂c, column j: W_hr[q, j] o_j (1 − τ_j²) f_j.
                                for q in 0..<p { jm[(d + q) * n + j] = whr[q * d + j] * hc * fg }
                            }
                        }
                        for q in 0..<p {
                            var acc: Scalar = 0
                            for j in 0..<d { acc += whr[q * d + j] * y[j] }
                            out[d + q] = acc
                        }
                        guard let jm else { continue }
                        if request == .diagonalOnly {
                            for q in 0..<p {
                                var acc: Scalar = 0
                                for j in 0..<d { acc += whr[q * d + j] * dydh[j * p + q] }
                                jm[d + q] = acc
                            }
                        } else {
                            for q in 0..<p {
                                let rowH = jm + (d + q) * n + d
                                for k in 0..<p { rowH[k] = 0 }
                                for j in 0..<d {
                                    let weight = whr[q * d + j]
                                    for k in 0..<p { rowH[k] += weight * dydh[j * p + k] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The projected h of one state row: `[B][p]` (the last p values of each entry).
    public func hidden(ofStateRow row: UnsafePointer<Scalar>, batch: Int, into h: UnsafeMutablePointer<Scalar>) {
        let n = stateSize
        let p = projectionSize
        for b in 0..<batch { (h + b * p).update(from: row + b * n + (n - p), count: p) }
    }

    public func hiddenOutputs(
        ofStates states: UnsafePointer<Scalar>, steps: Int, batch: Int, into h: UnsafeMutablePointer<Scalar>
    ) {
        let (row, width) = (batch * stateSize, batch * projectionSize)
        for t in 0..<steps { hidden(ofStateRow: states + t * row, batch: batch, into: h + t * width) }
    }
}
