import ParallelScan
import Testing

@testable import ParaRNN

/// The few-input projection sweep (weight columns in registers, rows swept per octet) for one
/// sequence and for a batch, against the per-row direct kernel it replaces there: the same sums
/// in the same order, so equal bit for bit — octets, quads and scalar tails, 1…4 inputs, Float and Double — and
/// against a plain double-precision loop within rounding.
@Suite("Input projection: few-input rows")
struct InputProjectionTests {
    func check<S: ScanScalar>(_: S.Type, inputs m: Int, gates g: Int, hidden d: Int) {
        var rng = SeededGenerator(seed: UInt64(100 * m + 10 * g + d))
        let n = g * d
        let steps = 37
        let weights: [S] = (0..<(n * m)).map { _ in S(Double.random(in: -1...1, using: &rng)) }
        let bias: [S] = (0..<n).map { _ in S(Double.random(in: -1...1, using: &rng)) }
        let x: [S] = (0..<(steps * m)).map { _ in S(Double.random(in: -2...2, using: &rng)) }
        let projection = InputProjection(gates: g, inputs: m, hidden: d, weights: weights, bias: bias)
        var swept = [S](repeating: .nan, count: steps * n)
        var perRow = [S](repeating: .nan, count: steps * n)
        x.withUnsafeBufferPointer { x in
            swept.withUnsafeMutableBufferPointer { out in
                // Rows 3..<steps through `project` (the sweep), rows 0..<3 too: two calls, so a
                // range that does not start at 0 is covered.
                projection.project(inputs: x.baseAddress!, rows: 0..<3, batch: 1, into: out.baseAddress!)
                projection.project(inputs: x.baseAddress!, rows: 3..<steps, batch: 1, into: out.baseAddress!)
            }
            projection.inputMajor.withUnsafeBufferPointer { w in
                bias.withUnsafeBufferPointer { b in
                    perRow.withUnsafeMutableBufferPointer { out in
                        for t in 0..<steps {
                            InputProjection<S>.directRow(
                                x: x.baseAddress! + t * m, inputs: m, weights: w.baseAddress!, stride: n, count: n,
                                bias: b.baseAddress!, into: out.baseAddress! + t * n)
                        }
                    }
                }
            }
        }
        #expect(swept == perRow, "m = \(m), G·d = \(n)")
        var worst = 0.0
        for t in 0..<steps {
            for o in 0..<n {
                var exact = Double(bias[o])
                for i in 0..<m { exact += Double(x[t * m + i]) * Double(weights[o * m + i]) }
                worst = max(worst, abs(exact - Double(swept[t * n + o])))
            }
        }
        #expect(worst <= 32 * Double(S.ulpOfOne), "m = \(m), G·d = \(n): \(worst)")
    }

    /// A batch of `batch` sequences (`[T][B][m]` in, `[T][G][B][d]` out): the sweep per step and
    /// gate over the entries against the per-(step, entry, gate) direct kernel, and a plain loop.
    func checkBatch<S: ScanScalar>(_: S.Type, inputs m: Int, gates g: Int, hidden d: Int, batch: Int) {
        var rng = SeededGenerator(seed: UInt64(1000 * batch + 100 * m + 10 * g + d))
        let n = g * d
        let steps = 5
        let row = n * batch
        let weights: [S] = (0..<(n * m)).map { _ in S(Double.random(in: -1...1, using: &rng)) }
        let bias: [S] = (0..<n).map { _ in S(Double.random(in: -1...1, using: &rng)) }
        let x: [S] = (0..<(steps * batch * m)).map { _ in S(Double.random(in: -2...2, using: &rng)) }
        let projection = InputProjection(gates: g, inputs: m, hidden: d, weights: weights, bias: bias)
        var swept = [S](repeating: .nan, count: steps * row)
        var perRow = [S](repeating: .nan, count: steps * row)
        x.withUnsafeBufferPointer { x in
            swept.withUnsafeMutableBufferPointer { out in
                projection.project(inputs: x.baseAddress!, rows: 0..<2, batch: batch, into: out.baseAddress!)
                projection.project(inputs: x.baseAddress!, rows: 2..<steps, batch: batch, into: out.baseAddress!)
            }
            projection.inputMajor.withUnsafeBufferPointer { w in
                bias.withUnsafeBufferPointer { b in
                    perRow.withUnsafeMutableBufferPointer { out in
                        for t in 0..<steps {
                            for e in 0..<batch {
                                for v in 0..<g {
                                    InputProjection<S>.directRow(
                                        x: x.baseAddress! + (t * batch + e) * m, inputs: m,
                                        weights: w.baseAddress! + v * d, stride: n, count: d,
                                        bias: b.baseAddress! + v * d,
                                        into: out.baseAddress! + t * row + (v * batch + e) * d)
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(swept == perRow, "m = \(m), G = \(g), d = \(d), B = \(batch)")
        var worst = 0.0
        for t in 0..<steps {
            for e in 0..<batch {
                for o in 0..<n {
                    var exact = Double(bias[o])
                    for i in 0..<m { exact += Double(x[(t * batch + e) * m + i]) * Double(weights[o * m + i]) }
                    let got = swept[t * row + ((o / d) * batch + e) * d + o % d]
                    worst = max(worst, abs(exact - Double(got)))
                }
            }
        }
        #expect(worst <= 32 * Double(S.ulpOfOne), "m = \(m), G = \(g), d = \(d), B = \(batch): \(worst)")
    }

    @Test(arguments: [1, 2, 3, 4])
    func batchSweepEqualsPerEntryKernel(inputs m: Int) {
        for (g, d, batch) in [(3, 8, 8), (4, 5, 3), (3, 4, 2), (1, 3, 3), (3, 13, 4)] {
            checkBatch(Float.self, inputs: m, gates: g, hidden: d, batch: batch)
            checkBatch(Double.self, inputs: m, gates: g, hidden: d, batch: batch)
        }
    }

    @Test(arguments: [1, 2, 3, 4])
    func sweepEqualsPerRowKernel(inputs m: Int) {
        for (g, d) in [(3, 4), (4, 4), (3, 7), (1, 3), (4, 5), (3, 8)] {
            check(Float.self, inputs: m, gates: g, hidden: d)
            check(Double.self, inputs: m, gates: g, hidden: d)
        }
    }
}
