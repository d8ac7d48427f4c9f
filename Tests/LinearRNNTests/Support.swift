import Foundation
import ParallelScan
import Testing

/// Deterministic uniform numbers for test data.
struct TestRandom {
    var state: UInt64
    init(_ seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func unit() -> Double {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(state >> 11) / Double(1 << 53)
    }
    mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * unit() }
    mutating func array(_ count: Int, _ lo: Double = -1, _ hi: Double = 1) -> [Double] {
        (0..<count).map { _ in uniform(lo, hi) }
    }
}

/// A tiny complex number for the reference loops.
struct Complex {
    var re: Double, im: Double
    init(_ re: Double, _ im: Double = 0) {
        self.re = re
        self.im = im
    }
    static func + (a: Complex, b: Complex) -> Complex { Complex(a.re + b.re, a.im + b.im) }
    static func - (a: Complex, b: Complex) -> Complex { Complex(a.re - b.re, a.im - b.im) }
    static func * (a: Complex, b: Complex) -> Complex {
        Complex(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re)
    }
    static func / (a: Complex, b: Complex) -> Complex {
        let q = b.re * b.re + b.im * b.im
        return Complex((a.re * b.re + a.im * b.im) / q, (a.im * b.re - a.re * b.im) / q)
    }
    static func exp(_ z: Complex) -> Complex {
        let r = Foundation.exp(z.re)
        return Complex(r * cos(z.im), r * sin(z.im))
    }
    var abs2: Double { re * re + im * im }
}

/// Pools exercising the sequential path and the parallel path with several chunk counts.
let testPools: [WorkerPool] = [
    WorkerPool(threadCount: 1, choice: .allThreads), WorkerPool(threadCount: 2, grainSize: 1, choice: .allThreads),
    WorkerPool(threadCount: 3, grainSize: 1, choice: .allThreads),
    WorkerPool(threadCount: 5, grainSize: 1, choice: .allThreads),
]

/// max |a − b| / max(1, max |b|).
func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    var diff = 0.0
    var scale = 1.0
    for i in a.indices {
        diff = max(diff, abs(a[i] - b[i]))
        scale = max(scale, abs(b[i]))
    }
    return diff / scale
}

func toFloat(_ a: [Double]) -> [Float] { a.map { Float($0) } }
func toDouble(_ a: [Float]) -> [Double] { a.map { Double($0) } }

/// Checks an analytic gradient against central finite differences of `loss` at `values`:
/// max |analytic − numeric| / max(max |numeric|, 1e-3) ≤ tolerance.
func checkGradient(
    _ name: String, analytic: [Double], at values: [Double], step: Double = 1e-5,
    tolerance: Double = 1e-5, sourceLocation: SourceLocation = #_sourceLocation,
    loss: ([Double]) throws -> Double
) rethrows {
    #expect(analytic.count == values.count, "\(name): gradient size", sourceLocation: sourceLocation)
    var numeric = [Double](repeating: 0, count: values.count)
    var v = values
    for i in values.indices {
        v[i] = values[i] + step
        let up = try loss(v)
        v[i] = values[i] - step
        let down = try loss(v)
        v[i] = values[i]
        numeric[i] = (up - down) / (2 * step)
    }
    var diff = 0.0
    var scale = 1e-3
    for i in values.indices {
        diff = max(diff, abs(analytic[i] - numeric[i]))
        scale = max(scale, abs(numeric[i]))
    }
    #expect(diff / scale <= tolerance, "\(name): relative error \(diff / scale)", sourceLocation: sourceLocation)
}

/// Σ ⟨G, y⟩.
func dot(_ a: [Double], _ b: [Double]) -> Double {
    var s = 0.0
    for i in a.indices { s += a[i] * b[i] }
    return s
}
