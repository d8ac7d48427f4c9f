import Benchmark
import LongConv
import ParallelScan

/// Deterministic pseudo-random data for the benchmarks.
private func data(_ count: Int, seed: UInt64) -> [Float] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in Float(rng.normal()) }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock], maxDuration: .seconds(2), maxIterations: 20)
    // One channel and batch 1: every run below is a single work item, so it runs on the
    // calling thread whatever the pool size.

    // FFT vs direct causal convolution, 1 channel, L = 2^8 … 2^16.
    for e in 8...16 {
        let L = 1 << e
        let u = data(L, seed: UInt64(e))
        let k = data(L, seed: UInt64(e) + 100)
        Benchmark("fft conv L=\(L)") { benchmark in
            let conv = try FFTConvolver<Float>(length: L)
            let spectrum = try conv.spectrum(kernel: k, channels: 1)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(try conv.convolve(u, batch: 1, spectrum: spectrum))
            }
        }
        // Direct is O(L²): at the largest sizes run it only once.
        let config: Benchmark.Configuration? =
            e >= 14 ? .init(metrics: [.wallClock], maxDuration: .seconds(30), maxIterations: 1) : nil
        Benchmark("direct conv L=\(L)", configuration: config ?? Benchmark.defaultConfiguration) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try DirectConvolution.causal(u, batch: 1, channels: 1, length: L, kernel: k))
            }
        }
    }

    // S4D: kernel + FFT convolution vs the sequential complex recurrence, H = 1, N = 64, L = 2^16.
    let L = 1 << 16
    let u = data(L, seed: 7)
    Benchmark("s4d conv L=65536") { benchmark in
        let kernel = try S4DKernel.initialized(channels: 1, stateSize: 64, seed: 1)
        let layer = try S4DLayer<Float>(kernel: kernel, skip: [1], length: L)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(try layer.forward(u, batch: 1)) }
    }
    Benchmark("s4d recurrence L=65536") { benchmark in
        let kernel = try S4DKernel.initialized(channels: 1, stateSize: 64, seed: 1)
        let layer = try S4DLayer<Float>(kernel: kernel, skip: [1], length: L)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(try layer.recurrentForward(u, batch: 1).output) }
    }
}
