import ParallelScan

/// A small deterministic generator (SplitMix64) so every test case is reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func randomArray<S: ScanScalar>(
    _ count: Int, in range: ClosedRange<Double>, _ rng: inout SeededGenerator, as: S.Type = S.self
) -> [S] {
    (0..<count).map { _ in S(Double.random(in: range, using: &rng)) }
}

/// Largest |x − y| over two arrays, and the largest |y| (the scale errors are judged against).
func maxDifference<S: ScanScalar>(_ x: [S], _ y: [S]) -> (difference: Double, scale: Double) {
    precondition(x.count == y.count)
    var difference = 0.0
    var scale = 0.0
    for i in x.indices {
        difference = max(difference, abs(Double(x[i]) - Double(y[i])))
        scale = max(scale, abs(Double(y[i])))
    }
    return (difference, scale)
}

/// Reference: the plain sequential loop h_t = a_t h_{t∓1} + b_t, written independently of the
/// library (index arithmetic only).
func referenceDiagonal<S: ScanScalar>(
    a: [S], b: [S], steps: Int, lanes: Int, initial: [S]?, reverse: Bool
) -> [S] {
    var h = initial ?? [S](repeating: 0, count: lanes)
    var out = [S](repeating: 0, count: steps * lanes)
    let order = reverse ? Array((0..<steps).reversed()) : Array(0..<steps)
    for t in order {
        for j in 0..<lanes {
            h[j] = a[t * lanes + j] * h[j] + b[t * lanes + j]
            out[t * lanes + j] = h[j]
        }
    }
    return out
}

/// Reference for block-diagonal scans with the `[T][k][k][blocks]` layout.
func referenceBlock<S: ScanScalar>(
    a: [S], b: [S], steps: Int, blocks: Int, k: Int, initial: [S]?, transposed: Bool,
    reverse: Bool
) -> [S] {
    var h = initial ?? [S](repeating: 0, count: k * blocks)
    var out = [S](repeating: 0, count: steps * k * blocks)
    let order = reverse ? Array((0..<steps).reversed()) : Array(0..<steps)
    for t in order {
        var next = h
        for j in 0..<blocks {
            for r in 0..<k {
                var acc = b[t * k * blocks + r * blocks + j]
                for c in 0..<k {
                    let (row, col) = transposed ? (c, r) : (r, c)
                    acc += a[t * k * k * blocks + (row * k + col) * blocks + j] * h[c * blocks + j]
                }
                next[r * blocks + j] = acc
            }
        }
        h = next
        for i in 0..<(k * blocks) { out[t * k * blocks + i] = h[i] }
    }
    return out
}

/// Reference for dense scans with the `[T][batch][d][d]` layout.
func referenceDense<S: ScanScalar>(
    a: [S], b: [S], steps: Int, batch: Int, d: Int, initial: [S]?, transposed: Bool,
    reverse: Bool
) -> [S] {
    var h = initial ?? [S](repeating: 0, count: batch * d)
    var out = [S](repeating: 0, count: steps * batch * d)
    let order = reverse ? Array((0..<steps).reversed()) : Array(0..<steps)
    for t in order {
        var next = h
        for n in 0..<batch {
            for r in 0..<d {
                var acc = b[(t * batch + n) * d + r]
                for c in 0..<d {
                    let (row, col) = transposed ? (c, r) : (r, c)
                    acc += a[((t * batch + n) * d + row) * d + col] * h[n * d + c]
                }
                next[n * d + r] = acc
            }
        }
        h = next
        for i in 0..<(batch * d) { out[t * batch * d + i] = h[i] }
    }
    return out
}

/// Tolerance for a contracting linear recurrence evaluated with a different bracketing:
/// each output is Σ_k (∏ a) b_k; regrouping the products changes every term by a few ulps and
/// terms decay like |a|^k, so the error is bounded by c·ε·(1/(1 − ρ))·max|h| for contraction
/// factor ρ < 1. We take c = 64 (a handful of roundings per term, with margin).
func contractingTolerance<S: ScanScalar>(_: S.Type, contraction rho: Double, scale: Double)
    -> Double
{
    64 * Double(S.ulpOfOne) * (1 / (1 - rho)) * max(1, scale)
}
