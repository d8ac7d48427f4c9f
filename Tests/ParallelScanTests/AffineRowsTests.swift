import ParallelScan
import Testing

/// The row-range scan pieces (solve a run of rows from a carry; compose rows onto a summary)
/// against plain sequential loops over the k×k blocks, for the narrow SIMD paths (k ≤ 2, 4/8/16
/// blocks) and the general ones. Double: the only difference from the loops is the order of the
/// composition, so results agree to a few ulp of the (contracting) values.
@Suite("Affine row pieces vs sequential block loops")
struct AffineRowsTests {
    /// h_t = A_t h_{t−1} + b_t over the blocks, plain loops.
    func step(_ a: [Double], _ b: [Double], t: Int, k: Int, blocks: Int, _ h: [Double]) -> [Double] {
        var out = [Double](repeating: 0, count: k * blocks)
        for j in 0..<blocks {
            for r in 0..<k {
                var acc = b[t * k * blocks + r * blocks + j]
                for c in 0..<k { acc += a[t * k * k * blocks + (r * k + c) * blocks + j] * h[c * blocks + j] }
                out[r * blocks + j] = acc
            }
        }
        return out
    }

    @Test(arguments: [(1, 4), (1, 8), (1, 16), (1, 5), (1, 20), (2, 4), (2, 8), (2, 16), (2, 6), (3, 4), (5, 4)])
    func solveAndCompose(k: Int, blocks: Int) throws {
        var rng = SeededGenerator(seed: UInt64(k * 100 + blocks))
        let steps = 203
        let state = k * blocks
        // Entries small enough that every block map contracts (‖A‖∞ ≤ 0.9).
        let a: [Double] = randomArray(steps * k * state, in: -0.9 / Double(k)...0.9 / Double(k), &rng)
        let b: [Double] = randomArray(steps * state, in: -1...1, &rng)
        let carry: [Double] = randomArray(state, in: -2...2, &rng)
        var want = [[Double]]()
        var h = carry
        for t in 0..<steps {
            h = step(a, b, t: t, k: k, blocks: blocks, h)
            want.append(h)
        }
        // Solve in uneven pieces (1, 2, 3, 17, 180 rows), each from the last state written.
        var got = [Double](repeating: .nan, count: steps * state)
        let cuts = [0, 1, 3, 6, 23, steps]
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                got.withUnsafeMutableBufferPointer { out in
                    carry.withUnsafeBufferPointer { c in
                        for p in 0..<(cuts.count - 1) {
                            let rows = cuts[p]..<cuts[p + 1]
                            let before =
                                rows.lowerBound == 0
                                ? c.baseAddress! : UnsafePointer(out.baseAddress! + (rows.lowerBound - 1) * state)
                            AffineRows.solve(
                                a: a.baseAddress!, b: b.baseAddress!, rows: rows, blocks: blocks,
                                blockSize: k, carry: before, output: out.baseAddress!)
                        }
                    }
                }
            }
        }
        var worst = 0.0
        for t in 0..<steps { for i in 0..<state { worst = max(worst, abs(got[t * state + i] - want[t][i])) } }
        #expect(worst <= 1e-13, "solve k=\(k) blocks=\(blocks): \(worst)")

        // Compose the same pieces onto one summary, then apply it to the carry: the last state.
        var summary = [Double](repeating: .nan, count: AffineRows.summaryCount(blocks: blocks, blockSize: k))
        var last = [Double](repeating: .nan, count: state)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                summary.withUnsafeMutableBufferPointer { s in
                    AffineRows.resetSummary(s.baseAddress!, blocks: blocks, blockSize: k)
                    for p in 0..<(cuts.count - 1) {
                        AffineRows.accumulate(
                            a: a.baseAddress!, b: b.baseAddress!, rows: cuts[p]..<cuts[p + 1],
                            blocks: blocks, blockSize: k, summary: s.baseAddress!)
                    }
                    carry.withUnsafeBufferPointer { c in
                        last.withUnsafeMutableBufferPointer { l in
                            AffineRows.applySummary(
                                UnsafePointer(s.baseAddress!), blocks: blocks, blockSize: k,
                                input: c.baseAddress!, output: l.baseAddress!)
                        }
                    }
                }
            }
        }
        var error = 0.0
        for i in 0..<state { error = max(error, abs(last[i] - want[steps - 1][i])) }
        #expect(error <= 1e-13, "compose k=\(k) blocks=\(blocks): \(error)")
    }
}
