import Foundation
import LinearRNN
import ParallelScan
import Testing

/// Naive quadratic retention in Double: o_t = Σ_{j≤t} γ^{t−j} (q_t·k_j / √D_k) v_j.
func referenceRetention(_ c: MLSTMCase, decays: [Double]) -> [Double] {
    let rows = c.batch * c.heads
    let dk = c.dk
    let dv = c.dv
    var out = [Double](repeating: 0, count: c.steps * rows * dv)
    for s in 0..<rows {
        let gamma = decays[s % c.heads]
        for t in 0..<c.steps {
            let rt = t * rows + s
            for j in 0...t {
                let rj = j * rows + s
                var qk = 0.0
                for a in 0..<dk { qk += c.q[rt * dk + a] * c.k[rj * dk + a] }
                let w = pow(gamma, Double(t - j)) * qk / Double(dk).squareRoot()
                for b in 0..<dv { out[rt * dv + b] += w * c.v[rj * dv + b] }
            }
        }
    }
    return out
}

@Suite("Retention")
struct RetentionTests {
    @Test func formsMatchTheQuadraticReference() throws {
        let decays = [0.5, 0.97, 0.999]
        let layer = try Retention<Double>(keySize: 4, valueSize: 3, decays: decays)
        for steps in [1, 7, 64, 65, 300] {
            let c = MLSTMCase(steps: steps, batch: 2, heads: 3, dk: 4, dv: 3, seed: 200 + UInt64(steps))
            let ref = referenceRetention(c, decays: decays)
            for form in [
                GatedForm.recurrent, .chunkwise(chunkSize: 16, tileSize: 16), .chunkwise(chunkSize: 64, tileSize: 16),
                .chunkwise(chunkSize: 512, tileSize: 64), .quadratic(tileSize: 32),
            ] {
                let out = try layer.forward(
                    queries: c.q, keys: c.k, values: c.v, steps: steps, batch: 2, form: form, pool: .serial
                ).output
                #expect(relativeError(out, ref) < 1e-11, "T=\(steps) \(form)")
            }
            let float = try Retention<Float>(keySize: 4, valueSize: 3, decays: toFloat(decays)).forward(
                queries: toFloat(c.q), keys: toFloat(c.k), values: toFloat(c.v), steps: steps, batch: 2,
                form: .chunkwise(chunkSize: 32, tileSize: 16), pool: WorkerPool(threadCount: 2, grainSize: 1))
            #expect(relativeError(toDouble(float.output), ref) < 1e-4)
        }
    }

    @Test func longSequenceChunkwiseEqualsRecurrent() throws {
        let layer = try Retention<Double>(keySize: 2, valueSize: 2, decays: Retention<Double>.defaultDecays(heads: 2))
        let c = MLSTMCase(steps: 5000, batch: 1, heads: 2, dk: 2, dv: 2, seed: 4)
        let ref = try layer.forward(queries: c.q, keys: c.k, values: c.v, steps: c.steps, batch: 1, form: .recurrent)
            .output
        for chunk in [16, 100, 512] {
            let out = try layer.forward(
                queries: c.q, keys: c.k, values: c.v, steps: c.steps, batch: 1,
                form: .chunkwise(chunkSize: chunk, tileSize: 64)
            ).output
            #expect(relativeError(out, ref) < 1e-11)
        }
    }

    @Test func gradientsMatchFiniteDifferences() throws {
        let decays = [0.6, 0.9]
        let c = MLSTMCase(steps: 12, batch: 1, heads: 2, dk: 3, dv: 2, seed: 8)
        var r = TestRandom(5)
        let G = r.array(c.steps * c.heads * c.dv)
        let layer = try Retention<Double>(keySize: 3, valueSize: 2, decays: decays)
        let trace = try layer.forward(
            queries: c.q, keys: c.k, values: c.v, steps: c.steps, batch: 1, form: .chunkwise(chunkSize: 5, tileSize: 2))
        let grads = try layer.backward(queries: c.q, keys: c.k, values: c.v, trace: trace, outputGradient: G)
        func loss(_ x: MLSTMCase, _ d: [Double] = decays) throws -> Double {
            dot(
                G,
                try Retention<Double>(keySize: 3, valueSize: 2, decays: d).forward(
                    queries: x.q, keys: x.k, values: x.v, steps: x.steps, batch: 1, form: .recurrent
                ).output)
        }
        try checkGradient("q", analytic: grads.queries, at: c.q, tolerance: 1e-6) {
            var x = c
            x.q = $0
            return try loss(x)
        }
        try checkGradient("k", analytic: grads.keys, at: c.k, tolerance: 1e-6) {
            var x = c
            x.k = $0
            return try loss(x)
        }
        try checkGradient("v", analytic: grads.values, at: c.v, tolerance: 1e-6) {
            var x = c
            x.v = $0
            return try loss(x)
        }
        try checkGradient("decays", analytic: grads.decays, at: decays, tolerance: 1e-6) { try loss(c, $0) }
    }

    @Test func badDecaysAreRefused() {
        #expect(throws: LinearRNNError.self) {
            _ = try Retention<Double>(keySize: 2, valueSize: 2, decays: [0.5, 1.5])
        }
        #expect(throws: LinearRNNError.self) { _ = try Retention<Double>(keySize: 2, valueSize: 2, decays: []) }
    }
}
