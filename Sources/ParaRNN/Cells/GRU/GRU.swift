import ParallelScan

/// PyTorch's `nn.GRU` cell (gate rows r, z, n), dense recurrent weights: DEER territory.
///
///     r  = σ(W_ir x + b_ir + W_hr h + b_hr)
///     z  = σ(W_iz x + b_iz + W_hz h + b_hz)
///     n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
///     h' = (1 − z) ⊙ n + z ⊙ h
///
///     ∂h'_i/∂h_k = α_i W_hr[i,k] + β_i W_hn[i,k] + γ_i W_hz[i,k] + z_i δ_ik,
///     α = (1−z)(1−n²) r(1−r) (W_hn h + b_hn),  β = (1−z)(1−n²) r,  γ = (h − n) z(1−z)
///
/// State row `[B][d]`; projection `[3][B][d]` (r, z, n) holding W_i· x + b_i·; Jacobian
/// `[B][d][d]`.
public struct GRU<Scalar: CellMath>: KernelCell, DenseRecurrence {
    /// The fused rollout runs any subset of the batch on its own (`DenseRecurrentPack`).
    public var rollsOutEntriesIndependently: Bool { true }
    public let weights: DenseWeights<Scalar>
    public var stateSize: Int { hiddenSize }
    public var gateCount: Int { 3 }
    public var structure: JacobianStructure { .dense }

    /// Creates a GRU from PyTorch's `weight_ih` `[3d][m]`, `weight_hh` `[3d][d]`, `bias_ih`,
    /// `bias_hh` `[3d]` (rows r, z, n).
    public init(
        inputSize m: Int, hiddenSize d: Int, weightIH: [Scalar], weightHH: [Scalar],
        biasIH: [Scalar], biasHH: [Scalar]
    ) throws(CellError) {
        weights = try DenseWeights(
            inputSize: m, hiddenSize: d, gates: 3, weightIH: weightIH, weightHH: weightHH,
            biasIH: biasIH, biasHH: biasHH)
    }

    init(weights: DenseWeights<Scalar>) { self.weights = weights }

    public func with(weights: DenseWeights<Scalar>) -> GRU { GRU(weights: weights) }

    public func step<T: CellNumber>(state h: [T], projection u: [T]) -> [T] where T.Base == Scalar {
        let d = hiddenSize
        func recurrent(_ gate: Int, _ i: Int) -> T {
            var acc = T(recurrentBias[gate * d + i])
            for k in 0..<d { acc = acc + T(recurrentWeights[(gate * d + i) * d + k]) * h[k] }
            return acc
        }
        return (0..<d).map { i in
            let r = T.sigmoid(u[i] + recurrent(0, i))
            let z = T.sigmoid(u[d + i] + recurrent(1, i))
            let n = T.tanh(u[2 * d + i] + r * recurrent(2, i))
            return (T(1) - z) * n + z * h[i]
        }
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
        let lanes = batch * d
        let gd = 3 * d
        let g = UnsafeMutablePointer<Scalar>.allocate(capacity: steps.count * batch * gd)
        defer { g.deallocate() }
        recurrentPreactivations(steps: steps, batch: batch, previous: previous, states: states, into: g)
        recurrentWeights.withUnsafeBufferPointer { w in
            let whr = w.baseAddress!
            let whz = whr + d * d
            let whn = whr + 2 * d * d
            for (offset, t) in steps.enumerated() {
                let prev = t == steps.lowerBound ? previous : states + (t - 1) * lanes
                let u = projections + t * 3 * lanes
                for b in 0..<batch {
                    let gt = g + (offset * batch + b) * gd
                    let h = prev + b * d
                    let out = values + t * lanes + b * d
                    for i in 0..<d {
                        let r = Scalar.sigmoid(u[b * d + i] + gt[i])
                        let z = Scalar.sigmoid(u[lanes + b * d + i] + gt[d + i])
                        let n = Scalar.tanh(u[2 * lanes + b * d + i] + r * gt[2 * d + i])
                        out[i] = (1 - z) * n + z * h[i]
                        guard let jacobians else { continue }
                        let common = (1 - z) * (1 - n * n)
                        let alpha = common * r * (1 - r) * gt[2 * d + i]
                        let beta = common * r
                        let gamma = (h[i] - n) * z * (1 - z)
                        if request == .diagonalOnly {
                            let ii = i * d + i
                            jacobians[t * lanes + b * d + i] = alpha * whr[ii] + beta * whn[ii] + gamma * whz[ii] + z
                        } else {
                            let jr = jacobians + t * lanes * d + (b * d + i) * d
                            let rr = whr + i * d
                            let rz = whz + i * d
                            let rn = whn + i * d
                            for k in 0..<d { jr[k] = alpha * rr[k] + beta * rn[k] + gamma * rz[k] }
                            jr[i] += z
                        }
                    }
                }
            }
        }
    }
}
