import ParallelScan
import Testing

/// The vector chunk reductions (diagonal lanes; rows of A·P for small dense matrices) against the
/// plain composition written out here with the library's operation order: bitwise equal, so
/// chunked scans give the same bits as before the vector kernels.
@Suite("Chunk reductions in vectors")
struct ChunkReduceTests {
    /// (P, Q) of `steps` steps, composed in the scan's order: P ← op(A)·P with each element summed
    /// from zero in k order; Q ← b + (Σ_k A_ik q_k) (dot products) or, transposed, b then
    /// + A_ki q_k for k in order (the solve's row updates).
    func reference(
        a: [Double], b: [Double], d: Int, batch: Int, steps: Int, transposed: Bool, reverse: Bool
    ) -> [Double] {
        var p = [Double](repeating: 0, count: batch * d * d)
        var q = [Double](repeating: 0, count: batch * d)
        for n in 0..<batch { for i in 0..<d { p[n * d * d + i * d + i] = 1 } }
        for step in 0..<steps {
            let t = reverse ? steps - 1 - step : step
            var np = p
            var nq = Array(b[(t * batch * d)..<((t + 1) * batch * d)])
            for n in 0..<batch {
                func op(_ i: Int, _ k: Int) -> Double {
                    let base = t * batch * d * d + n * d * d
                    return transposed ? a[base + k * d + i] : a[base + i * d + k]
                }
                for i in 0..<d {
                    for j in 0..<d {
                        var acc = 0.0
                        for k in 0..<d { acc += op(i, k) * p[n * d * d + k * d + j] }
                        np[n * d * d + i * d + j] = acc
                    }
                }
                if transposed {
                    for k in 0..<d { for i in 0..<d { nq[n * d + i] += op(i, k) * q[n * d + k] } }
                } else {
                    for i in 0..<d {
                        var sum = 0.0
                        for k in 0..<d { sum += op(i, k) * q[n * d + k] }
                        nq[n * d + i] += sum
                    }
                }
            }
            (p, q) = (np, nq)
        }
        return p + q
    }

    @Test("diagonal chunks of 1…21 lanes (8-, 4- and 1-wide pieces), both directions: bitwise the plain composition")
    func diagonalBitwise() {
        var rng = SeededGenerator(seed: 43)
        let steps = 9
        for lanes in [1, 3, 4, 8, 13, 21] {
            let a: [Float] = randomArray(steps * lanes, in: -0.99...0.99, &rng)
            let b: [Float] = randomArray(steps * lanes, in: -1...1, &rng)
            for reverse in [false, true] {
                var p = [Float](repeating: 1, count: lanes)
                var q = [Float](repeating: 0, count: lanes)
                for step in 0..<steps {
                    let t = reverse ? steps - 1 - step : step
                    for j in 0..<lanes {
                        p[j] = a[t * lanes + j] * p[j]
                        q[j] = a[t * lanes + j] * q[j] + b[t * lanes + j]
                    }
                }
                var summary = [Float](repeating: 0, count: 2 * lanes)
                a.withUnsafeBufferPointer { a in
                    b.withUnsafeBufferPointer { b in
                        summary.withUnsafeMutableBufferPointer { s in
                            ScanKernels(
                                shape: .diagonal(lanes: lanes), a: a.baseAddress!, b: b.baseAddress!,
                                transposed: false, reverse: reverse
                            ).reduce(0..<steps, into: s.baseAddress!, scratch: s.baseAddress! + lanes)
                        }
                    }
                }
                #expect(summary == p + q, "lanes \(lanes) reverse \(reverse)")
            }
        }
    }

    @Test("d = 4, 8, 12, 16, both directions, transposed or not: bitwise the plain composition")
    func bitwise() {
        var rng = SeededGenerator(seed: 41)
        let (batch, steps) = (2, 6)
        for d in [4, 8, 12, 16] {
            let a: [Double] = randomArray(steps * batch * d * d, in: -0.4...0.4, &rng)
            let b: [Double] = randomArray(steps * batch * d, in: -1...1, &rng)
            for transposed in [false, true] {
                for reverse in [false, true] {
                    let half = batch * (d * d + d)
                    var summary = [Double](repeating: 0, count: 2 * half)
                    a.withUnsafeBufferPointer { a in
                        b.withUnsafeBufferPointer { b in
                            summary.withUnsafeMutableBufferPointer { s in
                                ScanKernels(
                                    shape: .dense(batch: batch, dimension: d), a: a.baseAddress!, b: b.baseAddress!,
                                    transposed: transposed, reverse: reverse
                                ).reduce(0..<steps, into: s.baseAddress!, scratch: s.baseAddress! + half)
                            }
                        }
                    }
                    let expected = reference(
                        a: a, b: b, d: d, batch: batch, steps: steps, transposed: transposed, reverse: reverse)
                    #expect(Array(summary[0..<half]) == expected, "d \(d) transposed \(transposed) reverse \(reverse)")
                }
            }
        }
    }
}
