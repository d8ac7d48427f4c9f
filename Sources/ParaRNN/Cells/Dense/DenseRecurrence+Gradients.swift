import ParallelScan

/// VJPs of the dense cells share the structure ∂L/∂pre = (per-gate factors) ⊙ λ, with
/// ∂L/∂W_hh += ∂L/∂pre_rec ⊗ h_{t−1} and ∂L/∂b_hh += ∂L/∂pre_rec: the sizes that accumulation
/// needs, apart from the cell's type (so that the fused BPTT's driver runs it specialised per
/// precision, not per cell).
///
///     DenseGradientShape(cell).accumulateRecurrentGradients(steps: 0..<T, batch: B, …)
struct DenseGradientShape {
    /// d, the state size n (the hidden part is the last d of a state entry) and G.
    let hidden: Int, stateSize: Int, gates: Int

    init<C: DenseRecurrence>(_ cell: C) {
        (hidden, stateSize, gates) = (cell.hiddenSize, cell.stateSize, cell.gateCount)
    }

    /// Accumulates ∂L/∂W_hh and ∂L/∂b_hh from per-step recurrent pre-activation gradients
    /// `preGradients` `[count][B][G·d]` and the previous hidden states of the range
    /// (``accumulateOuterProducts(_:outputs:hidden:weights:bias:)``).
    func accumulateRecurrentGradients<Scalar: ScanScalar>(
        steps: Range<Int>, batch: Int, previous: UnsafePointer<Scalar>,
        states: UnsafePointer<Scalar>, preGradients: UnsafePointer<Scalar>,
        parameterGradients: UnsafeMutablePointer<Scalar>
    ) {
        let d = hidden
        let n = stateSize
        let gd = gates * d
        let row = batch * n
        // dW[gd][d] += Σ_rows pre[row]ᵀ ⊗ h[row], db += Σ_rows pre[row] (first step from `previous`).
        accumulateOuterProducts(
            OuterProductRows(
                steps: steps.count, batch: batch, gradients: preGradients, previous: previous + (n - d),
                states: states + steps.lowerBound * row + (n - d), stepStride: row, entryStride: n),
            outputs: gd, hidden: d, weights: parameterGradients, bias: parameterGradients + gd * d)
    }
}
