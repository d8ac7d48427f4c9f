// Parallel Newton vs the library's own sequential rollout, same inputs, same run; and one
// training step (forward + backward) via the parallel path vs sequential BPTT.
import Benchmark
import ParaRNN
import ParallelScan
import Training

let threads = WorkerPool.defaultThreadCount
let pool = WorkerPool(threadCount: threads)

func randomValues(_ count: Int, _ scale: Float, seed: UInt64) -> [Float] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return scale * (Float(state >> 40) / Float(1 << 23) - 1)
    }
}

func solveBenchmarks<C: RecurrentCell>(_ name: String, _ cell: C, batch: Int, steps: Int) where C.Scalar == Float {
    let x = randomValues(steps * batch * cell.inputSize, 1, seed: 9)
    for method in [SolverMethod.sequential, .newton] {
        let solver = SequenceSolver(cell: cell, options: SolverOptions(method: method, pool: pool))
        Benchmark("\(name) B=\(batch) d=\(cell.hiddenSize) T=\(steps) \(method) \(threads)t") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try! solver.solve(inputs: x, steps: steps, batch: batch).iterations)
            }
        }
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock], timeUnits: .milliseconds, maxDuration: .seconds(3), maxIterations: 10)
    for (d, batch, steps) in [(4, 1, 1_000_000), (64, 16, 10_000)] {
        let m = 1
        let gru = try! ParaGRU<Float>(
            inputSize: m, hiddenSize: d, recurrentGains: randomValues(3 * d, 1, seed: 1),
            inputWeights: randomValues(3 * d * m, 1, seed: 2), inputBias: randomValues(3 * d, 0.5, seed: 3))
        solveBenchmarks("paragru", gru, batch: batch, steps: steps)
        let lstm = try! ParaLSTM<Float>(
            inputSize: m, hiddenSize: d, recurrentGains: randomValues(3 * d, 1, seed: 4),
            peepholes: randomValues(2 * d, 1, seed: 5), inputWeights: randomValues(3 * d * m, 1, seed: 6),
            inputBias: randomValues(3 * d, 0.5, seed: 7))
        solveBenchmarks("paralstm", lstm, batch: batch, steps: steps)
    }
    // One training step: ParaGRU, batch 4, d = 8, T = 10^5.
    let steps = 100_000
    let batch = 4
    let d = 8
    var rng = SplitMix(seed: 1)
    let model = try! RecurrentModel<ParaGRU<Float>>.initialized(
        inputSize: 1, hiddenSize: d, layerCount: 1, outputSize: 1, using: &rng)
    let x = randomValues(steps * batch, 1, seed: 11)
    let y = randomValues(steps * batch, 1, seed: 12)
    for (label, method) in [("parallel", SolverMethod.newton), ("sequential BPTT", .sequential)] {
        let options = SolverOptions(method: method, pool: method == .sequential ? .serial : pool)
        Benchmark("train step paragru B=4 d=8 T=1e5 \(label)") { benchmark in
            for _ in benchmark.scaledIterations {
                let trace = try! model.forward(inputs: x, steps: steps, batch: batch, options: options)
                let dy = Loss.meanSquaredError.evaluate(
                    predictions: trace.outputs, targets: y, rows: steps * batch, outputs: 1
                ).gradient
                blackHole(
                    try! model.backward(trace: trace, outputGradient: dy, steps: steps, batch: batch, options: options)
                        .count)
            }
        }
    }
}
