import ParallelScan

/// The two passes of a diagonal layer's backward (``DiagonalLinearRNN``, ``LRU``, ``S5``), shared
/// through its ``DiagonalMaps``.
extension DiagonalMaps {
    /// The adjoint states μ_t = conj(C)ᵀ g_t + conj(a_{t+1}) ⊙ μ_{t+1} (μ_T = 0), `[T][row]`, by a
    /// reverse fused scan: `decay(t, a)` writes the scan's coefficient row for step t (the
    /// layer's conjugated decays of step t + 1), the source term is ``adjointSource(_:lanes:batch:into:)``.
    /// With `resets`, μ restarts at every sequence's last step (a_{t+1} belongs to the next
    /// sequence): nothing flows back across a boundary. Release the result with `free()`.
    ///
    /// ```swift
    /// let adjoint = maps.adjointStates(g, steps: T, batch: B, pool: pool, workPerStep: B * p * n) { _, a in
    ///     for s in 0..<B { (a + s * n).update(from: decays, count: n) }
    /// }
    /// defer { adjoint.free() }
    /// ```
    @inline(__always)
    func adjointStates(
        _ g: [S], steps: Int, batch: Int, pool: WorkerPool, workPerStep: Int, resets: SequenceBoundaries? = nil,
        decay: (Int, UnsafeMutablePointer<S>) -> Void
    ) -> Copied<S> {
        let complex = cIm != nil
        let lanes = batch * n
        let row = complex ? 2 * lanes : lanes
        let adjoint = Copied<S>(zeros: steps * row)
        g.withUnsafeBufferPointer { gb in
            let g = gb.baseAddress!
            var scan = FusedDiagonalScan<S>(
                steps: steps, lanes: lanes, complex: complex, reverse: true, pool: pool,
                workPerStep: workPerStep)
            scan.resets = resets
            scan.run(
                coefficients: { t, at, bt, _ in
                    decay(t, at)
                    adjointSource(g + t * batch * p, lanes: lanes, batch: batch, into: bt)
                },
                emit: { t, h, _ in (adjoint.p + t * row).update(from: h, count: row) })
        }
        return adjoint
    }

    /// The parameter and input gradients of a diagonal layer, accumulated over time chunks on
    /// `pool` (`chunks` from ``chunkCount(steps:workPerStep:bytesPerStep:pool:)``).
    ///
    /// Each chunk's accumulator row holds the layer's own `ownSize` gradients, then B, C and D's
    /// (``gradients(_:)``). For every step t and sequence s, `step` adds the layer's own terms
    /// and B's (and their part of ∂x); then the read-out terms are added
    /// (``accumulateReadOut(g:h:lanes:x:dx:into:)``, `states` being `[T][row]`). With `resets`,
    /// a step where a sequence starts is marked ``GradientStep/restarts`` (h_{t−1} = 0 there).
    /// Returns ∂L/∂x `[T][batch][m]` and the summed accumulator row.
    @inline(__always)
    func accumulateGradients(
        x: [S], g: [S], states: [S], steps: Int, batch: Int, ownSize: Int, chunks: Int, pool: WorkerPool,
        resets: SequenceBoundaries? = nil, step: (GradientStep<S>) -> Void
    ) -> (input: [S], sum: [S]) {
        let lanes = batch * n
        let row = cIm == nil ? lanes : 2 * lanes
        let acc = Accumulators<S>(chunks: chunks, size: ownSize + gradientSize)
        let starts = ResetFlags(resets, reverse: false)
        defer {
            acc.free()
            starts?.free()
        }
        let input: [S] = makeArray(steps * batch * m) { dxp in
            let dx = UnsafeMutableSendable(dxp)
            x.withUnsafeBufferPointer { xb in
                g.withUnsafeBufferPointer { gb in
                    states.withUnsafeBufferPointer { hb in
                        let (x, g, h) = (xb.baseAddress!, gb.baseAddress!, hb.baseAddress!)
                        forEachTimeChunk(steps: steps, chunks: chunks, pool: pool) { chunk, range in
                            let own = acc.chunk(chunk)
                            let grad = gradients(own + ownSize)
                            for t in range {
                                let restarts = t == 0 || (starts?.isReset(t) ?? false)
                                for s in 0..<batch {
                                    let r = t * batch + s
                                    let xs = x + r * m
                                    let dxs = dx.base + r * m
                                    step(
                                        GradientStep(
                                            t: t, s: s, restarts: restarts, x: xs, dx: dxs, states: h, own: own,
                                            grad: grad))
                                    accumulateReadOut(
                                        g: g + r * p, h: h + t * row + s * n, lanes: lanes, x: xs, dx: dxs, into: grad)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (input, acc.total())
    }
}

/// One (step, sequence) of ``DiagonalMaps/accumulateGradients(x:g:states:steps:batch:ownSize:chunks:pool:step:)``.
struct GradientStep<S> {
    /// The step t and the sequence s.
    let t: Int, s: Int
    /// Whether the state before step t is zero: t = 0, or a packed sequence starts at t (its
    /// h_{t−1} in `states` belongs to the previous sequence and must not be used).
    let restarts: Bool
    /// x_s and ∂L/∂x_s of this step, `[m]` each.
    let x: UnsafePointer<S>, dx: UnsafeMutablePointer<S>
    /// The forward states, `[T][row]`.
    let states: UnsafePointer<S>
    /// The chunk's accumulator row (the layer's own gradients first).
    let own: UnsafeMutablePointer<S>
    /// Where B's, C's and D's gradients accumulate in that row.
    let grad: DiagonalMapGradients<S>
}
