import Foundation
import LinearRNN
import ParallelScan
import Testing

/// Direct complex loop for y_t = Re(C h_t) + D x_t, h_t = A_t h_{t−1} + U_t (per channel).
func referenceComplex(
    steps: Int, batch: Int, m: Int, n: Int, p: Int, x: [Double], cRe: [Double], cIm: [Double],
    d: [Double], step: (_ t: Int, _ s: Int, _ j: Int, _ xt: [Double]) -> (Complex, Complex)
) -> [Double] {
    var y = [Double](repeating: 0, count: steps * batch * p)
    for s in 0..<batch {
        var h = [Complex](repeating: Complex(0), count: n)
        for t in 0..<steps {
            let xt = Array(x[((t * batch + s) * m)..<((t * batch + s) * m + m)])
            for j in 0..<n {
                let (a, u) = step(t, s, j, xt)
                h[j] = a * h[j] + u
            }
            for i in 0..<p {
                var acc = 0.0
                for j in 0..<n { acc += (Complex(cRe[i * n + j], cIm[i * n + j]) * h[j]).re }
                for k in 0..<m { acc += d[i * m + k] * xt[k] }
                y[(t * batch + s) * p + i] = acc
            }
        }
    }
    return y
}

@Suite("Complex diagonal layers (LRU, S5)")
struct ComplexTests {
    let m = 2, n = 3, p = 2

    func lru(_ seed: UInt64) throws -> LRU<Double> {
        try LRU<Double>.ringInit(
            inputSize: m, stateSize: n, outputSize: p, rMin: 0.6, rMax: 0.95, maxPhase: 3, seed: seed)
    }

    @Test func ringInitIsStableAndNormalised() throws {
        let layer = try LRU<Double>.ringInit(
            inputSize: 4, stateSize: 64, outputSize: 2, rMin: 0.4, rMax: 0.9, maxPhase: 0.5)
        let (re, im, gamma) = layer.eigenvalues()
        for j in 0..<64 {
            let r = (re[j] * re[j] + im[j] * im[j]).squareRoot()
            #expect(r >= 0.4 - 1e-12 && r <= 0.9 + 1e-12)
            #expect(abs(atan2(im[j], re[j])) <= 0.5 + 1e-12)
            #expect(abs(gamma[j] * gamma[j] + r * r - 1) < 1e-12)
        }
        #expect(throws: LinearRNNError.self) {
            try LRU<Double>.ringInit(inputSize: 1, stateSize: 1, outputSize: 1, rMin: 0.9, rMax: 0.5)
        }
    }

    @Test func lruMatchesDirectComplexLoop() throws {
        let layer = try lru(11)
        let steps = 61
        let batch = 3
        var r = TestRandom(12)
        let x = r.array(steps * batch * m)
        let reference = referenceComplex(
            steps: steps, batch: batch, m: m, n: n, p: p, x: x, cRe: layer.cRe, cIm: layer.cIm, d: layer.d
        ) { _, _, j, xt in
            let lambda = Complex.exp(Complex(-exp(layer.nu[j]), layer.theta[j]))
            let gamma = (1 - lambda.abs2).squareRoot()
            var u = Complex(0)
            for k in 0..<m { u = u + Complex(layer.bRe[j * m + k], layer.bIm[j * m + k]) * Complex(xt[k]) }
            return (lambda, Complex(gamma) * u)
        }
        let layerF = try LRU<Float>(
            inputSize: m, stateSize: n, outputSize: p, nu: toFloat(layer.nu), theta: toFloat(layer.theta),
            bRe: toFloat(layer.bRe), bIm: toFloat(layer.bIm), cRe: toFloat(layer.cRe), cIm: toFloat(layer.cIm),
            d: toFloat(layer.d))
        for pool in testPools {
            let y = try layer.forward(x, steps: steps, batch: batch, pool: pool).output
            #expect(relativeError(y, reference) < 1e-12, "\(pool)")
            // Float: |λ| ≤ 0.95 contracts rounding errors by 1/(1 − 0.95) = 20 → 1e-5.
            let yf = try layerF.forward(toFloat(x), steps: steps, batch: batch, pool: pool).output
            #expect(relativeError(toDouble(yf), reference) < 1e-5, "\(pool)")
        }
    }

    @Test func lruStatesMatchBlockDiagonalScan() throws {
        // The complex scan vs ParallelScan's 2×2 rotation-scaling blocks [[Re λ, −Im λ], [Im λ, Re λ]].
        let layer = try lru(15)
        let steps = 47
        var r = TestRandom(16)
        let x = r.array(steps * m)
        let (re, im, gamma) = layer.eigenvalues()
        var a = [Double]()
        var u = [Double]()
        for t in 0..<steps {
            a += re + im.map { -$0 } + im + re
            var ur = [Double](repeating: 0, count: n)
            var ui = ur
            for j in 0..<n {
                for k in 0..<m {
                    ur[j] += gamma[j] * layer.bRe[j * m + k] * x[t * m + k]
                    ui[j] += gamma[j] * layer.bIm[j * m + k] * x[t * m + k]
                }
            }
            u += ur + ui
        }
        let pool = WorkerPool(threadCount: 3, grainSize: 1, choice: .allThreads)
        let blocks = try AffineScan.blockDiagonal(a: a, b: u, steps: steps, blocks: n, blockSize: 2, pool: pool)
        let states = try layer.forward(x, steps: steps, batch: 1, pool: pool).states
        #expect(relativeError(states, blocks) < 1e-13)
    }

    @Test func lruGradientsMatchFiniteDifferences() throws {
        let layer = try lru(13)
        let steps = 29
        let batch = 2
        var r = TestRandom(14)
        let x = r.array(steps * batch * m)
        let g = r.array(steps * batch * p)
        let pool = WorkerPool(threadCount: 2, grainSize: 1, choice: .allThreads)
        let trace = try layer.forward(x, steps: steps, batch: batch, pool: pool)
        let grads = try layer.backward(x, trace: trace, outputGradient: g, pool: pool)
        func loss(_ l: LRU<Double>, _ x: [Double]) throws -> Double {
            dot(g, try l.forward(x, steps: steps, batch: batch, pool: .serial).output)
        }
        try checkGradient("x", analytic: grads.input, at: x) { try loss(layer, $0) }
        let paths: [(String, WritableKeyPath<LRU<Double>, [Double]>, [Double])] = [
            ("nu", \.nu, grads.nu), ("theta", \.theta, grads.theta), ("bRe", \.bRe, grads.bRe),
            ("bIm", \.bIm, grads.bIm), ("cRe", \.cRe, grads.cRe), ("cIm", \.cIm, grads.cIm), ("d", \.d, grads.d),
        ]
        for (name, path, analytic) in paths {
            try checkGradient(name, analytic: analytic, at: layer[keyPath: path]) { v in
                var l = layer
                l[keyPath: path] = v
                return try loss(l, x)
            }
        }
    }

    func s5(_ seed: UInt64) throws -> S5<Double> {
        var r = TestRandom(seed)
        return try S5<Double>(
            inputSize: m, stateSize: n, outputSize: p, nu: r.array(n, -1, 0.5), omega: r.array(n, -3, 3),
            bRe: r.array(n * m), bIm: r.array(n * m), cRe: r.array(p * n), cIm: r.array(p * n), d: r.array(p * m))
    }

    @Test func s5MatchesDirectComplexLoop() throws {
        let layer = try s5(21)
        let steps = 53
        let batch = 2
        var r = TestRandom(22)
        let x = r.array(steps * batch * m)
        let dt = r.array(steps * batch, 1e-4, 0.8)
        let reference = referenceComplex(
            steps: steps, batch: batch, m: m, n: n, p: p, x: x, cRe: layer.cRe, cIm: layer.cIm, d: layer.d
        ) { t, s, j, xt in
            let lambda = Complex(-exp(layer.nu[j]), layer.omega[j])
            let abar = Complex.exp(lambda * Complex(dt[t * batch + s]))
            var u = Complex(0)
            for k in 0..<m { u = u + Complex(layer.bRe[j * m + k], layer.bIm[j * m + k]) * Complex(xt[k]) }
            return (abar, (abar - Complex(1)) / lambda * u)
        }
        for pool in testPools {
            let y = try layer.forward(x, dt: dt, steps: steps, batch: batch, pool: pool).output
            // The reference forms Ā − 1 without expm1: ~1e-16/(|Λ|Δ) cancellation at Δ = 1e-4.
            #expect(relativeError(y, reference) < 1e-10, "\(pool)")
        }
        #expect(throws: LinearRNNError.self) {
            try layer.forward(x, dt: dt.map { -$0 }, steps: steps, batch: batch)
        }
    }

    @Test func s5GradientsMatchFiniteDifferences() throws {
        let layer = try s5(23)
        let steps = 21
        let batch = 2
        var r = TestRandom(24)
        let x = r.array(steps * batch * m)
        let g = r.array(steps * batch * p)
        let dt = r.array(steps * batch, 0.05, 0.6)
        let pool = WorkerPool(threadCount: 3, grainSize: 1, choice: .allThreads)
        let trace = try layer.forward(x, dt: dt, steps: steps, batch: batch, pool: pool)
        let grads = try layer.backward(x, dt: dt, trace: trace, outputGradient: g, pool: pool)
        func loss(_ l: S5<Double>, _ x: [Double], _ dt: [Double]) throws -> Double {
            dot(g, try l.forward(x, dt: dt, steps: steps, batch: batch, pool: .serial).output)
        }
        try checkGradient("x", analytic: grads.input, at: x) { try loss(layer, $0, dt) }
        try checkGradient("dt", analytic: grads.dt, at: dt) { try loss(layer, x, $0) }
        let paths: [(String, WritableKeyPath<S5<Double>, [Double]>, [Double])] = [
            ("nu", \.nu, grads.nu), ("omega", \.omega, grads.omega), ("bRe", \.bRe, grads.bRe),
            ("bIm", \.bIm, grads.bIm), ("cRe", \.cRe, grads.cRe), ("cIm", \.cIm, grads.cIm), ("d", \.d, grads.d),
        ]
        for (name, path, analytic) in paths {
            try checkGradient(name, analytic: analytic, at: layer[keyPath: path]) { v in
                var l = layer
                l[keyPath: path] = v
                return try loss(l, x, dt)
            }
        }
    }
}
