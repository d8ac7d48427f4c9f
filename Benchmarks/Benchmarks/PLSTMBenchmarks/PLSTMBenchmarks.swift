import Benchmark
import PLSTM
import ParallelScan

/// 512×512 P-mode grid, d = 16 lanes (a 4×4 key–value state), Float, fixed pseudo-random gates.
private func makeProblem() -> (GridGates<Float>, [Float]) {
    let (h, w, d) = (512, 512, 16)
    let n = h * w
    var state: UInt64 = 0x1234_5678
    func next() -> Float {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Double(state >> 11) / Double(1 << 53)) * 2 - 1
    }
    let gates = try! GridGates<Float>.pMode(
        height: h, width: w, source: (0..<n).map { _ in next() },
        orientationLogits: (0..<n).map { _ in 3 * next() },
        transitionLogits: (0..<n).map { _ in 2 * next() },
        mark: (0..<n).map { _ in next() }, direct: (0..<n).map { _ in next() })
    let input = (0..<(n * d)).map { _ in next() }
    return (gates, input)
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock], maxDuration: .seconds(3), maxIterations: 10)

    Benchmark("plstm 2D 512x512 hierarchical") { benchmark in
        let (gates, input) = makeProblem()
        let pool = WorkerPool(threadCount: 2)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try! gates.hierarchical(input: input, stateSize: 16, pool: pool))
        }
    }

    Benchmark("plstm 2D 512x512 parallel wavefront") { benchmark in
        let (gates, input) = makeProblem()
        let pool = WorkerPool(threadCount: 2)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try! gates.tiledWavefront(input: input, stateSize: 16, pool: pool))
        }
    }

    Benchmark("plstm 2D 512x512 wavefront") { benchmark in
        let (gates, input) = makeProblem()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try! gates.wavefront(input: input, stateSize: 16))
        }
    }
}
