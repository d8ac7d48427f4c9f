// Affine scans at T = 10^6 beside a memory copy of the same bytes and the sequential loop of the
// same kernels (the scan with one worker), in the same run.
import Benchmark
import Foundation
import ParallelScan

/// Threads for the parallel variants: PARARNN_THREADS or all cores.
let threads = WorkerPool.defaultThreadCount
let parallel = WorkerPool(threadCount: threads)
let sequential = WorkerPool.serial

func randomFloats(_ count: Int, _ range: ClosedRange<Float>) -> [Float] {
    var state: UInt64 = 0x1234_5678
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

    // Diagonal, Float, T = 10^6, 64 channels.
    do {
        let steps = 1_000_000
        let lanes = 64
        let a = randomFloats(steps * lanes, -0.99...0.99)
        let b = randomFloats(steps * lanes, -1...1)
        var out = [Float](repeating: 0, count: steps * lanes)
        let bytes = 3 * steps * lanes * MemoryLayout<Float>.size
        Benchmark("memcpy diagonal-bytes (\(bytes >> 20) MiB)") { benchmark in
            // Copies a and b into out and back: the same bytes the scan reads and writes.
            var src = [UInt8](repeating: 1, count: bytes / 3 * 2)
            var dst = [UInt8](repeating: 0, count: bytes / 3 * 2)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                src.withUnsafeBytes { s in
                    dst.withUnsafeMutableBytes { d in
                        d.baseAddress!.copyMemory(from: s.baseAddress!, byteCount: s.count)
                    }
                }
                blackHole(dst[0])
            }
            benchmark.stopMeasurement()
            src[0] = 0
        }
        for (name, pool) in [("sequential", sequential), ("parallel \(threads)t", parallel)] {
            Benchmark("diagonal f32 T=1e6 d=64 \(name)") { benchmark in
                for _ in benchmark.scaledIterations {
                    a.withUnsafeBufferPointer { a in
                        b.withUnsafeBufferPointer { b in
                            out.withUnsafeMutableBufferPointer { o in
                                try! AffineScan.diagonal(a: a, b: b, steps: steps, lanes: lanes, output: o, pool: pool)
                            }
                        }
                    }
                    blackHole(out[steps * lanes - 1])
                }
            }
        }
    }

    // 2×2 blocks, Float, T = 10^6, 32 blocks (64 state values per step).
    do {
        let steps = 1_000_000
        let blocks = 32
        let a = randomFloats(steps * 4 * blocks, -0.45...0.45)
        let b = randomFloats(steps * 2 * blocks, -1...1)
        var out = [Float](repeating: 0, count: steps * 2 * blocks)
        for (name, pool) in [("sequential", sequential), ("parallel \(threads)t", parallel)] {
            Benchmark("block2x2 f32 T=1e6 blocks=32 \(name)") { benchmark in
                for _ in benchmark.scaledIterations {
                    a.withUnsafeBufferPointer { a in
                        b.withUnsafeBufferPointer { b in
                            out.withUnsafeMutableBufferPointer { o in
                                try! AffineScan.blockDiagonal(
                                    a: a, b: b, steps: steps, blocks: blocks, blockSize: 2, output: o, pool: pool)
                            }
                        }
                    }
                    blackHole(out[0])
                }
            }
        }
    }

    // Dense d = 8 and d = 32, Float, T = 10^6 (d = 32: T = 10^5 to keep memory at 400 MB).
    for (d, steps) in [(8, 1_000_000), (32, 100_000)] {
        let a = randomFloats(steps * d * d, -0.9 / Float(d)...0.9 / Float(d))
        let b = randomFloats(steps * d, -1...1)
        var out = [Float](repeating: 0, count: steps * d)
        for (name, pool) in [("sequential", sequential), ("parallel \(threads)t", parallel)] {
            Benchmark("dense f32 d=\(d) T=\(steps) \(name)") { benchmark in
                for _ in benchmark.scaledIterations {
                    a.withUnsafeBufferPointer { a in
                        b.withUnsafeBufferPointer { b in
                            out.withUnsafeMutableBufferPointer { o in
                                try! AffineScan.dense(
                                    a: a, b: b, steps: steps, batch: 1, dimension: d, output: o, pool: pool)
                            }
                        }
                    }
                    blackHole(out[0])
                }
            }
        }
    }
}
