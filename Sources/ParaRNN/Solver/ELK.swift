import Foundation
import ParallelScan

/// ELK: Levenberg–Marquardt damped Newton computed as a Kalman filter (Gonzalez et al. 2024).
///
/// Linearised at the iterate y = s⁽ⁱ⁾, a Newton step solves s_t = A_t s_{t−1} + b_t exactly. ELK
/// instead treats that linear recurrence as the dynamics of a linear-Gaussian state-space model
/// (process noise covariance I) whose observations are the current iterate, y_t = s_t + v_t with
/// v_t ~ N(0, σ²I); its posterior mean would be the trust-region (Levenberg–Marquardt) step
///     min Σ_t ½‖s_t − A_t s_{t−1} − b_t‖² + (λ/2)‖s_t − y_t‖²,  λ = 1/σ²,
/// and, as ELK's public code does, the next iterate is the Kalman *filter*'s means. Per step,
/// with P_{−1} = 0 (the initial state is known exactly):
///     P⁻_t = A_t P_{t−1} A_tᵀ + I,   G_t = σ²(P⁻_t + σ²I)⁻¹,   P_t = σ²(I − G_t),
///     s_t = G_t A_t s_{t−1} + (y_t + G_t (b_t − y_t)),
/// one affine scan of (G_t A_t, y_t + G_t(b_t − y_t)). (A Rauch–Tung–Striebel smoother on top —
/// the exact LM step — was measured too: with the rule below it stalled in local minima of the
/// merit on the shipped model's first layer, where the filter converges in 9 iterations.)
/// The filter forgets (|G_t A_t| shrinks where |A_t| > 1), so the scan's prefix products stay
/// bounded where plain Newton's overflow. σ² → ∞ gives Newton's step, σ² → 0 stays at y. The
/// fixed point is unchanged (at s = y = A s + b the step returns y), so the result is certified
/// by its residual like every method and equals the sequential rollout when it converges.
///
/// The variances are a recursion of their own (the Riccati equation, independent of the
/// means): computed per chunk of t in parallel, each chunk starting from the variances at the
/// end of the previous chunk as computed from P = 0 ``varianceWarmUp`` steps before that end.
/// The recursion forgets its start geometrically, so where its memory is shorter than that this
/// is the filter's P; the step is exact LM-filter damping there and a valid damping (same fixed
/// point) everywhere.
///
/// Structures: per lane for diagonal Jacobians (ParaGRU), per 2×2 block (ParaLSTM), per
/// sequence with n×n matrices for dense Jacobians of a state up to ``denseLimit`` values (GRU,
/// LSTM, Elman; ``denseFilter(range:batch:n:jacobians:offsets:states:variance:sigma2:rewrite:scratch:)``,
/// then the dense affine scan); larger dense states and other block sizes use their diagonal
/// (quasi-ELK). σ² adapts as a
/// non-monotone trust region on the merit Σ r² (relative residuals): a step is taken unless
/// its merit exceeds ``acceptedIncrease`` times the lowest merit of the attempt so far
/// (``accepts(_:best:)``), and σ² then grows ×10 (towards Newton) up to a ceiling that a refused
/// step lowers and a new lowest merit raises (``ELKSchedule``); a refused step is undone and σ²
/// shrinks ÷10. The attempt stagnates when neither the largest residual nor the count of
/// unconverged values halves in 50 iterations (``ELKProgress``); an attempt stalled for 3
/// iterations first gets a segment sweep (``ELKRepair``: exact rollouts from the first
/// unconverged step, in parallel segments), which carries lanes on the wrong branch of a
/// bistable recurrence through their stretch. Every step costs one
/// linearisation (with the merit), the variance passes and one scan; a refused one a second
/// linearisation.
///
///     var options = SolverOptions(method: .elk)
///     let solution = try SequenceSolver(cell: cell, options: options).solve(inputs: x, steps: T, batch: B)
enum ELK {
    /// σ² of the first step (the published quasi-ELK setting; with the ×10 growth after each
    /// taken step, two taken steps reach ELK's 1e6 — measured on the shipped model's first
    /// layer: 9 iterations from 1e2, 13 from 1e6, whose first steps are all refused).
    static let initialVariance = 1e2
    /// A step is taken unless its merit exceeds this factor times the lowest merit so far.
    /// Newton-type progress through a sequence is not monotone (steps settle t = 0, 1, … in
    /// turn while later ones move); strict decrease stalled in local minima of the merit in the
    /// cases measured.
    static let acceptedIncrease = 10.0

    /// Whether a step to merit `trial` is taken, `best` being the lowest merit of the attempt
    /// so far (NaN is refused). Measured against the best rather than the last merit, taken
    /// steps cannot compound: ×10 per step let the merit drift up geometrically (ParaLSTM at
    /// weight scale 3, T = 10⁴, harness seed 2: the residual rose 0.59 → 7.3 in five taken
    /// steps, then stagnated near 0.66; against the best merit it converges). On 144 ParaGRU/
    /// ParaLSTM cases at s ∈ {1.5, 2, 3} (6 seeds) failures fell from 14 to 8, with the same
    /// iterations for every case at s ≤ 2.
    static func accepts(_ trial: Double, best: Double) -> Bool {
        trial <= acceptedIncrease * best
    }
    /// Bounds of σ² (1e12: Newton to working precision; 1e-8: a step of ≈ 1e-8 of Newton's).
    static let maximumVariance = 1e12
    /// Steps of the variance recursion, from P = 0, that give a chunk its starting variance
    /// (the previous chunk's last steps): the chunks' own passes then cost one filter pass in
    /// all instead of two (the dense filter's n³ work per step is most of a dense ELK step).
    static let varianceWarmUp = 128
    /// The largest predicted variance P⁻ of a lane (beyond it the prediction is treated as
    /// infinitely uncertain).
    static let predictionCap = 1e300
    static let minimumVariance = 1e-8

    /// The Jacobian request and scan structure ELK uses for a cell structure.
    /// Dense Jacobians get the full filter up to a state of ``denseLimit`` values, quasi-ELK
    /// (their diagonal) above.
    static func plan(for structure: JacobianStructure, stateSize: Int) -> (JacobianRequest, JacobianStructure) {
        switch structure {
        case .diagonal: return (.structured, .diagonal)
        case .blockDiagonal(2): return (.structured, .blockDiagonal(2))
        case .dense where stateSize <= denseLimit: return (.structured, .dense)
        default: return (.diagonalOnly, .diagonal)
        }
    }

    /// Values of filter variance per state row: P per lane (diagonal), (p11, p12, p22) planes
    /// per 2×2 block, or an n×n P per sequence (dense: as many as a Jacobian row).
    static func varianceWidth(row: Int, jrow: Int, structure: JacobianStructure) -> Int {
        switch structure {
        case .blockDiagonal(2): return 3 * (row / 2)
        case .dense: return jrow
        default: return row
        }
    }

    /// Runs the variance recursion over `range` from `variance` (updated in place). With
    /// `rewrite`, replaces each J_t by G_t J_t and each b_t by y_t + G_t(b_t − y_t), y = `states`.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    static func filter<S: ScanScalar>(
        range: Range<Int>, row: Int, jrow: Int, structure: JacobianStructure,
        jacobians: UnsafeMutablePointer<S>, offsets: UnsafeMutablePointer<S>,
        states: UnsafePointer<S>, variance: UnsafeMutablePointer<Double>, sigma2: Double,
        rewrite: Bool
    ) {
        if case .dense = structure {
            let n = jrow / row
            var scratch = DenseELKScratch(n: n)
            denseFilter(
                range: range, batch: row / n, n: n, jacobians: jacobians, offsets: offsets, states: states,
                variance: variance, sigma2: sigma2, rewrite: rewrite, scratch: &scratch)
            return
        }
        if case .blockDiagonal(2) = structure {
            let blocks = row / 2
            let p11 = variance
            let p12 = variance + blocks
            let p22 = variance + 2 * blocks
            for t in range {
                let j = jacobians + t * jrow
                let b = offsets + t * row
                let y = states + t * row
                for l in 0..<blocks {
                    let a11 = Double(j[l])
                    let a12 = Double(j[blocks + l])
                    let a21 = Double(j[2 * blocks + l])
                    let a22 = Double(j[3 * blocks + l])
                    // P⁻ = A P Aᵀ + I.
                    let m11 = a11 * p11[l] + a12 * p12[l]
                    let m12 = a11 * p12[l] + a12 * p22[l]
                    let m21 = a21 * p11[l] + a22 * p12[l]
                    let m22 = a21 * p12[l] + a22 * p22[l]
                    let q11 = m11 * a11 + m12 * a12 + 1
                    let q12 = m11 * a21 + m12 * a22
                    let q22 = m21 * a21 + m22 * a22 + 1
                    let s11 = q11 + sigma2
                    let s22 = q22 + sigma2
                    let det = s11 * s22 - q12 * q12
                    var g11 = 0.0
                    var g12 = 0.0
                    var g22 = 0.0
                    if det.isFinite, det > 0 {
                        // G = σ² S⁻¹; P = σ² K with K = P⁻ S⁻¹ (symmetric: P⁻ and S commute).
                        let scale = sigma2 / det
                        g11 = scale * s22
                        g12 = -scale * q12
                        g22 = scale * s11
                        p11[l] = scale * (q11 * s22 - q12 * q12)
                        p12[l] = scale * (q12 * s11 - q11 * q12)
                        p22[l] = scale * (q22 * s11 - q12 * q12)
                    } else {
                        // An infinitely uncertain prediction: the step keeps the observation.
                        p11[l] = sigma2
                        p12[l] = 0
                        p22[l] = sigma2
                    }
                    guard rewrite else { continue }
                    let y1 = Double(y[l])
                    let y2 = Double(y[blocks + l])
                    let e1 = Double(b[l]) - y1
                    let e2 = Double(b[blocks + l]) - y2
                    b[l] = S(y1 + g11 * e1 + g12 * e2)
                    b[blocks + l] = S(y2 + g12 * e1 + g22 * e2)
                    j[l] = S(g11 * a11 + g12 * a21)
                    j[blocks + l] = S(g11 * a12 + g12 * a22)
                    j[2 * blocks + l] = S(g12 * a11 + g22 * a21)
                    j[3 * blocks + l] = S(g12 * a12 + g22 * a22)
                }
            }
            return
        }
        // Per lane, branch-free so that the loops vectorise (one division per value): a
        // prediction that overflowed (Inf, or NaN from Inf·0) is capped, which gives G ≈ 0 and
        // P ≈ σ², the limit of an infinitely uncertain prediction (the step keeps y).
        for t in range {
            let j = jacobians + t * jrow
            let b = offsets + t * row
            let y = states + t * row
            if rewrite {
                for l in 0..<row {
                    let a = Double(j[l])
                    let raw = a * a * variance[l] + 1
                    let predicted = raw < predictionCap ? raw : predictionCap
                    let g = sigma2 / (predicted + sigma2)
                    variance[l] = predicted * g
                    let yl = Double(y[l])
                    j[l] = S(g * a)
                    b[l] = S(yl + g * (Double(b[l]) - yl))
                }
            } else {
                for l in 0..<row {
                    let a = Double(j[l])
                    let raw = a * a * variance[l] + 1
                    let predicted = raw < predictionCap ? raw : predictionCap
                    variance[l] = predicted * (sigma2 / (predicted + sigma2))
                }
            }
        }
    }
}

extension NewtonEngine {
    /// Replaces (J, b) of the current linearisation by ELK's filtered-mean recurrence (see
    /// ``ELK``): the variance recursion per chunk of t in parallel (first from zero over each
    /// chunk's last ``ELK/varianceWarmUp`` steps to get its end variance, then from the previous
    /// chunk's end while rewriting J and b).
    func kalmanDamp(structure: JacobianStructure, jrow: Int, sigma2: Double) {
        let chunks = self.chunks
        let row = self.row
        let width = ELK.varianceWidth(row: row, jrow: jrow, structure: structure)
        let ends = UnsafeMutablePointer<Double>.allocate(capacity: chunks.count * width)
        defer { ends.deallocate() }
        let e = UnsafeMutableSendable(ends)
        let j = UnsafeMutableSendable(jacobians!)
        let b = UnsafeMutableSendable(offsets)
        let y = UnsafeSendable(UnsafePointer(states))
        if chunks.count > 1 {
            pool.forEach(chunks.count - 1) { c in
                let p = e.base + c * width
                p.initialize(repeating: 0, count: width)
                let chunk = chunks[c]
                ELK.filter(
                    range: max(chunk.lowerBound, chunk.upperBound - ELK.varianceWarmUp)..<chunk.upperBound, row: row,
                    jrow: jrow, structure: structure, jacobians: j.base,
                    offsets: b.base, states: y.base, variance: p, sigma2: sigma2, rewrite: false)
            }
        }
        // Packed sequences: each starts known exactly (P = 0), as the first does.
        let restarts = chunks.map { packing?.boundaries.isStart($0.lowerBound) ?? false }
        pool.forEach(chunks.count) { c in
            let p = UnsafeMutablePointer<Double>.allocate(capacity: width)
            defer { p.deallocate() }
            if c == 0 || restarts[c] {
                p.initialize(repeating: 0, count: width)
            } else {
                p.initialize(from: e.base + (c - 1) * width, count: width)
            }
            ELK.filter(
                range: chunks[c], row: row, jrow: jrow, structure: structure, jacobians: j.base,
                offsets: b.base, states: y.base, variance: p, sigma2: sigma2, rewrite: true)
        }
    }

    /// Pass 1 for ELK: the residual (as ``linearise(request:structure:jrow:clip:)``), the
    /// merit Σ_i ((s_i − F_i) / max(1, |F_i|))² and the count of relative residuals above
    /// `tolerance`, unfused so that F is seen before it becomes b.
    func lineariseWithMerit(request: JacobianRequest, structure: JacobianStructure, jrow: Int, tolerance: Double)
        -> ELKMeasure
    {
        let chunks = self.chunks
        let (cell, batch, row, packing) = (self.cell, self.batch, self.row, self.packing)
        let (states, values, jacobians) = (UnsafePointer(self.states), offsets, self.jacobians!)
        let parts = pool.map(chunks.count) { c in
            let range = chunks[c]
            let first = Self.stateBefore(
                range.lowerBound, initial: previous, states: states, row: row, packing: packing)
            cell.linearize(
                steps: range, batch: batch, previous: first, states: states, projections: projections,
                values: values, jacobians: jacobians, request: request)
            let start = range.lowerBound * row
            let merit = relativeMerit(
                states: states + start, values: UnsafePointer(values + start), count: range.count * row,
                tolerance: tolerance)
            let residual = residualAndOffsets(
                range: range, row: row, jrow: jrow, states: states, initial: first, values: values,
                jacobians: jacobians, structure: structure, batch: batch, stateSize: cell.stateSize,
                hidden: cell.hiddenSize, clip: nil)
            return ELKMeasure(
                residual: residual, merit: merit.merit, unconverged: merit.unconverged,
                firstUnconverged: ELKMeasure.step(
                    first: merit.first, count: range.count * row, start: range.lowerBound, row: row))
        }
        return ELKMeasure(combining: parts)
    }

    /// ELK iterations (see ``ELK``) from the current states: in one memory pass per step
    /// (``iterateELKFused(tolerance:maxIterations:report:)``) where that applies and `fused`,
    /// otherwise linearisation, filter and scan as separate parallel passes.
    func iterateELK(tolerance: Double, maxIterations: Int, fused: Bool = true, report: (Int, Double) -> Void)
        -> SolveAttempt
    {
        let (request, structure) = ELK.plan(for: cell.structure, stateSize: cell.stateSize)
        if fused, fusesELK(structure: structure) {
            return iterateELKFused(tolerance: tolerance, maxIterations: maxIterations, report: report)
        }
        let jrow = cell.jacobianRowSize(batch: batch, request: request)
        reserveJacobians(steps * jrow)
        let saved = UnsafeMutablePointer<Scalar>.allocate(capacity: steps * row)
        defer { saved.deallocate() }
        return iterateTrustRegion(
            structure: structure, tolerance: tolerance, maxIterations: maxIterations, saved: saved,
            filtersAhead: false, report: report
        ) { _ in
            lineariseWithMerit(request: request, structure: structure, jrow: jrow, tolerance: tolerance)
        } step: { sigma2 in
            copyStates(to: saved)
            kalmanDamp(structure: structure, jrow: jrow, sigma2: sigma2)
            scan(structure: structure)
            return lineariseWithMerit(request: request, structure: structure, jrow: jrow, tolerance: tolerance)
        }
    }
}
