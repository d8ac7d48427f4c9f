import ParallelScan

/// Keeping Newton iterates finite.
///
/// A Newton step is an affine scan s_t = J_t s_{t−1} + b_t. Where |J_t| > 1 over a long span
/// (an expanding or badly linearised recurrence), the prefix products ∏|J_t| leave the
/// floating-point range: the scan's chunk summaries become ±Inf, and applying them gives
/// Inf − Inf = NaN; a cell evaluated at such states multiplies Inf by a saturated gate (0) and
/// gives NaN too. Every iteration loop measures the residual of the iterate it produced; a
/// non-finite residual means the step overflowed. Instead of handing that iterate on, the
/// loop bounds it: each state becomes clamp(s, −M, M) with NaN ↦ 0 and M = ``iterateBound``
/// (one parallel pass, run only after an overflow), and the bounded iterate is linearised
/// again. The fixed point is unchanged (any finite iterate is a valid Newton start; the
/// result is still certified by its residual), so from finite inputs and finite cell
/// evaluations every iterate, and every residual in the history, is finite.
///
///     var engine = NewtonEngine(...)
///     if !residual.isFinite { engine.boundStates(); residual = engine.linearise(...) }
extension NewtonEngine {
    /// M: the bound on states after an overflowed step — 10⁸ (as DEER's clamp), far beyond
    /// any saturating cell's range and small enough that J·M + b stays finite in Float.
    static var iterateBound: Scalar { 100_000_000 }

    /// States ← clamp(states, −M, M), NaN ↦ 0 (parallel over chunks of t). Returns how many
    /// values changed.
    @discardableResult
    func boundStates() -> Int {
        let bound = Self.iterateBound
        let changed = mapChunkValues { v in boundValues(states + v.lowerBound, count: v.count, bound: bound) }
        return changed.reduce(0, +)
    }
}

/// The attempt, its outcome noting how many steps overflowed and were bounded (if any).
func noteOverflows(_ attempt: SolveAttempt, _ bounded: Int) -> SolveAttempt {
    guard bounded > 0 else { return attempt }
    var attempt = attempt
    attempt.outcome += "; \(bounded) overflowed step\(bounded == 1 ? "" : "s") bounded to |s| ≤ 1e8"
    return attempt
}

/// clamp(x, −bound, bound) with NaN ↦ 0 in place; returns how many values changed.
@_specialize(where S == Float)
@_specialize(where S == Double)
func boundValues<S: ScanScalar>(_ x: UnsafeMutablePointer<S>, count: Int, bound: S) -> Int {
    var changed = 0
    for i in 0..<count {
        let v = x[i]
        if v.isNaN {
            x[i] = 0
            changed += 1
        } else if v > bound {
            x[i] = bound
            changed += 1
        } else if v < -bound {
            x[i] = -bound
            changed += 1
        }
    }
    return changed
}
