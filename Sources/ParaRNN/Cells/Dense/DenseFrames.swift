/// The loop frames the dense cells' (GRU, LSTM, Elman) Jacobian and VJP kernels share: the
/// recurrent pre-activations g = W_hh h_{t−1} + b_hh of a range of steps from one GEMM, then the
/// cell's arithmetic per step t and batch entry b.
extension DenseRecurrence {
    /// The linearisation frame: an in-place rollout goes to `rollout` (the cell's fused
    /// rollout); otherwise `body(t, b, g_tb)` runs for every step of the range, then every
    /// entry, with g_tb the entry's `[G·d]` recurrent pre-activations.
    ///
    ///     denseLinearize(arguments, rollout: fusedRollout) { t, b, g in … }
    @inline(__always)
    func denseLinearize(
        _ a: LinearizeArguments<Scalar>, rollout: (DenseRolloutBuffers<Scalar>, Range<Int>) -> Void,
        _ body: (_ t: Int, _ b: Int, _ g: UnsafePointer<Scalar>) -> Void
    ) {
        if a.inPlace {
            rollout(DenseRolloutBuffers(a), a.batchEntries ?? 0..<a.batch)
            return
        }
        let gd = gateCount * hiddenSize
        let g = UnsafeMutablePointer<Scalar>.allocate(capacity: a.steps.count * a.batch * gd)
        defer { g.deallocate() }
        recurrentPreactivations(steps: a.steps, batch: a.batch, previous: a.previous, states: a.states, into: g)
        for (offset, t) in a.steps.enumerated() {
            for b in 0..<a.batch { body(t, b, g + (offset * a.batch + b) * gd) }
        }
    }

    /// The VJP frame: `body(t, b, g_tb, pre_tb)` for every step, then every entry — the cell
    /// writes ∂L/∂u and the entry's `[G·d]` recurrent pre-activation gradients `pre_tb` — then
    /// ∂L/∂W_hh and ∂L/∂b_hh from those.
    ///
    ///     denseVJP(arguments) { t, b, g, pre in … }
    @inline(__always)
    func denseVJP(
        _ a: VJPArguments<Scalar>,
        _ body: (_ t: Int, _ b: Int, _ g: UnsafePointer<Scalar>, _ pre: UnsafeMutablePointer<Scalar>) -> Void
    ) {
        let gd = gateCount * hiddenSize
        let count = a.steps.count * a.batch * gd
        let g = UnsafeMutablePointer<Scalar>.allocate(capacity: count)
        let pre = UnsafeMutablePointer<Scalar>.allocate(capacity: count)
        defer {
            g.deallocate()
            pre.deallocate()
        }
        recurrentPreactivations(steps: a.steps, batch: a.batch, previous: a.previous, states: a.states, into: g)
        for (offset, t) in a.steps.enumerated() {
            for b in 0..<a.batch {
                let k = (offset * a.batch + b) * gd
                body(t, b, g + k, pre + k)
            }
        }
        DenseGradientShape(self).accumulateRecurrentGradients(
            steps: a.steps, batch: a.batch, previous: a.previous, states: a.states, preGradients: pre,
            parameterGradients: a.parameterGradients)
    }
}
