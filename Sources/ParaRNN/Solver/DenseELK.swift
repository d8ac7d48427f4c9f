import ParallelScan

/// ELK's filter step for dense Jacobians (GRU, LSTM, Elman with a small state).
///
/// Per step and sequence, with A = J_t (n×n), P the filtered covariance of the previous step
/// (P = 0 before the first step) and y = s⁽ⁱ⁾_t the observation:
///     P⁻ = A P Aᵀ + I,   S = P⁻ + σ²I,   G = σ² S⁻¹,   P ← σ² P⁻ S⁻¹,
///     s_t = G A s_{t−1} + (y + G (b − y)),
/// so the Kalman filter's means are the dense affine scan of (G A, y + G(b − y)) — the scan
/// Newton uses. S is symmetric positive definite (eigenvalues ≥ 1 + σ²): S⁻¹ comes from its
/// Cholesky factor. G and P are formed from S⁻¹ directly (never as I − K), so neither loses
/// digits to cancellation at σ² = 10¹² (G ≈ I) or 10⁻⁸ (G ≈ 0). The cost per step is ≈ 6n³
/// flops per sequence against Newton's n³ of the scan's matrix products: ELK for dense
/// Jacobians is used up to n = ``ELK/denseLimit``, quasi-ELK (the diagonal) above.
///
///     var scratch = DenseELKScratch(n: 8)
///     ELK.denseFilter(range: 0..<T, batch: 1, n: 8, jacobians: j, offsets: b, states: y,
///                     variance: p, sigma2: 1e2, rewrite: true, scratch: &scratch)
struct DenseELKScratch: ~Copyable {
    let n: Int
    /// A, A·P, P⁻, the Cholesky factor L (lower) of S, S⁻¹ and G = σ²S⁻¹: n² each; e: n.
    let a, ap, predicted, factor, inverse, gain: UnsafeMutablePointer<Double>
    let error: UnsafeMutablePointer<Double>

    init(n: Int) {
        self.n = n
        a = .allocate(capacity: n * n)
        ap = .allocate(capacity: n * n)
        predicted = .allocate(capacity: n * n)
        factor = .allocate(capacity: n * n)
        inverse = .allocate(capacity: n * n)
        gain = .allocate(capacity: n * n)
        error = .allocate(capacity: n)
    }

    deinit {
        for p in [a, ap, predicted, factor, inverse, gain, error] { p.deallocate() }
    }
}

extension ELK {
    /// The largest state size n whose dense Jacobians get the full d×d filter (above it,
    /// quasi-ELK on their diagonal): 32, a 16-unit LSTM's (h, c).
    static let denseLimit = 32

    /// The dense filter over `range` (see ``DenseELKScratch``): `variance` holds P per
    /// sequence, `[B][n][n]` (updated in place); with `rewrite`, each J_t becomes G_t J_t and
    /// each b_t becomes y_t + G_t(b_t − y_t), y = `states`.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    static func denseFilter<S: ScanScalar>(
        range: Range<Int>, batch: Int, n: Int, jacobians: UnsafeMutablePointer<S>,
        offsets: UnsafeMutablePointer<S>, states: UnsafePointer<S>, variance: UnsafeMutablePointer<Double>,
        sigma2: Double, rewrite: Bool, scratch: inout DenseELKScratch
    ) {
        let nn = n * n
        let row = batch * n
        let (a, ap, pm, l, m, g, e) = (
            scratch.a, scratch.ap, scratch.predicted, scratch.factor, scratch.inverse, scratch.gain, scratch.error
        )
        for t in range {
            for sequence in 0..<batch {
                let j = jacobians + t * batch * nn + sequence * nn
                let p = variance + sequence * nn
                for i in 0..<nn { a[i] = Double(j[i]) }
                // A·P, then P⁻ = (A·P)·Aᵀ + I (symmetrised).
                // Row by row (contiguous inner loops): ap_r = Σ_k a_rk p_k.
                for r in 0..<n {
                    let out = ap + r * n
                    for c in 0..<n { out[c] = 0 }
                    for k in 0..<n {
                        let ark = a[r * n + k]
                        let pk = p + k * n
                        for c in 0..<n { out[c] += ark * pk[c] }
                    }
                }
                for r in 0..<n {
                    for c in r..<n {
                        var sum = 0.0
                        for k in 0..<n { sum += ap[r * n + k] * a[c * n + k] }
                        pm[r * n + c] = sum
                    }
                    pm[r * n + r] += 1
                    for c in 0..<r { pm[r * n + c] = pm[c * n + r] }
                }
                if !choleskyInverse(pm, shift: sigma2, n: n, factor: l, inverse: m) {
                    // An infinitely uncertain prediction: the step keeps the observation.
                    for i in 0..<nn { g[i] = 0 }
                    for i in 0..<nn { p[i] = 0 }
                    for i in 0..<n { p[i * n + i] = sigma2 }
                } else {
                    for i in 0..<nn { g[i] = sigma2 * m[i] }
                    // P = σ² P⁻ S⁻¹ (symmetric: P⁻ and S commute), symmetrised.
                    for r in 0..<n {
                        let out = p + r * n
                        for c in 0..<n { out[c] = 0 }
                        for k in 0..<n {
                            let f = sigma2 * pm[r * n + k]
                            let mk = m + k * n
                            for c in 0..<n { out[c] += f * mk[c] }
                        }
                    }
                    for r in 0..<n {
                        for c in 0..<r {
                            let mean = 0.5 * (p[r * n + c] + p[c * n + r])
                            p[r * n + c] = mean
                            p[c * n + r] = mean
                        }
                    }
                }
                guard rewrite else { continue }
                let b = offsets + t * row + sequence * n
                let y = states + t * row + sequence * n
                for i in 0..<n { e[i] = Double(b[i]) - Double(y[i]) }
                for r in 0..<n {
                    var sum = Double(y[r])
                    for k in 0..<n { sum += g[r * n + k] * e[k] }
                    b[r] = S(sum)
                }
                // J ← G·A, row by row.
                for r in 0..<n {
                    for c in 0..<n { ap[r * n + c] = 0 }
                    for k in 0..<n {
                        let grk = g[r * n + k]
                        let ak = a + k * n
                        for c in 0..<n { ap[r * n + c] += grk * ak[c] }
                    }
                    for c in 0..<n { j[r * n + c] = S(ap[r * n + c]) }
                }
            }
        }
    }

    /// (M + shift·I)⁻¹ for a symmetric M (n×n, row-major) by the Cholesky factor L (lower,
    /// into `factor`); the inverse into `inverse` (symmetric). Returns false when the matrix
    /// is not numerically positive definite or not finite.
    static func choleskyInverse(
        _ matrix: UnsafePointer<Double>, shift: Double, n: Int, factor l: UnsafeMutablePointer<Double>,
        inverse: UnsafeMutablePointer<Double>
    ) -> Bool {
        for r in 0..<n {
            for c in 0...r {
                var sum = matrix[r * n + c] + (r == c ? shift : 0)
                for k in 0..<c { sum -= l[r * n + k] * l[c * n + k] }
                if r == c {
                    guard sum.isFinite, sum > 0 else { return false }
                    l[r * n + r] = sum.squareRoot()
                } else {
                    l[r * n + c] = sum / l[c * n + c]
                }
            }
        }
        // Column c of the inverse: L z = e_c, then Lᵀ x = z (x into column c).
        for c in 0..<n {
            for r in 0..<n {
                var sum = r == c ? 1.0 : 0
                for k in 0..<r { sum -= l[r * n + k] * inverse[k * n + c] }
                inverse[r * n + c] = sum / l[r * n + r]
            }
            for r in stride(from: n - 1, through: 0, by: -1) {
                var sum = inverse[r * n + c]
                for k in (r + 1)..<n { sum -= l[k * n + r] * inverse[k * n + c] }
                inverse[r * n + c] = sum / l[r * n + r]
            }
        }
        return true
    }
}
