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
public struct LSTM<Scalar: CellMath>: KernelCell, DenseGateCell {
    /// W_ih `[4d][m]`, W_hh `[4d][d]`, b_ih, b_hh `[4d]`, rows i, f, g, o; the PyTorch-tensor
    /// initialiser comes from ``DenseGateCell``.
    public let weights: DenseWeights<Scalar>
    public var stateSize: Int { 2 * hiddenSize }

    public init(weights: DenseWeights<Scalar>) { self.weights = weights }

    public func step<T: CellNumber>(state s: [T], projection u: [T]) -> [T] where T.Base == Scalar {
        let d = hiddenSize
        func pre(_ gate: Int, _ j: Int) -> T {
            var acc = u[gate * d + j] + T(recurrentBias[gate * d + j])
            for k in 0..<d { acc = acc + T(recurrentWeights[(gate * d + j) * d + k]) * s[d + k] }
            return acc
        }
        var next = [T](repeating: T(0), count: 2 * d)
        for j in 0..<d {
            let (c, o) = Self.unitStep({ pre($0, j) }, cell: s[j])
            next[j] = c
            next[d + j] = o * T.tanh(c)
        }
        return next
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func linearize(_ arguments: LinearizeArguments<Scalar>) {
        let d = hiddenSize
        let n = 2 * d
        let lanes = arguments.batch * d
        let row = arguments.batch * n
        let (jacobians, request) = (arguments.jacobians, arguments.request)
        let lanesOnly = jacobians == nil || request == .diagonalOnly
        withRecurrentWeightsAndDiagonals { whi, diagonals in
            let (whf, whg, who) = (whi + d * d, whi + 2 * d * d, whi + 3 * d * d)
            denseLinearize(arguments, rollout: fusedRollout) { t, b, gt in
                let s =
                    (t == arguments.steps.lowerBound ? arguments.previous : arguments.states + (t - 1) * row) + b * n
                let u = arguments.projections + t * 4 * lanes
                let out = arguments.values + t * row + b * n
                if lanesOnly {
                    // Values and, for quasi-Newton, J's diagonal: lane-wise in SIMD vectors.
                    linearizeLanes(
                        LaneFrame(
                            hidden: d, lanes: lanes, u: u + b * d, g: gt, state: s, out: out,
                            diagonal: jacobians.map { $0 + t * row + b * n }, weightDiagonals: diagonals))
                    return
                }
                for j in 0..<d {
                    let (ig, fg, gg, og, c, tau) = LSTM<Scalar>.unitGates(
                        u + b * d + j, planes: lanes, gt + j, hidden: d, cell: s[j])
                    out[j] = c
                    out[d + j] = og * tau
                    guard let jacobians else { continue }
                    let (cf, ci, cg, hc, ho) = LSTM<Scalar>.unitSlopes(ig, fg, gg, og, tau: tau, cell: s[j])
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

extension LSTM {
    /// One unit of the generic step: c' = f c + i g and the output gate o from the unit's four
    /// pre-activations `pre(gate)` (gates i, f, g, o). ``LSTM`` and ``ProjectedLSTM`` share it.
    static func unitStep<T: CellNumber>(_ pre: (Int) -> T, cell c: T) -> (c: T, o: T) where T.Base == Scalar {
        let i = T.sigmoid(pre(0))
        let f = T.sigmoid(pre(1))
        let g = T.tanh(pre(2))
        let o = T.sigmoid(pre(3))
        return (f * c + i * g, o)
    }

    /// One unit's Jacobian factors: cf = c f(1−f), ci = g i(1−i), cg = i(1−g²) (∂c'/∂h is
    /// cf W_hf + ci W_hi + cg W_hg), hc = o(1−τ²) (∂h'/∂c') and ho = o(1−o)τ (on W_ho).
    @inline(__always)
    static func unitSlopes(
        _ i: Scalar, _ f: Scalar, _ g: Scalar, _ o: Scalar, tau: Scalar, cell c: Scalar
    ) -> (cf: Scalar, ci: Scalar, cg: Scalar, hc: Scalar, ho: Scalar) {
        (c * f * (1 - f), g * i * (1 - i), i * (1 - g * g), o * (1 - tau * tau), o * (1 - o) * tau)
    }

    /// One unit's gates i, f, g, o, new cell state c' = f c + i g and τ = tanh(c'), from its
    /// projections (`u[0]`, `u[planes]`, `u[2·planes]`, `u[3·planes]`), its recurrent
    /// pre-activations (`g[0]`, `g[d]`, `g[2d]`, `g[3d]`) and its cell state c. The Jacobian and
    /// VJP kernels of ``LSTM`` and ``ProjectedLSTM`` share it.
    @inline(__always)
    static func unitGates(
        _ u: UnsafePointer<Scalar>, planes: Int, _ g: UnsafePointer<Scalar>, hidden d: Int, cell c: Scalar
    ) -> (i: Scalar, f: Scalar, g: Scalar, o: Scalar, c: Scalar, tau: Scalar) {
        let i = Scalar.sigmoid(u[0] + g[0])
        let f = Scalar.sigmoid(u[planes] + g[d])
        let candidate = Scalar.tanh(u[2 * planes] + g[2 * d])
        let o = Scalar.sigmoid(u[3 * planes] + g[3 * d])
        let next = f * c + i * candidate
        return (i, f, candidate, o, next, Scalar.tanh(next))
    }
}

extension LSTM: LaneLinearizingCell {
    /// `k` lanes of one step's linearisation without the full Jacobian: c' and h' (the same
    /// operations as ``unitGates(_:planes:_:hidden:cell:)``, lane by lane) and, when `diagonal`
    /// is given, J's diagonal: ∂c'/∂c = f on the c lanes and h_o W_ho[j][j] + h_c ∂c'/∂h on the
    /// h lanes, with ∂c'/∂h = c_f W_hf[j][j] + c_i W_hi[j][j] + c_g W_hg[j][j] (the factors of
    /// ``unitSlopes(_:_:_:_:tau:cell:)``). `u` is at the lane's i projection (gates `lanes`
    /// apart), `g` at its i pre-activation and `weightDiagonals` at its W_hi diagonal (gates
    /// `hidden` apart), `s`, `out` and `diagonal` at its c (h `hidden` later).
    @inline(__always)
    static func linearizedLanes<V: SIMD>(_: V.Type, _ k: Int, _ frame: LaneFrame<Scalar>) where V.Scalar == Scalar {
        let (d, lanes, u, g, s, out, w) = (
            frame.hidden, frame.lanes, frame.u, frame.g, frame.state, frame.out, frame.weightDiagonals
        )
        let one = V(repeating: 1)
        let ig: V = Scalar.sigmoid(loadLanes(u, k, as: V.self) + loadLanes(g, k, as: V.self))
        let fg: V = Scalar.sigmoid(loadLanes(u + lanes, k, as: V.self) + loadLanes(g + d, k, as: V.self))
        let gg: V = Scalar.tanh(loadLanes(u + 2 * lanes, k, as: V.self) + loadLanes(g + 2 * d, k, as: V.self))
        let og: V = Scalar.sigmoid(loadLanes(u + 3 * lanes, k, as: V.self) + loadLanes(g + 3 * d, k, as: V.self))
        let c: V = loadLanes(s, k, as: V.self)
        let next = fg * c + ig * gg
        let tau: V = Scalar.tanh(next)
        storeLanes(next, out, k)
        storeLanes(og * tau, out + d, k)
        guard let diagonal = frame.diagonal else { return }
        let cf = c * fg * (one - fg)
        let ci = gg * ig * (one - ig)
        let cg = ig * (one - gg * gg)
        let hc = og * (one - tau * tau)
        let ho = og * (one - og) * tau
        let wi: V = loadLanes(w, k, as: V.self)
        let wf: V = loadLanes(w + d, k, as: V.self)
        let wg: V = loadLanes(w + 2 * d, k, as: V.self)
        let wo: V = loadLanes(w + 3 * d, k, as: V.self)
        let dcdh = cf * wf + ci * wi + cg * wg
        storeLanes(fg, diagonal, k)
        storeLanes(ho * wo + hc * dcdh, diagonal + d, k)
    }
}
