import Foundation
import LinearRNN
import ParallelScan
import Testing

/// Plain loop for the selective layer (Double), written from the documented equations.
func referenceSelective(
    _ l: SelectiveSSM<Double>, x: [Double], z: [Double], steps: Int, batch: Int
) -> [Double] {
    let d = l.channels
    let n = l.stateSize
    var out = [Double](repeating: 0, count: steps * batch * d)
    for s in 0..<batch {
        var h = [Double](repeating: 0, count: d * n)
        for t in 0..<steps {
            let r = t * batch + s
            let xt = Array(x[(r * d)..<(r * d + d)])
            var delta = [Double](repeating: 0, count: d)
            for c in 0..<d {
                var pre = l.bDelta[c]
                for k in 0..<d { pre += l.wDelta[c * d + k] * xt[k] }
                delta[c] = log(1 + exp(pre))
            }
            var bt = [Double](repeating: 0, count: n)
            var ct = bt
            for k in 0..<n {
                for c in 0..<d {
                    bt[k] += l.wB[k * d + c] * xt[c]
                    ct[k] += l.wC[k * d + c] * xt[c]
                }
            }
            for c in 0..<d {
                var y = l.d[c] * xt[c]
                for k in 0..<n {
                    let a = exp(-delta[c] * exp(l.aLog[c * n + k]))
                    h[c * n + k] = a * h[c * n + k] + delta[c] * bt[k] * xt[c]
                    y += ct[k] * h[c * n + k]
                }
                let zc = z.isEmpty ? 0 : z[r * d + c]
                let sig = 1 / (1 + exp(-zc))
                switch l.gate {
                case .silu: y *= zc * sig
                case .sigmoid: y *= sig
                case .none: break
                }
                out[r * d + c] = y
            }
        }
    }
    return out
}

/// Naive O(T²) softmax attention of the query over every prefix (Double, max-subtracted).
func referenceAttention(
    query: [Double], keys: [Double], values: [Double], steps: Int, batch: Int, dk: Int, dv: Int
) -> [Double] {
    var out = [Double](repeating: 0, count: steps * batch * dv)
    for s in 0..<batch {
        let scores = (0..<steps).map { t in
            (0..<dk).reduce(0.0) { $0 + query[$1] * keys[(t * batch + s) * dk + $1] } / Double(dk).squareRoot()
        }
        for t in 0..<steps {
            let m = scores[0...t].max()!
            var den = 0.0
            var num = [Double](repeating: 0, count: dv)
            for i in 0...t {
                let e = exp(scores[i] - m)
                den += e
                for j in 0..<dv { num[j] += e * values[(i * batch + s) * dv + j] }
            }
            for j in 0..<dv { out[(t * batch + s) * dv + j] = num[j] / den }
        }
    }
    return out
}

@Suite("Selective SSM and Aaren")
struct SelectiveAarenTests {
    let d = 3, n = 4

    func selective(_ seed: UInt64, gate: SelectiveGate) throws -> SelectiveSSM<Double> {
        var r = TestRandom(seed)
        return try SelectiveSSM<Double>(
            channels: d, stateSize: n, aLog: r.array(d * n, -1, 1), wDelta: r.array(d * d, -0.8, 0.8),
            bDelta: r.array(d, -1, 0.5), wB: r.array(n * d), wC: r.array(n * d), d: r.array(d), gate: gate)
    }

    func float(_ l: SelectiveSSM<Double>) throws -> SelectiveSSM<Float> {
        try SelectiveSSM<Float>(
            channels: l.channels, stateSize: l.stateSize, aLog: toFloat(l.aLog), wDelta: toFloat(l.wDelta),
            bDelta: toFloat(l.bDelta), wB: toFloat(l.wB), wC: toFloat(l.wC), d: toFloat(l.d), gate: l.gate)
    }

    @Test(arguments: [SelectiveGate.silu, .sigmoid, .none])
    func selectiveMatchesSequentialLoop(gate: SelectiveGate) throws {
        let layer = try selective(31, gate: gate)
        let steps = 67
        let batch = 2
        var r = TestRandom(32)
        let x = r.array(steps * batch * d)
        let z = gate == .none ? [] : r.array(steps * batch * d, -3, 3)
        let reference = referenceSelective(layer, x: x, z: z, steps: steps, batch: batch)
        let layerF = try float(layer)
        for pool in testPools {
            let y = try layer.forward(x, z: gate == .none ? nil : z, steps: steps, batch: batch, pool: pool).output
            #expect(relativeError(y, reference) < 1e-12, "\(pool)")
            // Float: decays a ∈ (0, 1) vary per step; the state is a contraction-weighted sum of
            // O(1/(1 − a)) ≲ 50 terms each rounded at ε ≈ 6e-8 → 1e-5 with margin.
            let yf = try layerF.forward(
                toFloat(x), z: gate == .none ? nil : toFloat(z), steps: steps, batch: batch, pool: pool
            ).output
            #expect(relativeError(toDouble(yf), reference) < 1e-5, "\(pool)")
        }
    }

    @Test func selectiveGradientsMatchFiniteDifferences() throws {
        let layer = try selective(33, gate: .silu)
        let steps = 25
        let batch = 2
        var r = TestRandom(34)
        let x = r.array(steps * batch * d)
        let z = r.array(steps * batch * d, -2, 2)
        let g = r.array(steps * batch * d)
        let pool = WorkerPool(threadCount: 3, grainSize: 1, choice: .allThreads)
        let trace = try layer.forward(x, z: z, steps: steps, batch: batch, pool: pool)
        let grads = try layer.backward(x, z: z, trace: trace, outputGradient: g, pool: pool)
        func loss(_ l: SelectiveSSM<Double>, _ x: [Double], _ z: [Double]) throws -> Double {
            dot(g, try l.forward(x, z: z, steps: steps, batch: batch, pool: .serial).output)
        }
        try checkGradient("x", analytic: grads.input, at: x) { try loss(layer, $0, z) }
        try checkGradient("z", analytic: grads.gate, at: z) { try loss(layer, x, $0) }
        let paths: [(String, WritableKeyPath<SelectiveSSM<Double>, [Double]>, [Double])] = [
            ("aLog", \.aLog, grads.aLog), ("wDelta", \.wDelta, grads.wDelta), ("bDelta", \.bDelta, grads.bDelta),
            ("wB", \.wB, grads.wB), ("wC", \.wC, grads.wC), ("d", \.d, grads.d),
        ]
        for (name, path, analytic) in paths {
            try checkGradient(name, analytic: analytic, at: layer[keyPath: path]) { v in
                var l = layer
                l[keyPath: path] = v
                return try loss(l, x, z)
            }
        }
    }

    @Test func selectiveRejectsMissingGate() throws {
        let layer = try selective(35, gate: .sigmoid)
        #expect(throws: LinearRNNError.self) { try layer.forward([0, 0, 0], z: nil, steps: 1, batch: 1) }
        #expect(throws: LinearRNNError.shapeMismatch(name: "z", expected: 3, actual: 2)) {
            try layer.forward([0, 0, 0], z: [0, 0], steps: 1, batch: 1)
        }
    }

    @Test func aarenMatchesNaiveAttention() throws {
        let dk = 3
        let dv = 2
        let steps = 59
        let batch = 2
        var r = TestRandom(41)
        let query = r.array(dk)
        // Large keys → scores up to ~±60: e^{s} alone would overflow Float's exp (> 88 only for
        // the Double test below), the stable operator never exponentiates a positive number.
        let keys = r.array(steps * batch * dk, -40, 40)
        let values = r.array(steps * batch * dv)
        let reference = referenceAttention(
            query: query, keys: keys, values: values, steps: steps, batch: batch, dk: dk, dv: dv)
        let layer = try Aaren<Double>(keySize: dk, valueSize: dv, query: query)
        let layerF = try Aaren<Float>(keySize: dk, valueSize: dv, query: toFloat(query))
        for pool in testPools {
            let o = try layer.forward(keys: keys, values: values, steps: steps, batch: batch, pool: pool).output
            #expect(relativeError(o, reference) < 1e-12, "\(pool)")
            let of = try layerF.forward(
                keys: toFloat(keys), values: toFloat(values), steps: steps, batch: batch, pool: pool
            ).output
            // Float: scores of size ~60 carry absolute rounding ~60ε ≈ 4e-6 into the weights.
            #expect(of.allSatisfy { $0.isFinite })
            #expect(relativeError(toDouble(of), reference) < 1e-4, "\(pool)")
        }
        // Scores of ±1000 (e^{1000} overflows even Double) stay finite.
        let huge = try layer.forward(
            keys: keys.map { $0 * 30 }, values: values, steps: steps, batch: batch,
            pool: WorkerPool(threadCount: 2, grainSize: 1, choice: .allThreads))
        #expect(huge.output.allSatisfy { $0.isFinite })
        #expect(AarenState<Double>.combine(.identity, .identity).u == 0)
    }

    @Test func aarenGradientsMatchFiniteDifferences() throws {
        let dk = 3
        let dv = 2
        let steps = 31
        let batch = 2
        var r = TestRandom(43)
        let query = r.array(dk, -2, 2)
        let keys = r.array(steps * batch * dk, -2, 2)
        let values = r.array(steps * batch * dv)
        let g = r.array(steps * batch * dv)
        let layer = try Aaren<Double>(keySize: dk, valueSize: dv, query: query)
        let pool = WorkerPool(threadCount: 3, grainSize: 1, choice: .allThreads)
        let trace = try layer.forward(keys: keys, values: values, steps: steps, batch: batch, pool: pool)
        let grads = try layer.backward(keys: keys, values: values, trace: trace, outputGradient: g, pool: pool)
        func loss(_ l: Aaren<Double>, _ k: [Double], _ v: [Double]) throws -> Double {
            dot(g, try l.forward(keys: k, values: v, steps: steps, batch: batch, pool: .serial).output)
        }
        try checkGradient("keys", analytic: grads.keys, at: keys) { try loss(layer, $0, values) }
        try checkGradient("values", analytic: grads.values, at: values) { try loss(layer, keys, $0) }
        try checkGradient("query", analytic: grads.query, at: query) { q in
            try loss(Aaren<Double>(keySize: dk, valueSize: dv, query: q), keys, values)
        }
    }
}
