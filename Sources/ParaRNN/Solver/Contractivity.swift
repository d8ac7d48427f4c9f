import Foundation
import ParallelScan

/// How strongly a recurrence contracts, estimated along the first steps of its exact
/// trajectory (a short sequential rollout).
///
/// With J_t = ∂f/∂s at the rollout's states over a window of W steps:
/// - the largest Lyapunov exponent λ ≈ (1/W) Σ_t log‖J_t v_{t−1}‖ with v renormalised after
///   every step (per lane for diagonal Jacobians, per k×k block or per sequence otherwise),
///   maximised over lanes/blocks/sequences: λ < 0 contracts, λ > 0 expands (chaos);
/// - ‖J‖max = max_t ‖J_t‖∞ (per lane, block or sequence): above 1 the recurrence expands
///   somewhere, and Newton's scans multiply those factors over long spans.
/// Newton-type methods converge in a few iterations when λ < 0 and ‖J‖max ≤ 1; with λ < 0 but
/// ‖J‖max > 1 damping (ELK) pays; with λ ≥ 0 any parallel method needs many iterations.
///
///     let c = solver.contractivity(projections: u, steps: T, batch: B)
///     print(c.lyapunov, c.maxNorm)
public struct Contractivity: Sendable, Codable, Equatable, CustomStringConvertible {
    /// W, the window's steps.
    public var window: Int
    /// The largest Lyapunov exponent estimate λ (natural log per step).
    public var lyapunov: Double
    /// max_t ‖J_t‖∞ over the window.
    public var maxNorm: Double

    public init(window: Int, lyapunov: Double, maxNorm: Double) {
        self.window = window
        self.lyapunov = lyapunov
        self.maxNorm = maxNorm
    }

    public var description: String {
        String(format: "λ ≈ %+.3g per step, max‖J‖ = %.3g over the first %d steps", lyapunov, maxNorm, window)
    }

    /// The window's length: 512 steps (a fraction of a millisecond of rollout).
    public static let defaultWindow = 512

    /// Estimates from Jacobians `[W][jrow]` of the given structure (the cell's layout).
    static func estimate<S: ScanScalar>(
        jacobians: UnsafePointer<S>, window: Int, jrow: Int, structure: JacobianStructure,
        batch: Int, stateSize n: Int
    ) -> Contractivity {
        let row = batch * n
        var lyapunov = -Double.infinity
        var maxNorm = 0.0
        let floor = Double.leastNormalMagnitude
        /// Σ_t log ‖J_t v_{t−1}‖ for the k×k matrices entry(t, r, c), v renormalised each step
        /// (the power iteration of the Lyapunov estimate); raises `maxNorm` to max_t ‖J_t‖∞.
        func powerIteration(size k: Int, _ entry: (Int, Int, Int) -> Double) -> Double {
            var v = [Double](repeating: 1 / Double(k).squareRoot(), count: k)
            var sum = 0.0
            for t in 0..<window {
                var w = [Double](repeating: 0, count: k)
                for r in 0..<k {
                    var norm = 0.0
                    for c in 0..<k {
                        let a = entry(t, r, c)
                        w[r] += a * v[c]
                        norm += abs(a)
                    }
                    maxNorm = norm > maxNorm || norm.isNaN ? norm : maxNorm
                }
                let length = max(w.reduce(0) { $0 + $1 * $1 }.squareRoot(), floor)
                sum += log(length)
                v = w.map { $0 / length }
            }
            return sum
        }
        switch structure {
        case .diagonal:
            for l in 0..<row {
                var sum = 0.0
                for t in 0..<window {
                    let a = abs(Double(jacobians[t * jrow + l]))
                    maxNorm = a > maxNorm || a.isNaN ? a : maxNorm
                    sum += log(max(a, floor))
                }
                lyapunov = max(lyapunov, sum / Double(window))
            }
        case .blockDiagonal(let k):
            let blocks = row / k
            for l in 0..<blocks {
                let sum = powerIteration(size: k) { t, r, c in Double(jacobians[t * jrow + (r * k + c) * blocks + l]) }
                lyapunov = max(lyapunov, sum / Double(window))
            }
        case .dense:
            for b in 0..<batch {
                let sum = powerIteration(size: n) { t, r, c in Double(jacobians[t * jrow + b * n * n + r * n + c]) }
                lyapunov = max(lyapunov, sum / Double(window))
            }
        }
        return Contractivity(window: window, lyapunov: lyapunov, maxNorm: maxNorm)
    }
}

extension SequenceSolver {
    /// The ``Contractivity`` of the recurrence along the first min(T, W) steps of its rollout
    /// from `initialState` (zeros if nil): one short sequential rollout and one linearisation.
    public func contractivity(
        projections: UnsafePointer<Scalar>, steps: Int, batch: Int,
        initialState: UnsafePointer<Scalar>? = nil, window: Int = Contractivity.defaultWindow
    ) -> Contractivity {
        let row = cell.stateRowSize(batch: batch)
        let jrow = cell.jacobianRowSize(batch: batch, request: .structured)
        // At most 2²⁰ Jacobian values (dense cells with wide batches get fewer steps).
        let w = max(1, min(steps, window, max(8, 1_048_576 / max(1, jrow))))
        var zeros = zeroArray(Scalar.self, count: row)
        var states = uninitializedArray(Scalar.self, count: w * row)
        var values = uninitializedArray(Scalar.self, count: w * row)
        var jacobians = uninitializedArray(Scalar.self, count: w * jrow)
        return zeros.withUnsafeMutableBufferPointer { z in
            let h0 = initialState ?? UnsafePointer(z.baseAddress!)
            return states.withUnsafeMutableBufferPointer { h in
                cell.rollout(steps: 0..<w, batch: batch, previous: h0, projections: projections, states: h.baseAddress!)
                return values.withUnsafeMutableBufferPointer { f in
                    jacobians.withUnsafeMutableBufferPointer { j in
                        cell.linearize(
                            steps: 0..<w, batch: batch, previous: h0, states: UnsafePointer(h.baseAddress!),
                            projections: projections, values: f.baseAddress!, jacobians: j.baseAddress!,
                            request: .structured)
                        return Contractivity.estimate(
                            jacobians: UnsafePointer(j.baseAddress!), window: w, jrow: jrow,
                            structure: cell.structure, batch: batch, stateSize: cell.stateSize)
                    }
                }
            }
        }
    }
}
