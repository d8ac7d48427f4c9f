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
    /// `preGradients` `[count][B][G·d]` and the previous hidden states of the range.
    func accumulateRecurrentGradients<Scalar: ScanScalar>(
        steps: Range<Int>, batch: Int, previous: UnsafePointer<Scalar>,
        states: UnsafePointer<Scalar>, preGradients: UnsafePointer<Scalar>,
        parameterGradients: UnsafeMutablePointer<Scalar>
    ) {
        let d = hidden
        let n = stateSize
        let gd = gates * d
        let row = batch * n
        let dW = parameterGradients
        let dB = parameterGradients + gd * d
        // dW[gd][d] += Σ_rows pre[row][gd]ᵀ · h[row][d]: first step from `previous`.
        Scalar.gemm(
            transposeA: true, transposeB: false, m: gd, n: d, k: batch, alpha: 1, a: preGradients,
            lda: gd, b: previous + (n - d), ldb: n, beta: 1, c: dW, ldc: d)
        if steps.count > 1 {
            Scalar.gemm(
                transposeA: true, transposeB: false, m: gd, n: d, k: (steps.count - 1) * batch,
                alpha: 1, a: preGradients + batch * gd, lda: gd,
                b: states + steps.lowerBound * row + (n - d), ldb: n, beta: 1, c: dW, ldc: d)
        }
        for i in 0..<(steps.count * batch) {
            for k in 0..<gd { dB[k] += preGradients[i * gd + k] }
        }
    }
}
