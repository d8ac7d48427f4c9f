import ParallelScan

/// PyTorch's `nn.LSTM` cell (gate rows i, f, g, o), dense recurrent weights.
///
///     i, f, g, o = σ, σ, tanh, σ of (W_i· x + b_i· + W_h· h + b_h·)
///     c' = f ⊙ c + i ⊙ g
///     h' = o ⊙ tanh(c')
///
/// State (c, h) per sequence: row `[B][2d]` (c first, then h); Jacobian `[B][2d][2d]`:
///
///     ∂c'/∂c = diag(f)                 ∂c'/∂h = diag(c f(1−f)) W_hf + diag(g i(1−i)) W_hi + diag(i(1−g²)) W_hg
///     ∂h'/∂c = diag(o(1−τ²) f)         ∂h'/∂h = diag(o(1−o) τ) W_ho + diag(o(1−τ²)) ∂c'/∂h,   τ = tanh(c')
public struct LSTM<Scalar: CellMath>: KernelCell, DenseRecurrence {
    /// The fused rollout runs any subset of the batch on its own (`DenseRecurrentPack`).
    public var rollsOutEntriesIndependently: Bool { true }
    public let weights: DenseWeights<Scalar>
    public var stateSize: Int { 2 * hiddenSize }
    public var gateCount: Int { 4 }
    public var structure: JacobianStructure { .dense }

    /// Creates an LSTM from PyTorch's `weight_ih` `[4d][m]`, `weight_hh` `[4d][d]`, `bias_ih`,
    /// `bias_hh` `[4d]` (rows i, f, g, o).
    public init(
        inputSize m: Int, hiddenSize d: Int, weightIH: [Scalar], weightHH: [Scalar],
        biasIH: [Scalar], biasHH: [Scalar]
    ) throws(CellError) {
        weights = try DenseWeights(
            inputSize: m, hiddenSize: d, gates: 4, weightIH: weightIH, weightHH: weightHH,
            biasIH: biasIH, biasHH: biasHH)
    }

    init(weights: DenseWeights<Scalar>) { self.weights = weights }

    public func with(weights: DenseWeights<Scalar>) -> LSTM { LSTM(weights: weights) }

    public func step<T: CellNumber>(state s: [T], projection u: [T]) -> [T] where T.Base == Scalar {
        let d = hiddenSize
        func pre(_ gate: Int, _ j: Int) -> T {
            var acc = u[gate * d + j] + T(recurrentBias[gate * d + j])
            for k in 0..<d { acc = acc + T(recurrentWeights[(gate * d + j) * d + k]) * s[d + k] }
            return acc
        }
        var next = [T](repeating: T(0), count: 2 * d)
        for j in 0..<d {
            let i = T.sigmoid(pre(0, j))
            let f = T.sigmoid(pre(1, j))
            let g = T.tanh(pre(2, j))
            let o = T.sigmoid(pre(3, j))
            let c = f * s[j] + i * g
            next[j] = c
            next[d + j] = o * T.tanh(c)
        }
        return next
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func linearize(_ arguments: LinearizeArguments<Scalar>) { kernel(arguments) }

    /// The vectorised kernel, reached through ``CellMath`` so it runs specialised per precision.
    func kernel(_ arguments: LinearizeArguments<Scalar>) {
        let (steps, batch, previous, states) = (arguments.steps, arguments.batch, arguments.previous, arguments.states)
        let (projections, values, jacobians, request) = (
            arguments.projections, arguments.values, arguments.jacobians, arguments.request
        )
        if arguments.inPlace {
            fusedRollout(DenseRolloutBuffers(arguments), entries: arguments.batchEntries ?? 0..<arguments.batch)
            return
        }
        let d = hiddenSize
        let n = 2 * d
        let lanes = batch * d
        let row = batch * n
        let gd = 4 * d
        let g = UnsafeMutablePointer<Scalar>.allocate(capacity: steps.count * batch * gd)
        defer { g.deallocate() }
        recurrentPreactivations(steps: steps, batch: batch, previous: previous, states: states, into: g)
        recurrentWeights.withUnsafeBufferPointer { w in
            let whi = w.baseAddress!
            let whf = whi + d * d
            let whg = whi + 2 * d * d
            let who = whi + 3 * d * d
            for (offset, t) in steps.enumerated() {
                let prev = t == steps.lowerBound ? previous : states + (t - 1) * row
                let u = projections + t * 4 * lanes
                for b in 0..<batch {
                    let gt = g + (offset * batch + b) * gd
                    let s = prev + b * n
                    let out = values + t * row + b * n
                    for j in 0..<d {
                        let ig = Scalar.sigmoid(u[b * d + j] + gt[j])
                        let fg = Scalar.sigmoid(u[lanes + b * d + j] + gt[d + j])
                        let gg = Scalar.tanh(u[2 * lanes + b * d + j] + gt[2 * d + j])
                        let og = Scalar.sigmoid(u[3 * lanes + b * d + j] + gt[3 * d + j])
                        let c = fg * s[j] + ig * gg
                        let tau = Scalar.tanh(c)
                        out[j] = c
                        out[d + j] = og * tau
                        guard let jacobians else { continue }
                        let cf = s[j] * fg * (1 - fg)
                        let ci = gg * ig * (1 - ig)
                        let cg = ig * (1 - gg * gg)
                        let hc = og * (1 - tau * tau)
                        let ho = og * (1 - og) * tau
                        if request == .diagonalOnly {
                            let jj = j * d + j
                            let dcdh = cf * whf[jj] + ci * whi[jj] + cg * whg[jj]
                            jacobians[t * row + b * n + j] = fg
                            jacobians[t * row + b * n + d + j] = ho * who[jj] + hc * dcdh
                        } else {
                            let jm = jacobians + t * row * n + b * n * n
                            let rowC = jm + j * n
                            let rowH = jm + (d + j) * n
                            for k in 0..<d {
                                rowC[k] = 0
                                rowH[k] = 0
                                let dcdh = cf * whf[j * d + k] + ci * whi[j * d + k] + cg * whg[j * d + k]
                                rowC[d + k] = dcdh
                                rowH[d + k] = ho * who[j * d + k] + hc * dcdh
                            }
                            rowC[j] = fg
                            rowH[j] = hc * fg
                        }
                    }
                }
            }
        }
    }
}
