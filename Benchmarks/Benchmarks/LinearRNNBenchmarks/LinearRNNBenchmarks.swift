// LinearRNN layers at T = 10^6 (forward, inference: keepStates false), each beside its own
// sequential loop in the same run (the same layer on a one-worker pool runs the plain recurrence
// as a single chunk). Needs a target in Benchmarks/Package.swift:
//   .executableTarget(name: "LinearRNNBenchmarks", dependencies: [.product(name: "Benchmark",
//     package: "benchmark"), .product(name: "LinearRNN", package: pararnn),
//     .product(name: "ParallelScan", package: pararnn)], path: "Benchmarks/LinearRNNBenchmarks",
//     plugins: benchmarkPlugin)
import Benchmark
import Foundation
import LinearRNN
import ParallelScan

/// Threads for the parallel variants: PARARNN_THREADS or all cores.
let threads = WorkerPool.defaultThreadCount
let pools = [("sequential", WorkerPool.serial), ("parallel \(threads)t", WorkerPool(threadCount: threads))]

func randomFloats(_ count: Int, _ range: ClosedRange<Float>, seed: UInt64 = 0x1234_5678) -> [Float] {
    var state: UInt64 = seed
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let unit = Float(state >> 40) / Float(1 << 24)
        return range.lowerBound + (range.upperBound - range.lowerBound) * unit
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput], timeUnits: .milliseconds,
        maxDuration: .seconds(3), maxIterations: 10)
    let steps = 1_000_000

    // Diagonal real RNN: m = 4 inputs, n = 16 states, p = 4 outputs, batch 1.
    do {
        let m = 4
        let n = 16
        let p = 4
        let layer = try! DiagonalLinearRNN<Float>(
            inputSize: m, stateSize: n, outputSize: p, a: randomFloats(n, 0.9...0.999),
            b: randomFloats(n * m, -1...1), c: randomFloats(p * n, -1...1), d: randomFloats(p * m, -1...1))
        let x = randomFloats(steps * m, -1...1)
        for (name, pool) in pools {
            Benchmark("diagonal f32 T=1e6 m=4 n=16 p=4 \(name)") { benchmark in
                for _ in benchmark.scaledIterations {
                    blackHole(try! layer.forward(x, steps: steps, batch: 1, keepStates: false, pool: pool).output[0])
                }
            }
        }
    }

    // Complex-diagonal LRU: m = 4, n = 8 complex states, p = 4.
    do {
        let layer = try! LRU<Float>.ringInit(inputSize: 4, stateSize: 8, outputSize: 4)
        let x = randomFloats(steps * 4, -1...1)
        for (name, pool) in pools {
            Benchmark("lru f32 T=1e6 m=4 n=8 p=4 \(name)") { benchmark in
                for _ in benchmark.scaledIterations {
                    blackHole(try! layer.forward(x, steps: steps, batch: 1, keepStates: false, pool: pool).output[0])
                }
            }
        }
    }

    // S5 with per-step Δ_t (ZOH: exp, sin, cos per state and step): m = 4, n = 8, p = 4.
    do {
        let m = 4
        let n = 8
        let p = 4
        let layer = try! S5<Float>(
            inputSize: m, stateSize: n, outputSize: p, nu: randomFloats(n, -2...0), omega: randomFloats(n, -3...3),
            bRe: randomFloats(n * m, -1...1), bIm: randomFloats(n * m, -1...1),
            cRe: randomFloats(p * n, -1...1), cIm: randomFloats(p * n, -1...1))
        let x = randomFloats(steps * m, -1...1)
        let dt = randomFloats(steps, 0.01...0.5)
        for (name, pool) in pools {
            Benchmark("s5 f32 T=1e6 m=4 n=8 p=4 \(name)") { benchmark in
                for _ in benchmark.scaledIterations {
                    blackHole(
                        try! layer.forward(x, dt: dt, steps: steps, batch: 1, keepStates: false, pool: pool).output[0])
                }
            }
        }
    }

    // Selective (Mamba-style): d = 4 channels, N = 8 states, silu gate.
    do {
        let d = 4
        let n = 8
        let layer = try! SelectiveSSM<Float>(
            channels: d, stateSize: n, aLog: randomFloats(d * n, -1...1), wDelta: randomFloats(d * d, -0.5...0.5),
            bDelta: randomFloats(d, -1...0), wB: randomFloats(n * d, -1...1), wC: randomFloats(n * d, -1...1),
            d: randomFloats(d, -1...1), gate: .silu)
        let x = randomFloats(steps * d, -1...1)
        let z = randomFloats(steps * d, -2...2, seed: 7)
        for (name, pool) in pools {
            Benchmark("selective f32 T=1e6 d=4 N=8 silu \(name)") { benchmark in
                for _ in benchmark.scaledIterations {
                    blackHole(
                        try! layer.forward(x, z: z, steps: steps, batch: 1, keepStates: false, pool: pool).output[0])
                }
            }
        }
    }

    // Aaren: d_k = 8, d_v = 4.
    do {
        let layer = try! Aaren<Float>(keySize: 8, valueSize: 4, query: randomFloats(8, -1...1))
        let keys = randomFloats(steps * 8, -1...1)
        let values = randomFloats(steps * 4, -1...1, seed: 9)
        for (name, pool) in pools {
            Benchmark("aaren f32 T=1e6 dk=8 dv=4 \(name)") { benchmark in
                for _ in benchmark.scaledIterations {
                    blackHole(
                        try! layer.forward(keys: keys, values: values, steps: steps, batch: 1, pool: pool).output[0])
                }
            }
        }
    }
}
