import ParallelScan

/// The shape of the composition (P, Q) of consecutive steps of an affine recurrence: the map
/// s ↦ P s + Q from the state before the steps to the state after them.
///
/// Layouts follow the scans' (see `AffineScan`):
/// - `.planes(k, blocks)`: k×k blocks (k = 1: a diagonal scan over `blocks` lanes); P is
///   `[k][k][blocks]` (entry (r, c) of every block a contiguous plane), Q is `[k][blocks]`;
/// - `.dense(batch, d)`: P is `[batch][d][d]` (row-major), Q is `[batch][d]`.
/// A summary is P followed by Q, ``count`` scalars.
///
/// Composition (applying x, then y): (P_y, Q_y) ∘ (P_x, Q_x) = (P_y P_x, P_y Q_x + Q_y):
/// associative, not commutative.
public enum SummaryShape: Hashable, Sendable {
    case planes(blockSize: Int, blocks: Int)
    case dense(batch: Int, dimension: Int)

    /// Scalars of P.
    public var matrixCount: Int {
        switch self {
        case .planes(let k, let n): return k * k * n
        case .dense(let batch, let d): return batch * d * d
        }
    }

    /// Scalars of Q (= of one state).
    public var stateCount: Int {
        switch self {
        case .planes(let k, let n): return k * n
        case .dense(let batch, let d): return batch * d
        }
    }

    /// Scalars of one summary.
    public var count: Int { matrixCount + stateCount }

    /// Writes the identity map (P = I, Q = 0).
    public func writeIdentity<S: ScanScalar>(_ summary: UnsafeMutablePointer<S>) {
        summary.update(repeating: 0, count: count)
        switch self {
        case .planes(let k, let n):
            for r in 0..<k { (summary + (r * k + r) * n).update(repeating: 1, count: n) }
        case .dense(let batch, let d):
            for m in 0..<batch { for i in 0..<d { summary[m * d * d + i * d + i] = 1 } }
        }
    }

    /// y ← y ∘ x (x applied first). `scratch` holds ``count`` scalars.
    public func compose<S: ScanScalar>(
        first x: UnsafePointer<S>, then y: UnsafeMutablePointer<S>, scratch: UnsafeMutablePointer<S>
    ) {
        let px = x
        let qx = x + matrixCount
        let py = UnsafePointer(y)
        let qy = y + matrixCount
        let np = scratch
        let nq = scratch + matrixCount
        switch self {
        case .planes(let k, let n):
            for r in 0..<k {
                for c in 0..<k {
                    let o = np + (r * k + c) * n
                    o.update(repeating: 0, count: n)
                    for m in 0..<k {
                        let a = py + (r * k + m) * n
                        let b = px + (m * k + c) * n
                        for j in 0..<n { o[j] += a[j] * b[j] }
                    }
                }
                let o = nq + r * n
                o.update(from: qy + r * n, count: n)
                for m in 0..<k {
                    let a = py + (r * k + m) * n
                    let b = qx + m * n
                    for j in 0..<n { o[j] += a[j] * b[j] }
                }
            }
        case .dense(let batch, let d):
            nq.update(from: qy, count: batch * d)
            for m in 0..<batch {
                AffineScan.denseMultiply(
                    transposed: false, d: d, a: py + m * d * d, p: px + m * d * d, c: np + m * d * d)
                AffineScan.denseMultiplyAdd(
                    transposed: false, d: d, a: py + m * d * d, x: qx + m * d, y: nq + m * d)
            }
        }
        y.update(from: scratch, count: count)
    }

    /// output ← P·state + Q (output must not alias state).
    public func apply<S: ScanScalar>(
        _ summary: UnsafePointer<S>, to state: UnsafePointer<S>, output: UnsafeMutablePointer<S>
    ) {
        let p = summary
        let q = summary + matrixCount
        output.update(from: q, count: stateCount)
        switch self {
        case .planes(let k, let n):
            for r in 0..<k {
                let o = output + r * n
                for c in 0..<k {
                    let a = p + (r * k + c) * n
                    let s = state + c * n
                    for j in 0..<n { o[j] += a[j] * s[j] }
                }
            }
        case .dense(let batch, let d):
            for m in 0..<batch {
                AffineScan.denseMultiplyAdd(
                    transposed: false, d: d, a: p + m * d * d, x: state + m * d, y: output + m * d)
            }
        }
    }
}
