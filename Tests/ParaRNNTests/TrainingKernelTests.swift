import ParallelScan
import Testing

@testable import ParaRNN

/// The training step's weight-gradient kernels against the formulas summed naively in Double:
/// the recurrent ∂L/∂W_hh, ∂L/∂b_hh as outer products (`accumulateOuterProducts`), and the
/// few-input side ∂L/∂W_ih, ∂L/∂b_ih, ∂L/∂x (`accumulateFewInputGradients`). Shapes cover d's
/// tails (d mod 16, mod 8), G·d mod 4, single and odd batches, and a hidden part at the end of
/// a longer state entry (LSTM's (c, h)); the outputs start nonzero, as the kernels accumulate.
@Suite("Training-step gradient kernels vs naive sums")
struct TrainingKernelTests {
    /// ∂L/∂W_hh[r][k] += Σ δ_{t,b}[r] h_{t−1,b}[k] and ∂L/∂b_hh[r] += Σ δ_{t,b}[r], with h_{−1}
    /// from `previous`.
    func outerProducts<S: ScanScalar>(
        _: S.Type, gates: Int, hidden d: Int, stateSize n: Int, batch: Int, steps: Int, tolerance: Double
    ) {
        var rng = SeededGenerator(seed: UInt64(gates * 1000 + d * 10 + batch))
        let gd = gates * d
        let row = batch * n
        let previous: [S] = uniform(row, 1, &rng)
        let states: [S] = uniform(steps * row, 1, &rng)
        let deltas: [S] = uniform(steps * batch * gd, 1, &rng)
        let start: [S] = uniform(gd * d + gd, 1, &rng)
        var out = start
        previous.withUnsafeBufferPointer { p in
            states.withUnsafeBufferPointer { s in
                deltas.withUnsafeBufferPointer { g in
                    out.withUnsafeMutableBufferPointer { o in
                        accumulateOuterProducts(
                            OuterProductRows(
                                steps: steps, batch: batch, gradients: g.baseAddress!,
                                previous: p.baseAddress! + (n - d), states: s.baseAddress! + (n - d), stepStride: row,
                                entryStride: n),
                            outputs: gd, hidden: d, weights: o.baseAddress!, bias: o.baseAddress! + gd * d)
                    }
                }
            }
        }
        func hidden(_ t: Int, _ b: Int, _ k: Int) -> Double {
            Double(t == 0 ? previous[b * n + n - d + k] : states[(t - 1) * row + b * n + n - d + k])
        }
        var worst = 0.0
        for r in 0..<gd {
            var bias = Double(start[gd * d + r])
            for t in 0..<steps { for b in 0..<batch { bias += Double(deltas[(t * batch + b) * gd + r]) } }
            worst = max(worst, abs(Double(out[gd * d + r]) - bias))
            for k in 0..<d {
                var sum = Double(start[r * d + k])
                for t in 0..<steps {
                    for b in 0..<batch { sum += Double(deltas[(t * batch + b) * gd + r]) * hidden(t, b, k) }
                }
                worst = max(worst, abs(Double(out[r * d + k]) - sum))
            }
        }
        #expect(worst <= tolerance, "\(S.self) G \(gates) d \(d) n \(n) B \(batch): max error \(worst)")
    }

    @Test func recurrentWeightGradientsFloat() {
        for (gates, d, n, batch, steps) in [(3, 19, 19, 5, 7), (4, 8, 16, 3, 4), (1, 3, 3, 1, 2), (3, 64, 64, 2, 3)] {
            outerProducts(
                Float.self, gates: gates, hidden: d, stateSize: n, batch: batch, steps: steps, tolerance: 1e-4)
        }
    }

    @Test func recurrentWeightGradientsDouble() {
        for (gates, d, n, batch, steps) in [(3, 19, 19, 5, 7), (4, 11, 22, 3, 4), (1, 5, 5, 1, 2), (3, 16, 16, 9, 20)] {
            outerProducts(
                Double.self, gates: gates, hidden: d, stateSize: n, batch: batch, steps: steps, tolerance: 1e-12)
        }
    }

    /// ∂L/∂W_ih, ∂L/∂b_ih and ∂L/∂x from ∂L/∂u `[T][G][B][d]`.
    func fewInputs<S: ScanScalar>(
        _: S.Type, gates g: Int, hidden d: Int, inputs m: Int, batch: Int, steps: Int, tolerance: Double
    ) {
        var rng = SeededGenerator(seed: UInt64(g * 1000 + d * 10 + m))
        let gd = g * d
        let du: [S] = uniform(steps * g * batch * d, 1, &rng)
        let x: [S] = uniform(steps * batch * m, 1, &rng)
        let w: [S] = uniform(gd * m, 1, &rng)
        let (w0, b0, x0): ([S], [S], [S]) = (
            uniform(gd * m, 1, &rng), uniform(gd, 1, &rng), uniform(steps * batch * m, 1, &rng)
        )
        var (dW, dB, dX) = (w0, b0, x0)
        du.withUnsafeBufferPointer { du in
            x.withUnsafeBufferPointer { x in
                w.withUnsafeBufferPointer { w in
                    dW.withUnsafeMutableBufferPointer { dW in
                        dB.withUnsafeMutableBufferPointer { dB in
                            dX.withUnsafeMutableBufferPointer { dX in
                                accumulateFewInputGradients(
                                    InputGradientShape(gates: g, hidden: d, inputs: m, steps: steps, batch: batch),
                                    projectionGradients: du.baseAddress!, inputs: x.baseAddress!,
                                    weights: w.baseAddress!,
                                    weightGradients: dW.baseAddress!, biasGradients: dB.baseAddress!,
                                    inputGradients: dX.baseAddress!)
                            }
                        }
                    }
                }
            }
        }
        func gradient(_ t: Int, _ b: Int, _ r: Int) -> Double {
            Double(du[((t * g + r / d) * batch + b) * d + r % d])
        }
        var worst = 0.0
        for r in 0..<gd {
            var bias = Double(b0[r])
            for t in 0..<steps { for b in 0..<batch { bias += gradient(t, b, r) } }
            worst = max(worst, abs(Double(dB[r]) - bias))
            for i in 0..<m {
                var sum = Double(w0[r * m + i])
                for t in 0..<steps {
                    for b in 0..<batch { sum += gradient(t, b, r) * Double(x[(t * batch + b) * m + i]) }
                }
                worst = max(worst, abs(Double(dW[r * m + i]) - sum))
            }
        }
        for t in 0..<steps {
            for b in 0..<batch {
                for i in 0..<m {
                    var sum = Double(x0[(t * batch + b) * m + i])
                    for r in 0..<gd { sum += Double(w[r * m + i]) * gradient(t, b, r) }
                    worst = max(worst, abs(Double(dX[(t * batch + b) * m + i]) - sum))
                }
            }
        }
        #expect(worst <= tolerance, "\(S.self) G \(g) d \(d) m \(m) B \(batch): max error \(worst)")
    }

    @Test func fewInputGradientsFloat() {
        for (g, d, m, batch, steps) in [
            (3, 5, 1, 3, 6), (4, 16, 3, 1, 5), (3, 11, 8, 2, 4), (1, 64, 2, 8, 3), (3, 8, 2, 8, 6), (4, 8, 1, 3, 5),
            (1, 8, 3, 2, 4),
        ] {
            fewInputs(Float.self, gates: g, hidden: d, inputs: m, batch: batch, steps: steps, tolerance: 1e-4)
        }
    }

    @Test func fewInputGradientsDouble() {
        for (g, d, m, batch, steps) in [
            (3, 5, 1, 3, 6), (4, 16, 3, 1, 5), (3, 11, 8, 2, 4), (2, 9, 2, 5, 7), (4, 8, 4, 2, 3),
        ] {
            fewInputs(Double.self, gates: g, hidden: d, inputs: m, batch: batch, steps: steps, tolerance: 1e-12)
        }
    }
}
