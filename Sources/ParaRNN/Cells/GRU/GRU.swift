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
public struct GRU<Scalar: CellMath>: KernelCell, DenseGateCell {
    /// W_ih `[3d][m]`, W_hh `[3d][d]`, b_ih, b_hh `[3d]`, rows r, z, n; the PyTorch-tensor
    /// initialiser comes from ``DenseGateCell``.
    public let weights: DenseWeights<Scalar>
    public var stateSize: Int { hiddenSize }

    public init(weights: DenseWeights<Scalar>) { self.weights = weights }

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
    public func linearize(_ arguments: LinearizeArguments<Scalar>) {
        let d = hiddenSize
        let lanes = arguments.batch * d
        let (jacobians, request) = (arguments.jacobians, arguments.request)
        let lanesOnly = jacobians == nil || request == .diagonalOnly
        withRecurrentWeightsAndDiagonals { whr, diagonals in
            let (whz, whn) = (whr + d * d, whr + 2 * d * d)
            denseLinearize(arguments, rollout: fusedRollout) { t, b, gt in
                let prev = t == arguments.steps.lowerBound ? arguments.previous : arguments.states + (t - 1) * lanes
                let h = prev + b * d
                let u = arguments.projections + t * 3 * lanes
                let out = arguments.values + t * lanes + b * d
                if lanesOnly {
                    // Values and, for quasi-Newton, J's diagonal: lane-wise in SIMD vectors.
                    linearizeLanes(
                        LaneFrame(
                            hidden: d, lanes: lanes, u: u + b * d, g: gt, state: h, out: out,
                            diagonal: jacobians.map { $0 + t * lanes + b * d }, weightDiagonals: diagonals))
                    return
                }
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

extension GRU: LaneLinearizingCell {
    /// `k` lanes of one step's linearisation without the full Jacobian: h' (the same operations
    /// as the scalar loop of ``linearize(_:)``, lane by lane) and, when `diagonal` is given,
    /// J's diagonal α W_hr[i][i] + β W_hn[i][i] + γ W_hz[i][i] + z, with
    /// α = (1−z)(1−n²) r(1−r) g_n, β = (1−z)(1−n²) r, γ = (h−n) z(1−z). `u` is at the lane's
    /// r projection (gates `lanes` apart), `g` at its r pre-activation (gates `hidden` apart),
    /// `weightDiagonals` at the lane's W_hr diagonal (W_hz, W_hn `hidden` apart).
    @inline(__always)
    static func linearizedLanes<V: SIMD>(_: V.Type, _ k: Int, _ frame: LaneFrame<Scalar>) where V.Scalar == Scalar {
        let (d, lanes, u, g, h, out, w) = (
            frame.hidden, frame.lanes, frame.u, frame.g, frame.state, frame.out, frame.weightDiagonals
        )
        let one = V(repeating: 1)
        let r: V = Scalar.sigmoid(loadLanes(u, k, as: V.self) + loadLanes(g, k, as: V.self))
        let z: V = Scalar.sigmoid(loadLanes(u + lanes, k, as: V.self) + loadLanes(g + d, k, as: V.self))
        let gn: V = loadLanes(g + 2 * d, k, as: V.self)
        let n: V = Scalar.tanh(loadLanes(u + 2 * lanes, k, as: V.self) + r * gn)
        let previous: V = loadLanes(h, k, as: V.self)
        storeLanes((one - z) * n + z * previous, out, k)
        guard let diagonal = frame.diagonal else { return }
        let common = (one - z) * (one - n * n)
        let alpha = common * r * (one - r) * gn
        let beta = common * r
        let gamma = (previous - n) * z * (one - z)
        let wr: V = loadLanes(w, k, as: V.self)
        let wz: V = loadLanes(w + d, k, as: V.self)
        let wn: V = loadLanes(w + 2 * d, k, as: V.self)
        storeLanes(alpha * wr + beta * wn + gamma * wz + z, diagonal, k)
    }
}
