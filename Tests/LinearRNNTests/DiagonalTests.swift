import Foundation
import LinearRNN
import ParallelScan
import Testing

/// Plain sequential loop for the diagonal layer (Double).
func referenceDiagonal(
    a: [Double], b: [Double], c: [Double], d: [Double], x: [Double], steps: Int, batch: Int,
    m: Int, n: Int, p: Int
) -> [Double] {
    var y = [Double](repeating: 0, count: steps * batch * p)
    for s in 0..<batch {
        var h = [Double](repeating: 0, count: n)
        for t in 0..<steps {
            let xt = Array(x[((t * batch + s) * m)..<((t * batch + s) * m + m)])
            for j in 0..<n {
                var u = 0.0
                for k in 0..<m { u += b[j * m + k] * xt[k] }
                h[j] = a[j] * h[j] + u
            }
            for i in 0..<p {
                var acc = 0.0
                for j in 0..<n { acc += c[i * n + j] * h[j] }
                for k in 0..<m { acc += d[i * m + k] * xt[k] }
                y[(t * batch + s) * p + i] = acc
            }
        }
    }
    return y
}

@Suite("Diagonal linear RNN")
struct DiagonalTests {
    let m = 3, n = 4, p = 2

    func parameters(_ seed: UInt64) -> (a: [Double], b: [Double], c: [Double], d: [Double]) {
        var r = TestRandom(seed)
        return (r.array(n, 0.5, 0.99), r.array(n * m), r.array(p * n), r.array(p * m))
    }

    @Test func matchesSequentialLoopDoubleAndFloat() throws {
        let (a, b, c, d) = parameters(1)
        let steps = 97
        let batch = 2
        var r = TestRandom(2)
        let x = r.array(steps * batch * m)
        let reference = referenceDiagonal(
            a: a, b: b, c: c, d: d, x: x, steps: steps, batch: batch, m: m, n: n, p: p)
        let layer = try DiagonalLinearRNN<Double>(inputSize: m, stateSize: n, outputSize: p, a: a, b: b, c: c, d: d)
        let layerF = try DiagonalLinearRNN<Float>(
            inputSize: m, stateSize: n, outputSize: p, a: toFloat(a), b: toFloat(b), c: toFloat(c), d: toFloat(d))
        for pool in testPools {
            let y = try layer.forward(x, steps: steps, batch: batch, pool: pool).output
            // Double: a few roundings per step, contracted by |a| < 1 → ~1e-14.
            #expect(relativeError(y, reference) < 1e-12, "\(pool)")
            let yf = try layerF.forward(toFloat(x), steps: steps, batch: batch, pool: pool).output
            // Float: ε ≈ 6e-8 amplified by at most 1/(1 − max a) = 100 → allow 1e-4.
            #expect(relativeError(toDouble(yf), reference) < 1e-4, "\(pool)")
        }
    }

    @Test(
        "one worker is bitwise the row-by-row loop (B x, C h + D x in vectors of 8, 4 and 1); chunked runs repeat bitwise"
    )
    func vectorisedMapsAreBitwiseTheLoop() throws {
        // n = p = 13 = 8 + 4 + 1 exercises every vector width of the projections.
        let (m, n, p) = (3, 13, 13)
        var r = TestRandom(11)
        let (a, b, c, d) = (r.array(n, 0.5, 0.99), r.array(n * m), r.array(p * n), r.array(p * m))
        let (steps, batch) = (50, 2)
        let x = r.array(steps * batch * m)
        let layer = try DiagonalLinearRNN<Double>(inputSize: m, stateSize: n, outputSize: p, a: a, b: b, c: c, d: d)
        let reference = referenceDiagonal(a: a, b: b, c: c, d: d, x: x, steps: steps, batch: batch, m: m, n: n, p: p)
        #expect(try layer.forward(x, steps: steps, batch: batch, pool: .serial).output == reference)
        // Chunks are taken by whichever worker is free, but the chunk plan is fixed: same bits.
        let pool = WorkerPool(threadCount: 3, grainSize: 1, choice: .allThreads)
        let first = try layer.forward(x, steps: steps, batch: batch, pool: pool)
        let second = try layer.forward(x, steps: steps, batch: batch, pool: pool)
        #expect(first.output == second.output)
        #expect(first.states == second.states)
        #expect(relativeError(first.output, reference) < 1e-12)
    }

    @Test func agreesWithParallelScanDiagonal() throws {
        // The fused scan vs ParallelScan's materialised diagonal scan of u_t = B x_t.
        let (a, b, _, _) = parameters(3)
        let steps = 41
        let batch = 1
        var r = TestRandom(4)
        let x = r.array(steps * m)
        var u = [Double](repeating: 0, count: steps * n)
        for t in 0..<steps {
            for j in 0..<n { for k in 0..<m { u[t * n + j] += b[j * m + k] * x[t * m + k] } }
        }
        let coefficients = (0..<steps).flatMap { _ in a }
        let pool = WorkerPool(threadCount: 3, grainSize: 1, choice: .allThreads)
        let states = try AffineScan.diagonal(a: coefficients, b: u, steps: steps, lanes: n, pool: pool)
        let identity = (0..<n).flatMap { i in (0..<n).map { j in i == j ? 1.0 : 0.0 } }
        let layer = try DiagonalLinearRNN<Double>(
            inputSize: m, stateSize: n, outputSize: n, a: a, b: b, c: identity)
        let trace = try layer.forward(x, steps: steps, batch: batch, pool: pool)
        #expect(relativeError(trace.output, states) < 1e-13)
        #expect(relativeError(trace.states, states) < 1e-13)
    }

    @Test func gradientsMatchFiniteDifferences() throws {
        let (a, b, c, d) = parameters(5)
        let steps = 23
        let batch = 2
        var r = TestRandom(6)
        let x = r.array(steps * batch * m)
        let g = r.array(steps * batch * p)
        let pool = WorkerPool(threadCount: 3, grainSize: 1, choice: .allThreads)
        let layer = try DiagonalLinearRNN<Double>(inputSize: m, stateSize: n, outputSize: p, a: a, b: b, c: c, d: d)
        let trace = try layer.forward(x, steps: steps, batch: batch, pool: pool)
        let grads = try layer.backward(x, trace: trace, outputGradient: g, pool: pool)
        // Serial backward gives the same numbers (up to summation order).
        let serial = try layer.backward(x, trace: trace, outputGradient: g, pool: .serial)
        #expect(relativeError(serial.a, grads.a) < 1e-13)
        func loss(_ l: DiagonalLinearRNN<Double>, _ x: [Double]) throws -> Double {
            dot(g, try l.forward(x, steps: steps, batch: batch, pool: .serial).output)
        }
        try checkGradient("x", analytic: grads.input, at: x) { try loss(layer, $0) }
        let paths: [(String, WritableKeyPath<DiagonalLinearRNN<Double>, [Double]>, [Double])] = [
            ("a", \.a, grads.a), ("b", \.b, grads.b), ("c", \.c, grads.c), ("d", \.d, grads.d),
        ]
        for (name, path, analytic) in paths {
            try checkGradient(name, analytic: analytic, at: layer[keyPath: path]) { v in
                var l = layer
                l[keyPath: path] = v
                return try loss(l, x)
            }
        }
    }

    @Test func millionStepsStayFinite() throws {
        // One channel, T = 10^6, Float: decays mix 1 − 1e-7 (long memory), 1e-30 (products
        // underflow to subnormals and zero) and 0.
        let steps = 1_000_000
        var r = TestRandom(7)
        let x = (0..<steps).map { _ in Float(r.uniform(-1, 1)) }
        for a: Float in [1 - 1e-7, 0.5, 1e-30] {
            let layer = try DiagonalLinearRNN<Float>(inputSize: 1, stateSize: 1, outputSize: 1, a: [a], b: [1], c: [1])
            let y = try layer.forward(
                x, steps: steps, batch: 1, keepStates: false,
                pool: WorkerPool(threadCount: 2, grainSize: 1, choice: .allThreads)
            ).output
            #expect(y.allSatisfy { $0.isFinite }, "a = \(a)")
        }
    }

    @Test func rejectsBadShapes() throws {
        let layer = try DiagonalLinearRNN<Double>(inputSize: 1, stateSize: 1, outputSize: 1, a: [0.5], b: [1], c: [1])
        #expect(throws: LinearRNNError.emptySequence) { try layer.forward([], steps: 0, batch: 1) }
        #expect(throws: LinearRNNError.shapeMismatch(name: "x", expected: 4, actual: 3)) {
            try layer.forward([1, 2, 3], steps: 4, batch: 1)
        }
        #expect(throws: LinearRNNError.shapeMismatch(name: "b", expected: 2, actual: 1)) {
            try DiagonalLinearRNN<Double>(inputSize: 1, stateSize: 2, outputSize: 1, a: [0.5, 0.5], b: [1], c: [1, 1])
        }
        let trace = try layer.forward([1, 2], steps: 2, batch: 1, keepStates: false)
        #expect(throws: LinearRNNError.self) { try layer.backward([1, 2], trace: trace, outputGradient: [1, 1]) }
        #expect(LinearRNNError.emptySequence.description.contains("T = 0"))
    }
}
