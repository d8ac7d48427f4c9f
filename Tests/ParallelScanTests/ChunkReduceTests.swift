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

    @Test(
        "2×2 block chunks of 1…21 blocks (8-, 4- and 1-wide pieces), transposed or not, both directions: bitwise the plain composition"
    )
    func twoByTwoBitwise() {
        var rng = SeededGenerator(seed: 44)
        let steps = 7
        let k = 2
        for blocks in [1, 3, 4, 8, 13, 21] {
            let a: [Float] = randomArray(steps * k * k * blocks, in: -0.9...0.9, &rng)
            let b: [Float] = randomArray(steps * k * blocks, in: -1...1, &rng)
            for transposed in [false, true] {
                for reverse in [false, true] {
                    // P [k][k][blocks] from the identity, Q [k][blocks] from zero.
                    var p = [Float](repeating: 0, count: k * k * blocks)
                    for j in 0..<blocks {
                        p[j] = 1
                        p[3 * blocks + j] = 1
                    }
                    var q = [Float](repeating: 0, count: k * blocks)
                    for step in 0..<steps {
                        let t = reverse ? steps - 1 - step : step
                        for j in 0..<blocks {
                            func op(_ r: Int, _ c: Int) -> Float {
                                a[t * k * k * blocks + (transposed ? c * k + r : r * k + c) * blocks + j]
                            }
                            let (oldP, oldQ) = (p, q)
                            for r in 0..<k {
                                var acc = b[t * k * blocks + r * blocks + j]
                                for m in 0..<k { acc += op(r, m) * oldQ[m * blocks + j] }
                                q[r * blocks + j] = acc
                                for c in 0..<k {
                                    var sum: Float = 0
                                    for m in 0..<k { sum += op(r, m) * oldP[(m * k + c) * blocks + j] }
                                    p[(r * k + c) * blocks + j] = sum
                                }
                            }
                        }
                    }
                    let half = (k * k + k) * blocks
                    var summary = [Float](repeating: 0, count: 2 * half)
                    a.withUnsafeBufferPointer { a in
                        b.withUnsafeBufferPointer { b in
                            summary.withUnsafeMutableBufferPointer { s in
                                ScanKernels(
                                    shape: .blockDiagonal(blocks: blocks, blockSize: k), a: a.baseAddress!,
                                    b: b.baseAddress!, transposed: transposed, reverse: reverse
                                ).reduce(0..<steps, into: s.baseAddress!, scratch: s.baseAddress! + half)
                            }
                        }
                    }
                    #expect(
                        Array(summary[0..<half]) == p + q,
                        "blocks \(blocks) transposed \(transposed) reverse \(reverse)")
                }
            }
        }
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
