import Foundation
import LinearRNN
import ParallelScan
import Testing

/// Random mLSTM inputs (time-major `[T][B][H][D]`, gates `[T][B][H]`).
struct MLSTMCase {
    var steps: Int, batch: Int, heads: Int, dk: Int, dv: Int
    var q: [Double], k: [Double], v: [Double], i: [Double], f: [Double]

    init(
        steps: Int, batch: Int = 2, heads: Int = 2, dk: Int = 5, dv: Int = 3, seed: UInt64,
        inputGate: (Double, Double) = (-3, 3), forgetGate: (Double, Double) = (-1, 5)
    ) {
        self.steps = steps
        self.batch = batch
        self.heads = heads
        self.dk = dk
        self.dv = dv
        var r = TestRandom(seed)
        let rows = steps * batch * heads
        q = r.array(rows * dk, -1.5, 1.5)
        k = r.array(rows * dk, -1.5, 1.5)
        v = r.array(rows * dv)
        i = r.array(rows, inputGate.0, inputGate.1)
        f = r.array(rows, forgetGate.0, forgetGate.1)
    }
}

/// The mLSTM step loop in Double, written from the equations (m_0 = 0, C_0 = 0, n_0 = 0).
func referenceMLSTM(_ c: MLSTMCase, epsilon: Double) -> [Double] {
    let rows = c.batch * c.heads
    let dk = c.dk
    let dv = c.dv
    var out = [Double](repeating: 0, count: c.steps * rows * dv)
    for s in 0..<rows {
        var C = [Double](repeating: 0, count: dk * dv)
        var n = [Double](repeating: 0, count: dk)
        var m = 0.0
        for t in 0..<c.steps {
            let r = t * rows + s
            let logF = -log(1 + exp(-c.f[r]))
            let mt = max(logF + m, c.i[r])
            let fp = exp(logF + m - mt)
            let ip = exp(c.i[r] - mt)
            m = mt
            for a in 0..<dk {
                let ka = c.k[r * dk + a]
                n[a] = fp * n[a] + ip * ka
                for b in 0..<dv { C[a * dv + b] = fp * C[a * dv + b] + ip * ka * c.v[r * dv + b] }
            }
            var qn = 0.0
            var num = [Double](repeating: 0, count: dv)
            for a in 0..<dk {
                let qa = c.q[r * dk + a] / Double(dk).squareRoot()
                qn += qa * n[a]
                for b in 0..<dv { num[b] += qa * C[a * dv + b] }
            }
            let den = max(abs(qn), exp(-mt)) + epsilon
            for b in 0..<dv { out[r * dv + b] = num[b] / den }
        }
    }
    return out
}

@Suite("mLSTM")
struct MLSTMTests {
    func run(_ c: MLSTMCase, form: GatedForm, epsilon: Double = 1e-6, pool: WorkerPool = .serial) throws -> [Double] {
        let layer = try MLSTM<Double>(heads: c.heads, keySize: c.dk, valueSize: c.dv, epsilon: epsilon)
        return try layer.forward(
            queries: c.q, keys: c.k, values: c.v, inputGates: c.i, forgetGates: c.f, steps: c.steps,
            batch: c.batch, form: form, pool: pool
        ).output
    }

    @Test func recurrentFormMatchesReferenceLoop() throws {
        for steps in [1, 2, 9, 40] {
            let c = MLSTMCase(steps: steps, seed: UInt64(steps))
            let ref = referenceMLSTM(c, epsilon: 1e-6)
            #expect(relativeError(try run(c, form: .recurrent), ref) < 1e-12)
        }
    }

    @Test func chunkwiseMatchesStepFormAcrossChunkAndTileSizes() throws {
        for steps in [1, 5, 16, 17, 100, 333] {
            let c = MLSTMCase(steps: steps, seed: 100 + UInt64(steps))
            let ref = try run(c, form: .recurrent)
            for (chunk, tile) in [(16, 16), (16, 64), (64, 16), (64, 64), (128, 32), (512, 64), (512, 512)] {
                let e = relativeError(try run(c, form: .chunkwise(chunkSize: chunk, tileSize: tile)), ref)
                #expect(e < 1e-11, "T=\(steps) L=\(chunk) tile=\(tile): \(e)")
            }
            #expect(relativeError(try run(c, form: .quadratic(tileSize: 16)), ref) < 1e-11)
        }
    }

    @Test func parallelPoolsGiveTheSameOutput() throws {
        let c = MLSTMCase(steps: 70, batch: 3, heads: 3, seed: 7)
        let ref = try run(c, form: .chunkwise(chunkSize: 16, tileSize: 8))
        for pool in testPools {
            #expect(try run(c, form: .chunkwise(chunkSize: 16, tileSize: 8), pool: pool) == ref)
        }
    }

    /// Fewer (sequence, head) pairs than workers: the forward pass also splits over chunks
    /// (local chunk states, a sequential combine, then chunk outputs).
    @Test func chunkParallelForwardMatchesSequentialChunks() throws {
        let c = MLSTMCase(steps: 203, batch: 1, heads: 2, dk: 4, dv: 3, seed: 21, inputGate: (-6, 6))
        let ref = try run(c, form: .recurrent)
        let layer = try MLSTM<Double>(heads: 2, keySize: 4, valueSize: 3)
        let form = GatedForm.chunkwise(chunkSize: 16, tileSize: 8)
        let serial = try layer.forward(
            queries: c.q, keys: c.k, values: c.v, inputGates: c.i, forgetGates: c.f, steps: c.steps, batch: 1,
            form: form, pool: .serial)
        var r = TestRandom(2)
        let G = r.array(c.steps * 2 * 3)
        let serialGrads = try layer.backward(
            queries: c.q, keys: c.k, values: c.v, inputGates: c.i, forgetGates: c.f, trace: serial, outputGradient: G,
            pool: .serial)
        for pool in testPools.dropFirst() {
            let trace = try layer.forward(
                queries: c.q, keys: c.k, values: c.v, inputGates: c.i, forgetGates: c.f, steps: c.steps, batch: 1,
                form: form, pool: pool)
            #expect(relativeError(trace.output, ref) < 1e-12)
            #expect(relativeError(trace.chunkStates, serial.chunkStates) < 1e-12)
            #expect(relativeError(trace.chunkStabiliser, serial.chunkStabiliser) < 1e-12)
            let grads = try layer.backward(
                queries: c.q, keys: c.k, values: c.v, inputGates: c.i, forgetGates: c.f, trace: trace,
                outputGradient: G, pool: pool)
            #expect(relativeError(grads.queries, serialGrads.queries) < 1e-10)
            #expect(relativeError(grads.forgetGates, serialGrads.forgetGates) < 1e-10)
            let inference = try layer.forward(
                queries: c.q, keys: c.k, values: c.v, inputGates: c.i, forgetGates: c.f, steps: c.steps, batch: 1,
                form: form, keepStates: false, pool: pool)
            #expect(inference.output == trace.output && inference.chunkStates.isEmpty)
        }
    }

    @Test func longSequencesFloatAndDouble() throws {
        // Long memory (σ(f̃) near 1) and large input gates exercise the stabiliser.
        let c = MLSTMCase(
            steps: 3000, batch: 1, heads: 2, dk: 4, dv: 3, seed: 11, inputGate: (-8, 8), forgetGate: (2, 9))
        let ref = try run(c, form: .recurrent)
        for chunk in [16, 64, 256, 512] {
            #expect(relativeError(try run(c, form: .chunkwise(chunkSize: chunk, tileSize: 64)), ref) < 1e-10)
        }
        // Float: T = 3000 steps of long memory accumulate ~T·2⁻²⁴ rounding in any form; the
        // chunkwise form must be no worse than the step form in Float.
        let layer = try MLSTM<Float>(heads: c.heads, keySize: c.dk, valueSize: c.dv)
        func float(_ form: GatedForm) throws -> Double {
            relativeError(
                toDouble(
                    try layer.forward(
                        queries: toFloat(c.q), keys: toFloat(c.k), values: toFloat(c.v), inputGates: toFloat(c.i),
                        forgetGates: toFloat(c.f), steps: c.steps, batch: c.batch, form: form, pool: .serial
                    ).output), ref)
        }
        let stepError = try float(.recurrent)
        let chunkError = try float(.chunkwise(chunkSize: 64, tileSize: 32))
        #expect(chunkError < 1e-3 && chunkError <= 2 * stepError + 1e-5, "chunkwise \(chunkError), step \(stepError)")
    }

    @Test func hundredThousandSteps() throws {
        let c = MLSTMCase(steps: 100_000, batch: 1, heads: 1, dk: 2, dv: 2, seed: 12, forgetGate: (1, 8))
        let ref = try run(c, form: .recurrent)
        #expect(relativeError(try run(c, form: .chunkwise(chunkSize: 256, tileSize: 64)), ref) < 1e-10)
    }

    /// Gradients vs central finite differences of L = Σ ⟨G, h⟩ (ε = 0.05 so the stabiliser's
    /// path through ε e^m matters).
    @Test func gradientsMatchFiniteDifferences() throws {
        for (steps, chunk, tile) in [(11, 4, 2), (9, 16, 16), (13, 5, 5)] {
            let c = MLSTMCase(
                steps: steps, batch: 1, heads: 2, dk: 3, dv: 2, seed: 30 + UInt64(steps), inputGate: (-2, 2),
                forgetGate: (-2, 3))
            let eps = 0.05
            let layer = try MLSTM<Double>(heads: c.heads, keySize: c.dk, valueSize: c.dv, epsilon: eps)
            var r = TestRandom(99)
            let G = r.array(c.steps * c.batch * c.heads * c.dv)
            let form = GatedForm.chunkwise(chunkSize: chunk, tileSize: tile)
            func loss(_ x: MLSTMCase) throws -> Double {
                dot(
                    G,
                    try layer.forward(
                        queries: x.q, keys: x.k, values: x.v, inputGates: x.i, forgetGates: x.f, steps: x.steps,
                        batch: x.batch, form: .recurrent, pool: .serial
                    ).output)
            }
            let trace = try layer.forward(
                queries: c.q, keys: c.k, values: c.v, inputGates: c.i, forgetGates: c.f, steps: c.steps,
                batch: c.batch, form: form, pool: .serial)
            let grads = try layer.backward(
                queries: c.q, keys: c.k, values: c.v, inputGates: c.i, forgetGates: c.f, trace: trace,
                outputGradient: G, pool: .serial)
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
            try checkGradient("i", analytic: grads.inputGates, at: c.i, tolerance: 1e-6) {
                var x = c
                x.i = $0
                return try loss(x)
            }
            try checkGradient("f", analytic: grads.forgetGates, at: c.f, tolerance: 1e-6) {
                var x = c
                x.f = $0
                return try loss(x)
            }
            // The parallel pools give the same gradients.
            let parallel = try layer.backward(
                queries: c.q, keys: c.k, values: c.v, inputGates: c.i, forgetGates: c.f, trace: trace,
                outputGradient: G, pool: WorkerPool(threadCount: 2, grainSize: 1))
            #expect(parallel.queries == grads.queries && parallel.forgetGates == grads.forgetGates)
        }
    }

    @Test func floatGradientsAgreeWithDouble() throws {
        let c = MLSTMCase(steps: 200, batch: 2, heads: 2, dk: 8, dv: 8, seed: 5)
        var r = TestRandom(3)
        let G = r.array(c.steps * c.batch * c.heads * c.dv)
        let d = try MLSTM<Double>(heads: 2, keySize: 8, valueSize: 8)
        let form = GatedForm.chunkwise(chunkSize: 32, tileSize: 16)
        let td = try d.forward(
            queries: c.q, keys: c.k, values: c.v, inputGates: c.i, forgetGates: c.f, steps: c.steps, batch: c.batch,
            form: form)
        let gd = try d.backward(
            queries: c.q, keys: c.k, values: c.v, inputGates: c.i, forgetGates: c.f, trace: td, outputGradient: G)
        let f = try MLSTM<Float>(heads: 2, keySize: 8, valueSize: 8)
        let (q, k, v, i, fg) = (toFloat(c.q), toFloat(c.k), toFloat(c.v), toFloat(c.i), toFloat(c.f))
        let tf = try f.forward(
            queries: q, keys: k, values: v, inputGates: i, forgetGates: fg, steps: c.steps, batch: c.batch, form: form)
        let gf = try f.backward(
            queries: q, keys: k, values: v, inputGates: i, forgetGates: fg, trace: tf, outputGradient: toFloat(G))
        #expect(relativeError(toDouble(gf.queries), gd.queries) < 1e-4)
        #expect(relativeError(toDouble(gf.keys), gd.keys) < 1e-4)
        #expect(relativeError(toDouble(gf.values), gd.values) < 1e-4)
        #expect(relativeError(toDouble(gf.inputGates), gd.inputGates) < 1e-4)
        #expect(relativeError(toDouble(gf.forgetGates), gd.forgetGates) < 1e-4)
    }

    @Test func badInputIsRefused() throws {
        let layer = try MLSTM<Double>(heads: 2, keySize: 3, valueSize: 2)
        let c = MLSTMCase(steps: 4, batch: 1, heads: 2, dk: 3, dv: 2, seed: 1)
        #expect(throws: LinearRNNError.shapeMismatch(name: "values", expected: 16, actual: 15)) {
            _ = try layer.forward(
                queries: c.q, keys: c.k, values: Array(c.v.dropLast()), inputGates: c.i, forgetGates: c.f, steps: 4,
                batch: 1)
        }
        #expect(throws: LinearRNNError.emptyDimension(name: "chunkSize", value: 0)) {
            _ = try layer.forward(
                queries: c.q, keys: c.k, values: c.v, inputGates: c.i, forgetGates: c.f, steps: 4, batch: 1,
                form: .chunkwise(chunkSize: 0, tileSize: 4))
        }
        #expect(throws: LinearRNNError.emptySequence) {
            _ = try layer.forward(
                queries: [], keys: [], values: [], inputGates: [], forgetGates: [], steps: 0, batch: 1)
        }
        let recurrent = try layer.forward(
            queries: c.q, keys: c.k, values: c.v, inputGates: c.i, forgetGates: c.f, steps: 4, batch: 1,
            form: .recurrent)
        #expect(throws: LinearRNNError.self) {
            _ = try layer.backward(
                queries: c.q, keys: c.k, values: c.v, inputGates: c.i, forgetGates: c.f, trace: recurrent,
                outputGradient: [Double](repeating: 1, count: 16))
        }
        var nan = c.i
        nan[2] = .nan
        #expect(throws: LinearRNNError.self) {
            _ = try layer.forward(
                queries: c.q, keys: c.k, values: c.v, inputGates: nan, forgetGates: c.f, steps: 4, batch: 1)
        }
    }
}
