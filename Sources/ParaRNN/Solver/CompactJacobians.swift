/// Newton Jacobians stored as Float16 (Float arithmetic, Float offsets and residual).
///
/// Any A_t in the iteration s⁽ⁿ⁺¹⁾_t = F_t + A_t (s⁽ⁿ⁺¹⁾_{t−1} − s⁽ⁿ⁾_{t−1}) has the same fixed
/// point; A_t only sets the speed (`elk.md`). So the fused passes may store J̃_t = fp16(J_t) —
/// half the bytes of J per pass — provided the offsets are those of J̃:
///
///     b̃_t = F_t − J̃_t s_{t−1} = b_t + (J_t − J̃_t) s_{t−1},
///
/// which is what ``round(_:store:offsets:rows:row:blockSize:prior:states:)`` corrects, in
/// cache, right after the linearisation. The iterate then solves the linear recurrence with
/// J̃, and the result is certified by the residual ‖s_t − f(s_{t−1}, x_t)‖ at Float as before.
/// Near the fixed point J̃'s relative error (≤ 2⁻¹¹) turns Newton's quadratic convergence into
/// a linear rate of about that size, below Float's tolerances after the usual iterations.
///
/// ```swift
/// CompactJacobians.round(j, store: j16 + t * jrow, offsets: b + t * row, rows: n, row: row,
///                        blockSize: 1, prior: sPrev, states: s + t * row)
/// CompactJacobians.expand(j16 + t * jrow, into: j, count: n * jrow)   // next pass, before the solve
/// ```
enum CompactJacobians {
    /// Float16's largest finite value: larger entries are stored clamped (the offsets are
    /// corrected for whatever is stored, so any stored value is a valid A_t).
    static let largest = Float(Float16.greatestFiniteMagnitude)

    /// Rounds the Jacobians of `rows` steps (`j`, `[rows][k·row]`, the planes of
    /// ``JacobianStructure/blockDiagonal(_:)`` or diagonal for k = 1) to Float16: writes them
    /// to `store`, keeps the rounded values in `j` and corrects `offsets` (`[rows][row]`) to
    /// b̃ = b + (J − J̃) s_prev, where s_prev is `prior` for the first row and row t − 1 of
    /// `states` after it.
    static func round(
        _ j: UnsafeMutablePointer<Float>, store: UnsafeMutablePointer<Float16>, offsets: UnsafeMutablePointer<Float>,
        rows: Int, row: Int, blockSize k: Int, prior: UnsafePointer<Float>, states: UnsafePointer<Float>
    ) {
        if rows <= 0 { return }
        if k == 1 {
            // Row 0 against the prior state, then one flat loop (s_prev of row t is row t − 1).
            for i in 0..<row { roundOne(j + i, store + i, offsets + i, prior[i]) }
            let rest = (rows - 1) * row
            let (jr, sr, br) = (j + row, store + row, offsets + row)
            for i in 0..<rest {
                let exact = jr[i]
                let half = Float16(min(max(exact, -largest), largest))
                let rounded = Float(half)
                br[i] += (exact - rounded) * states[i]
                jr[i] = rounded
                sr[i] = half
            }
            return
        }
        let blocks = row / k
        let jrow = k * row
        for t in 0..<rows {
            let previous = t == 0 ? prior : states + (t - 1) * row
            let jt = j + t * jrow
            let st = store + t * jrow
            let bt = offsets + t * row
            for r in 0..<k {
                for c in 0..<k {
                    let plane = (r * k + c) * blocks
                    for l in 0..<blocks {
                        roundOne(jt + plane + l, st + plane + l, bt + r * blocks + l, previous[c * blocks + l])
                    }
                }
            }
        }
    }

    @inline(__always)
    private static func roundOne(
        _ j: UnsafeMutablePointer<Float>, _ store: UnsafeMutablePointer<Float16>, _ b: UnsafeMutablePointer<Float>,
        _ previous: Float
    ) {
        let exact = j.pointee
        let half = Float16(min(max(exact, -largest), largest))
        let rounded = Float(half)
        b.pointee += (exact - rounded) * previous
        j.pointee = rounded
        store.pointee = half
    }

    /// Float values of `count` stored Jacobian entries.
    static func expand(_ store: UnsafePointer<Float16>, into j: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { j[i] = Float(store[i]) }
    }
}
