import ParallelScan

/// The arguments of a fused backward pass (``DifferentiableCell/fusedBackward(_:pool:)``).
/// All pointers address whole-sequence, full-batch buffers.
public struct FusedBackwardArguments<Scalar> {
    /// T.
    public var steps: Int
    /// B.
    public var batch: Int
    /// s_{−1}, one state row.
    public var previous: UnsafePointer<Scalar>
    /// s, `[T][stateRow]` (a solved sequence).
    public var states: UnsafePointer<Scalar>
    /// u = W x + b, `[T][G][B][d]`.
    public var projections: UnsafePointer<Scalar>
    /// ∂L/∂s_t, `[T][stateRow]`.
    public var stateGradients: UnsafePointer<Scalar>
    /// Out: ∂L/∂u_t, `[T][G][B][d]`.
    public var projectionGradients: UnsafeMutablePointer<Scalar>
    /// Out: ∂L/∂θ (zeroed by the caller), laid out by ``DifferentiableCell/recurrentParameterLayout``.
    public var parameterGradients: UnsafeMutablePointer<Scalar>
    /// Out: ∂L/∂s_{−1}, one state row.
    public var initialGradient: UnsafeMutablePointer<Scalar>
    /// g_t = W_hh h_{t−1} + b_hh as the forward rollout recorded them, `[T][B][stride]`
    /// (``LinearizeArguments/recurrentTape``: with d ≥ `stagedGateMinimumUnits` the σ / tanh
    /// gates already applied, GRU r, z and LSTM i, f, g, o), or `nil`: the kernel recomputes them.
    public var recurrentTape: UnsafePointer<Scalar>? = nil
}

/// Per-entry buffers of the fused dense BPTT, and the batch entries a worker owns (made by the
/// driver `DenseAdjointWork.backward` for a ``DenseAdjointCell``'s kernel; opaque
/// outside the package).
public struct DenseAdjointWork<Scalar> {
    let arguments: FusedBackwardArguments<Scalar>
    let entries: Range<Int>
    /// ∂L/∂(W_hh h + b_hh), `[T][B][G·d]` (the weight gradient's left factor).
    let preGradients: UnsafeMutablePointer<Scalar>
}

extension DenseRecurrence where Self: DifferentiableCell {
    /// W_hh re-packed for products with its transpose: W_hhᵀ v = Σ_r v[r] W_hh[r][·] is the
    /// packed product of a `DenseRecurrentPack` built from W_hhᵀ (outputs d, inputs G·d).
    func transposedRecurrencePack() -> DenseRecurrentPack<Scalar> {
        let d = hiddenSize
        let gd = gateCount * d
        var transposed = [Scalar](repeating: 0, count: gd * d)
        for r in 0..<gd {
            for k in 0..<d { transposed[k * gd + r] = recurrentWeights[r * d + k] }
        }
        return DenseRecurrentPack(
            weights: transposed, bias: [Scalar](repeating: 0, count: d), outputs: d, hidden: gd)
    }
}

extension DenseAdjointWork where Scalar: CellMath {
    /// Backpropagation through time for a dense cell, fused (the driver of
    /// ``DenseAdjointCell/fusedBackward(_:pool:)``, specialised per precision; `kernel` is the
    /// cell's): per sequence, backwards in t,
    ///
    ///     λ_t = ∂L/∂s_t + c_t,   c_{t−1} = J_tᵀ λ_t = (direct part) + W_hhᵀ δ_t,
    ///
    /// where δ_t = ∂L/∂(W_hh h_{t−1} + b_hh) comes from the gate derivatives at step t
    /// (recomputed from the stored states, one packed product per step) — no Jacobian is ever
    /// formed, so a step costs two d × G·d products instead of a d² Jacobian and an O(d³)
    /// dense-scan composition. Sequences are split across the pool's workers (each owns its
    /// batch entries); then ∂L/∂W_hh = Σ_t δ_t h_{t−1}ᵀ and ∂L/∂b_hh = Σ_t δ_t by GEMMs over
    /// chunks of t.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func backward(
        _ arguments: FusedBackwardArguments<Scalar>, shape: DenseGradientShape, pool: WorkerPool,
        kernel: @Sendable (DenseAdjointWork<Scalar>) -> Void
    ) {
        let (steps, batch) = (arguments.steps, arguments.batch)
        let gd = shape.gates * shape.hidden
        let row = batch * shape.stateSize
        let pre = UnsafeMutablePointer<Scalar>.allocate(capacity: max(1, steps * batch * gd))
        defer { pre.deallocate() }
        let shared = UncheckedSendable(arguments)
        let preShared = UnsafeMutableSendable(pre)
        let workers = max(1, min(batch, pool.threadCount))
        pool.forEach(workers) { w in
            kernel(
                DenseAdjointWork(
                    arguments: shared.value, entries: ChunkPlan.evenRange(index: w, of: workers, total: batch),
                    preGradients: preShared.base))
        }
        // Weight gradients: one GEMM per chunk of t into its own accumulator, summed in order.
        let count = gd * shape.hidden + gd
        let parts = max(1, min(pool.threadCount, steps / 64))
        let partial = UnsafeMutablePointer<Scalar>.allocate(capacity: parts * count)
        defer { partial.deallocate() }
        zeroFill(partial, count: parts * count)
        let partialShared = UnsafeMutableSendable(partial)
        pool.forEach(parts) { c in
            let range = ChunkPlan.evenRange(index: c, of: parts, total: steps)
            if range.isEmpty { return }
            let a = shared.value
            let first = range.lowerBound == 0 ? a.previous : a.states + (range.lowerBound - 1) * row
            shape.accumulateRecurrentGradients(
                steps: range, batch: batch, previous: first, states: a.states,
                preGradients: preShared.base + range.lowerBound * batch * gd,
                parameterGradients: partialShared.base + c * count)
        }
        let ones = [Scalar](repeating: 1, count: parts)
        ones.withUnsafeBufferPointer { ones in
            Scalar.gemv(
                transposed: true, rows: parts, cols: count, alpha: 1, a: partial,
                x: ones.baseAddress!, beta: 1, y: arguments.parameterGradients)
        }
    }
}

extension DenseAdjointWork {
    /// Drives a fused dense BPTT over ``entries``, backwards in t, sequences in groups of four
    /// (the last group smaller) so that each packed product loads every weight once for the
    /// group (``DenseRecurrentPack/product4(h:hidden:weights:stride:bias:into:descending:)``):
    ///
    /// 1. if `forward` is given, g_b = W_hh h_{b,t−1} + b_hh for the group (read from the
    ///    arguments' recorded tape if there is one);
    /// 2. `step(t, b, g_b, carry_b, extra_b)` for each sequence: it reads carry_b = W_hhᵀ δ_{b,t+1}
    ///    (zero at t = T − 1) and its own `extra_b` (d values, zero at the start: the cell's
    ///    direct part of the carry), writes ∂L/∂u and δ_{b,t} (into ``preGradients``) and
    ///    updates `extra_b`;
    /// 3. carry_b = W_hhᵀ δ_{b,t} for the group (`backward`, the transposed pack);
    ///
    /// then `finish(b, carry_b, extra_b)` writes ∂L/∂s_{−1}.
    @inline(__always)
    func run(
        forward: DenseRecurrentPack<Scalar>?, backward: DenseRecurrentPack<Scalar>, stateSize n: Int,
        step: (Int, Int, UnsafeMutablePointer<Scalar>, UnsafeMutablePointer<Scalar>, UnsafeMutablePointer<Scalar>) ->
            Void,
        finish: (Int, UnsafeMutablePointer<Scalar>, UnsafeMutablePointer<Scalar>) -> Void
    ) where Scalar: CellMath {
        let a = arguments
        let batch = a.batch
        let row = batch * n
        let d = backward.outputs
        let gd = backward.hidden
        let fstride = forward?.stride ?? 0
        let bstride = backward.stride
        let tape = forward == nil ? nil : a.recurrentTape
        let scratch = ScratchBuffers<Scalar>(counts: [4 * fstride, 4 * bstride, 4 * d, bstride])
        defer { scratch.deallocate() }
        let (g, carry, extra, zeros) = (scratch[0], scratch[1], scratch[2], scratch[3])
        zeroFill(zeros, count: bstride)
        @inline(__always) func previous(_ t: Int, _ b: Int) -> UnsafePointer<Scalar> {
            (t == 0 ? a.previous + b * n : a.states + (t - 1) * row + b * n) + (n - d)
        }
        @inline(__always) func delta(_ t: Int, _ b: Int) -> UnsafePointer<Scalar> {
            UnsafePointer(preGradients + (t * batch + b) * gd)
        }
        let packs = (forward ?? backward, backward)
        packs.0.withPointers { wf, bf in
            packs.1.withPointers { wb, _ in
                var b = entries.lowerBound
                while b < entries.upperBound {
                    let count = min(4, entries.upperBound - b)
                    zeroFill(carry, count: 4 * bstride)
                    zeroFill(extra, count: 4 * d)
                    for t in stride(from: a.steps - 1, through: 0, by: -1) {
                        let descending = t & 1 == 1
                        var gt = g
                        if let tape {
                            gt = UnsafeMutablePointer(mutating: tape + (t * batch + b) * fstride)
                        } else if forward != nil {
                            DenseRecurrentPack<Scalar>.products(
                                count: count, h: { previous(t, b + $0) }, hidden: d, weights: wf,
                                stride: fstride, bias: bf, into: g, descending: descending)
                        }
                        for i in 0..<count {
                            step(t, b + i, gt + i * fstride, carry + i * bstride, extra + i * d)
                        }
                        DenseRecurrentPack<Scalar>.products(
                            count: count, h: { delta(t, b + $0) }, hidden: gd, weights: wb,
                            stride: bstride, bias: zeros, into: carry, descending: descending)
                    }
                    for i in 0..<count { finish(b + i, carry + i * bstride, extra + i * d) }
                    b += count
                }
            }
        }
    }
}

extension GRU: DenseAdjointCell {
    /// The fused GRU BPTT of ``DenseAdjointWork/entries`` (see `DenseAdjointWork.backward`):
    /// with g = W_hh h + b_hh recomputed,
    ///
    ///     g_pn = λ(1−z)(1−n²),  g_pz = λ(h−n)z(1−z),  g_pr = g_pn g_n r(1−r)
    ///     ∂L/∂u = (g_pr, g_pz, g_pn),  δ = (g_pr, g_pz, g_pn r),  c_{t−1} = z λ + W_hhᵀ δ
    ///
    /// (z λ is kept as the driver's `extra`, W_hhᵀ δ as its carry).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func adjointKernel(_ work: DenseAdjointWork<Scalar>) {
        let a = work.arguments
        let batch = a.batch
        let d = hiddenSize
        let lanes = batch * d
        let gd = 3 * d
        let activated = a.recurrentTape != nil && d >= stagedGateMinimumUnits
        work.run(forward: packedRecurrence, backward: transposedRecurrencePack(), stateSize: d) {
            t, b, g, carry, direct in
            let h = t == 0 ? a.previous + b * d : a.states + (t - 1) * lanes + b * d
            let u = a.projections + t * 3 * lanes + b * d
            let du = a.projectionGradients + t * 3 * lanes + b * d
            let delta = work.preGradients + (t * batch + b) * gd
            let gl = a.stateGradients + t * lanes + b * d
            forEachLaneGroup(
                d,
                octet: { i in
                    Self.adjointLanes(
                        SIMD8<Scalar>.self, 8, hidden: d, lanes: lanes, h: h + i, u: u + i, g: g + i, gl: gl + i,
                        carry: carry + i, direct: direct + i, du: du + i, delta: delta + i, activated: activated)
                },
                quad: { i, k in
                    Self.adjointLanes(
                        SIMD4<Scalar>.self, k, hidden: d, lanes: lanes, h: h + i, u: u + i, g: g + i, gl: gl + i,
                        carry: carry + i, direct: direct + i, du: du + i, delta: delta + i, activated: activated)
                })
        } finish: { b, carry, direct in
            forEachQuad(d) { i, k in
                let carried: SIMD4<Scalar> = loadLanes(carry + i, k, as: SIMD4<Scalar>.self)
                storeLanes(carried + loadLanes(direct + i, k, as: SIMD4<Scalar>.self), a.initialGradient + b * d + i, k)
            }
        }
    }

    /// One step's GRU adjoint for `k` hidden units (pointers at the first unit; gates `hidden`
    /// apart in g and δ, `lanes` apart in u and ∂L/∂u). `activated`: g holds r and z already
    /// (a recorded two-pass rollout's tape), not g_r and g_z.
    @inline(__always)
    static func adjointLanes<V: SIMD>(
        _: V.Type, _ k: Int, hidden d: Int, lanes: Int, h: UnsafePointer<Scalar>, u: UnsafePointer<Scalar>,
        g: UnsafeMutablePointer<Scalar>, gl: UnsafePointer<Scalar>, carry: UnsafeMutablePointer<Scalar>,
        direct: UnsafeMutablePointer<Scalar>, du: UnsafeMutablePointer<Scalar>, delta: UnsafeMutablePointer<Scalar>,
        activated: Bool
    ) where V.Scalar == Scalar {
        let g = UnsafePointer(g)
        let stateGradient: V = loadLanes(gl, k, as: V.self) + loadLanes(UnsafePointer(carry), k, as: V.self)
        let lambda: V = stateGradient + loadLanes(UnsafePointer(direct), k, as: V.self)
        let gn: V = loadLanes(g + 2 * d, k, as: V.self)
        let r: V =
            activated
            ? loadLanes(g, k, as: V.self) : Scalar.sigmoid(loadLanes(u, k, as: V.self) + loadLanes(g, k, as: V.self))
        let z: V =
            activated
            ? loadLanes(g + d, k, as: V.self)
            : Scalar.sigmoid(loadLanes(u + lanes, k, as: V.self) + loadLanes(g + d, k, as: V.self))
        let n: V = Scalar.tanh(gateMultiplyAdd(r, gn, loadLanes(u + 2 * lanes, k, as: V.self)))
        let one = V(repeating: 1)
        let gpn: V = lambda * (one - z) * (one - n * n)
        let gpz: V = lambda * (loadLanes(h, k, as: V.self) - n) * z * (one - z)
        let gpr: V = gpn * gn * r * (one - r)
        storeLanes(gpr, du, k)
        storeLanes(gpz, du + lanes, k)
        storeLanes(gpn, du + 2 * lanes, k)
        storeLanes(gpr, delta, k)
        storeLanes(gpz, delta + d, k)
        storeLanes(gpn * r, delta + 2 * d, k)
        storeLanes(z * lambda, direct, k)
    }
}

extension LSTM: DenseAdjointCell {
    /// The fused LSTM BPTT of ``DenseAdjointWork/entries``: with the gates recomputed and
    /// τ = tanh(c'),
    ///
    ///     g_c = λ_c + λ_h o(1−τ²)
    ///     δ = ∂L/∂u = (g_c g i(1−i), g_c c f(1−f), g_c i(1−g²), λ_h τ o(1−o))
    ///     c_{t−1} = (g_c f, W_hhᵀ δ)   (for the (c, h) halves of the state; g_c f is the
    ///     driver's `extra`).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func adjointKernel(_ work: DenseAdjointWork<Scalar>) {
        let a = work.arguments
        let batch = a.batch
        let d = hiddenSize
        let n = 2 * d
        let lanes = batch * d
        let row = batch * n
        let gd = 4 * d
        let activated = a.recurrentTape != nil && d >= stagedGateMinimumUnits
        work.run(forward: packedRecurrence, backward: transposedRecurrencePack(), stateSize: n) {
            t, b, g, carryH, carryC in
            let s = t == 0 ? a.previous + b * n : a.states + (t - 1) * row + b * n
            let u = a.projections + t * 4 * lanes + b * d
            let du = a.projectionGradients + t * 4 * lanes + b * d
            let delta = work.preGradients + (t * batch + b) * gd
            let gl = a.stateGradients + t * row + b * n
            forEachLaneGroup(
                d,
                octet: { j in
                    Self.adjointLanes(
                        SIMD8<Scalar>.self, 8, hidden: d, lanes: lanes, s: s + j, u: u + j, g: g + j, gl: gl + j,
                        carryH: carryH + j, carryC: carryC + j, du: du + j, delta: delta + j, activated: activated)
                },
                quad: { j, k in
                    Self.adjointLanes(
                        SIMD4<Scalar>.self, k, hidden: d, lanes: lanes, s: s + j, u: u + j, g: g + j, gl: gl + j,
                        carryH: carryH + j, carryC: carryC + j, du: du + j, delta: delta + j, activated: activated)
                })
        } finish: { b, carryH, carryC in
            copyScalars(a.initialGradient + b * n, carryC, count: d)
            copyScalars(a.initialGradient + b * n + d, carryH, count: d)
        }
    }

    /// One step's LSTM adjoint for `k` hidden units (`s` at the unit's c in the previous state
    /// entry, `gl` at its ∂L/∂c with ∂L/∂h `hidden` later; gates `hidden` apart in g and δ,
    /// `lanes` apart in u and ∂L/∂u). `activated`: g holds i, f, g, o already (a recorded
    /// two-pass rollout's tape).
    @inline(__always)
    static func adjointLanes<V: SIMD>(
        _: V.Type, _ k: Int, hidden d: Int, lanes: Int, s: UnsafePointer<Scalar>, u: UnsafePointer<Scalar>,
        g: UnsafeMutablePointer<Scalar>, gl: UnsafePointer<Scalar>, carryH: UnsafeMutablePointer<Scalar>,
        carryC: UnsafeMutablePointer<Scalar>, du: UnsafeMutablePointer<Scalar>, delta: UnsafeMutablePointer<Scalar>,
        activated: Bool
    ) where V.Scalar == Scalar {
        let g = UnsafePointer(g)
        let lc: V = loadLanes(gl, k, as: V.self) + loadLanes(UnsafePointer(carryC), k, as: V.self)
        let lh: V = loadLanes(gl + d, k, as: V.self) + loadLanes(UnsafePointer(carryH), k, as: V.self)
        let c: V = loadLanes(s, k, as: V.self)
        let ig: V
        let fg: V
        let gg: V
        let og: V
        if activated {
            ig = loadLanes(g, k, as: V.self)
            fg = loadLanes(g + d, k, as: V.self)
            gg = loadLanes(g + 2 * d, k, as: V.self)
            og = loadLanes(g + 3 * d, k, as: V.self)
        } else {
            ig = Scalar.sigmoid(loadLanes(u, k, as: V.self) + loadLanes(g, k, as: V.self))
            fg = Scalar.sigmoid(loadLanes(u + lanes, k, as: V.self) + loadLanes(g + d, k, as: V.self))
            gg = Scalar.tanh(loadLanes(u + 2 * lanes, k, as: V.self) + loadLanes(g + 2 * d, k, as: V.self))
            og = Scalar.sigmoid(loadLanes(u + 3 * lanes, k, as: V.self) + loadLanes(g + 3 * d, k, as: V.self))
        }
        let tau: V = Scalar.tanh(gateMultiplyAdd(fg, c, ig * gg))
        let one = V(repeating: 1)
        let gc: V = lc + lh * og * (one - tau * tau)
        let pi: V = gc * gg * ig * (one - ig)
        let pf: V = gc * c * fg * (one - fg)
        let pg: V = gc * ig * (one - gg * gg)
        let po: V = lh * tau * og * (one - og)
        storeLanes(pi, du, k)
        storeLanes(pf, du + lanes, k)
        storeLanes(pg, du + 2 * lanes, k)
        storeLanes(po, du + 3 * lanes, k)
        storeLanes(pi, delta, k)
        storeLanes(pf, delta + d, k)
        storeLanes(pg, delta + 2 * d, k)
        storeLanes(po, delta + 3 * d, k)
        storeLanes(gc * fg, carryC, k)
    }
}

extension ElmanRNN: DenseAdjointCell {
    /// None: Elman's BPTT needs only the stored states.
    public var recurrentTapeStride: Int? { nil }

    /// The fused Elman BPTT of ``DenseAdjointWork/entries``: δ = ∂L/∂u = λ φ' (1 − h'² or [h' > 0]),
    /// c_{t−1} = W_hhᵀ δ (h' is the stored state; nothing is recomputed).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func adjointKernel(_ work: DenseAdjointWork<Scalar>) {
        let a = work.arguments
        let batch = a.batch
        let d = hiddenSize
        let lanes = batch * d
        work.run(forward: nil, backward: transposedRecurrencePack(), stateSize: d) { t, b, _, carry, _ in
            let h = a.states + t * lanes + b * d
            let gl = a.stateGradients + t * lanes + b * d
            let du = a.projectionGradients + t * lanes + b * d
            let delta = work.preGradients + (t * batch + b) * d
            forEachQuad(d) { i, k in
                typealias V = SIMD4<Scalar>
                let hk: V = loadLanes(h + i, k, as: V.self)
                let gradient: V = loadLanes(gl + i, k, as: V.self) + loadLanes(carry + i, k, as: V.self)
                let value = gradient * slope(hk)
                storeLanes(value, du + i, k)
                storeLanes(value, delta + i, k)
            }
        } finish: { b, carry, _ in
            copyScalars(a.initialGradient + b * d, carry, count: d)
        }
    }
}
