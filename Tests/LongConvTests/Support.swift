import Foundation
import LongConv
import ParallelScan

/// A minimal complex number for test-side references (independent of the library's arithmetic).
struct Cx: Equatable {
    var re: Double, im: Double
    init(_ re: Double, _ im: Double = 0) {
        self.re = re
        self.im = im
    }
    static let zero = Cx(0)
    static let one = Cx(1)
    static func + (a: Cx, b: Cx) -> Cx { Cx(a.re + b.re, a.im + b.im) }
    static func - (a: Cx, b: Cx) -> Cx { Cx(a.re - b.re, a.im - b.im) }
    static func * (a: Cx, b: Cx) -> Cx { Cx(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re) }
    static func * (a: Cx, s: Double) -> Cx { Cx(a.re * s, a.im * s) }
    static func / (a: Cx, b: Cx) -> Cx {
        let d = b.re * b.re + b.im * b.im
        return Cx((a.re * b.re + a.im * b.im) / d, (a.im * b.re - a.re * b.im) / d)
    }
    var conj: Cx { Cx(re, -im) }
    var abs: Double { (re * re + im * im).squareRoot() }
    static func exp(_ z: Cx) -> Cx { Cx(Foundation.exp(z.re) * cos(z.im), Foundation.exp(z.re) * sin(z.im)) }
}

func randomArray(_ count: Int, seed: UInt64) -> [Double] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in rng.normal() }
}

func maxAbs(_ x: [Double]) -> Double { x.reduce(0) { max($0, Swift.abs($1)) } }

func maxDiff(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    var m = 0.0
    for i in a.indices { m = max(m, Swift.abs(a[i] - b[i])) }
    return m
}

/// A naive triple-loop causal (and optionally anti-causal) convolution, written independently.
func naiveConvolution(
    _ u: [Double], batch: Int, channels: Int, length L: Int, k0: [Double], k1: [Double]?, skip: [Double]?
) -> [Double] {
    var y = [Double](repeating: 0, count: u.count)
    for b in 0..<batch {
        for c in 0..<channels {
            let base = (b * channels + c) * L
            for t in 0..<L {
                var s = 0.0
                for j in 0...t { s += k0[c * L + t - j] * u[base + j] }
                if let k1 { for j in (t + 1)..<max(t + 1, L) { s += k1[c * L + j - t - 1] * u[base + j] } }
                if let skip { s += skip[c] * u[base + t] }
                y[base + t] = s
            }
        }
    }
    return y
}

/// Solves M X = R for complex M (n×n row-major) with partial pivoting; R is n×k.
func complexSolve(_ m: [Cx], _ r: [Cx], n: Int, k: Int) -> [Cx] {
    var a = m
    var x = r
    for col in 0..<n {
        var piv = col
        for row in col..<n where a[row * n + col].abs > a[piv * n + col].abs { piv = row }
        if piv != col {
            for j in 0..<n { a.swapAt(col * n + j, piv * n + j) }
            for j in 0..<k { x.swapAt(col * k + j, piv * k + j) }
        }
        let inv = Cx.one / a[col * n + col]
        for row in (col + 1)..<n {
            let f = a[row * n + col] * inv
            if f == .zero { continue }
            for j in col..<n { a[row * n + j] = a[row * n + j] - f * a[col * n + j] }
            for j in 0..<k { x[row * k + j] = x[row * k + j] - f * x[col * k + j] }
        }
    }
    for col in stride(from: n - 1, through: 0, by: -1) {
        for j in 0..<k {
            var s = x[col * k + j]
            for c2 in (col + 1)..<n { s = s - a[col * n + c2] * x[c2 * k + j] }
            x[col * k + j] = s / a[col * n + col]
        }
    }
    return x
}
