import Foundation
import LinearRNN
import ParallelScan
import Testing

/// One layer under ``PackedResetTests``: its forward and backward passes over time-major
/// inputs (`[T][width]` each), and what the backward returns — time-major gradients (one per
/// step, concatenated across sequences) and parameter gradients (summed across sequences).
struct PackedLayerCase {
    let name: String
    /// Per-step widths of the inputs (x, then Δ or z where the layer takes them).
    let widths: [Int]
    /// Per-step width of the output and of the kept states.
    let outputWidth: Int
    let forward: ([[Double]], Int, SequenceBoundaries?, WorkerPool) throws -> LinearRNNTrace<Double>
    let backward:
        ([[Double]], LinearRNNTrace<Double>, [Double], WorkerPool) throws -> (time: [[Double]], params: [[Double]])
}

/// Resets in the linear RNN layers: several sequences packed end to end with
/// `boundaries` against separate passes over each sequence — outputs, kept states and every
/// gradient (time-major gradients concatenated, parameter gradients summed). Boundaries at
/// step 0, consecutive ones, length-1 sequences, and (for the diagonal layer) a boundary at
/// every step of a short sequence, so every chunk edge of every test pool is hit.
@Suite("Linear RNN layers with resets vs separate passes")
struct PackedResetTests {
    static let lengths = [1, 17, 1, 1, 9, 30, 1, 12]
    let m = 2, n = 3, p = 2, batch = 2

    func slice(_ values: [Double], width: Int, _ range: Range<Int>) -> [Double] {
        Array(values[(range.lowerBound * width)..<(range.upperBound * width)])
    }

    func check(_ layer: PackedLayerCase, lengths: [Int], inputs: [[Double]], seed: UInt64) throws {
        let boundaries = try SequenceBoundaries(lengths: lengths)
        let steps = boundaries.steps
        var r = TestRandom(seed)
        let g = r.array(steps * layer.outputWidth)
        for pool in testPools {
            let packed = try layer.forward(inputs, steps, boundaries, pool)
            #expect(packed.boundaries == boundaries)
            var output: [Double] = []
            var states: [Double] = []
            var timeGradients: [[Double]] = []
            var paramGradients: [[Double]] = []
            for i in 0..<boundaries.count {
                let range = boundaries.range(of: i)
                let own = zip(inputs, layer.widths).map { slice($0, width: $1, range) }
                let trace = try layer.forward(own, range.count, nil, pool)
                output += trace.output
                states += trace.states
                let grads = try layer.backward(own, trace, slice(g, width: layer.outputWidth, range), pool)
                if timeGradients.isEmpty {
                    timeGradients = grads.time
                    paramGradients = grads.params
                } else {
                    for k in grads.time.indices { timeGradients[k] += grads.time[k] }
                    for k in grads.params.indices {
                        for j in grads.params[k].indices { paramGradients[k][j] += grads.params[k][j] }
                    }
                }
            }
            let label = "\(layer.name), \(pool.threadCount) threads, lengths \(lengths)"
            if pool.threadCount == 1 {
                // One worker: the plain loop; a reset is h = 0·h + b, bitwise a fresh start.
                #expect(packed.output == output, "\(label): outputs bitwise")
            }
            #expect(relativeError(packed.output, output) <= 1e-12, "\(label): outputs")
            #expect(relativeError(packed.states, states) <= 1e-12, "\(label): states")
            let grads = try layer.backward(inputs, packed, g, pool)
            for k in grads.time.indices {
                let e = relativeError(grads.time[k], timeGradients[k])
                #expect(e <= 1e-11, "\(label): time-major gradient \(k) off by \(e)")
            }
            for k in grads.params.indices {
                let e = relativeError(grads.params[k], paramGradients[k])
                #expect(e <= 1e-11, "\(label): parameter gradient \(k) off by \(e)")
            }
        }
    }

    func diagonal() throws -> PackedLayerCase {
        var r = TestRandom(41)
        let (m, n, p, batch) = (self.m, self.n, self.p, self.batch)
        let layer = try DiagonalLinearRNN<Double>(
            inputSize: m, stateSize: n, outputSize: p, a: r.array(n, -0.95, 0.95), b: r.array(n * m),
            c: r.array(p * n), d: r.array(p * m))
        return PackedLayerCase(
            name: "diagonal", widths: [batch * m], outputWidth: batch * p,
            forward: { x, steps, b, pool in
                try layer.forward(x[0], steps: steps, batch: batch, boundaries: b, pool: pool)
            },
            backward: { x, trace, g, pool in
                let gr = try layer.backward(x[0], trace: trace, outputGradient: g, pool: pool)
                return ([gr.input], [gr.a, gr.b, gr.c, gr.d])
            })
    }

    @Test("diagonal real layer")
    func diagonalLayer() throws {
        var r = TestRandom(42)
        let steps = Self.lengths.reduce(0, +)
        try check(diagonal(), lengths: Self.lengths, inputs: [r.array(steps * batch * m)], seed: 43)
    }

    @Test("diagonal real layer: a boundary at every step of a short sequence")
    func diagonalEveryEdge() throws {
        var r = TestRandom(44)
        let layer = try diagonal()
        let steps = 24
        let x = r.array(steps * batch * m)
        for split in 1..<steps {
            try check(layer, lengths: [split, steps - split], inputs: [x], seed: UInt64(split))
        }
    }

    @Test("LRU")
    func lru() throws {
        let (m, n, p, batch) = (self.m, self.n, self.p, self.batch)
        let layer = try LRU<Double>.ringInit(
            inputSize: m, stateSize: n, outputSize: p, rMin: 0.6, rMax: 0.95, maxPhase: 3, seed: 45)
        let layerCase = PackedLayerCase(
            name: "LRU", widths: [batch * m], outputWidth: batch * p,
            forward: { x, steps, b, pool in
                try layer.forward(x[0], steps: steps, batch: batch, boundaries: b, pool: pool)
            },
            backward: { x, trace, g, pool in
                let gr = try layer.backward(x[0], trace: trace, outputGradient: g, pool: pool)
                return ([gr.input], [gr.nu, gr.theta, gr.bRe, gr.bIm, gr.cRe, gr.cIm, gr.d])
            })
        var r = TestRandom(46)
        let steps = Self.lengths.reduce(0, +)
        try check(layerCase, lengths: Self.lengths, inputs: [r.array(steps * batch * m)], seed: 47)
    }

    @Test("S5 (per-step Δ)")
    func s5() throws {
        let (m, n, p, batch) = (self.m, self.n, self.p, self.batch)
        var r = TestRandom(48)
        let layer = try S5<Double>(
            inputSize: m, stateSize: n, outputSize: p, nu: r.array(n, -1, 0.5), omega: r.array(n, -3, 3),
            bRe: r.array(n * m), bIm: r.array(n * m), cRe: r.array(p * n), cIm: r.array(p * n), d: r.array(p * m))
        let layerCase = PackedLayerCase(
            name: "S5", widths: [batch * m, batch], outputWidth: batch * p,
            forward: { x, steps, b, pool in
                try layer.forward(x[0], dt: x[1], steps: steps, batch: batch, boundaries: b, pool: pool)
            },
            backward: { x, trace, g, pool in
                let gr = try layer.backward(x[0], dt: x[1], trace: trace, outputGradient: g, pool: pool)
                return ([gr.input, gr.dt], [gr.nu, gr.omega, gr.bRe, gr.bIm, gr.cRe, gr.cIm, gr.d])
            })
        let steps = Self.lengths.reduce(0, +)
        try check(
            layerCase, lengths: Self.lengths, inputs: [r.array(steps * batch * m), r.array(steps * batch, 1e-3, 0.8)],
            seed: 49)
    }

    @Test("selective SSM (gated)")
    func selective() throws {
        let (d, n, batch) = (3, 4, self.batch)
        var r = TestRandom(50)
        let layer = try SelectiveSSM<Double>(
            channels: d, stateSize: n, aLog: r.array(d * n, -1, 1), wDelta: r.array(d * d, -0.8, 0.8),
            bDelta: r.array(d, -1, 0.5), wB: r.array(n * d), wC: r.array(n * d), d: r.array(d), gate: .silu)
        let layerCase = PackedLayerCase(
            name: "selective SSM", widths: [batch * d, batch * d], outputWidth: batch * d,
            forward: { x, steps, b, pool in
                try layer.forward(x[0], z: x[1], steps: steps, batch: batch, boundaries: b, pool: pool)
            },
            backward: { x, trace, g, pool in
                let gr = try layer.backward(x[0], z: x[1], trace: trace, outputGradient: g, pool: pool)
                return ([gr.input, gr.gate], [gr.aLog, gr.wDelta, gr.bDelta, gr.wB, gr.wC, gr.d])
            })
        let steps = Self.lengths.reduce(0, +)
        try check(
            layerCase, lengths: Self.lengths, inputs: [r.array(steps * batch * d), r.array(steps * batch * d, -3, 3)],
            seed: 51)
    }

    @Test("boundaries that do not cover T are refused")
    func badBoundaries() throws {
        let layer = try diagonal()
        let x = [Double](repeating: 0.1, count: 10 * batch * m)
        #expect(throws: LinearRNNError.self) {
            try layer.forward([x], 10, try SequenceBoundaries(lengths: [4, 5]), .serial)
        }
    }
}
