import Dispatch
import Foundation
import LinearRNN
import LongConv
import PLSTM
import ParaRNN
import ParallelScan
import Training

/// One measurement: a hot path beside its baseline, timed in the same run.
public struct BenchmarkResult: Sendable, Codable {
    /// What was measured, e.g. "newton paragru".
    public var name: String
    /// Shape parameters, e.g. "B=1 d=4 T=1000000".
    public var shape: String
    /// Worker threads of the measured path.
    public var threads: Int
    /// Wall time of the measured path, seconds: the best of the repetitions, or for the rows
    /// timed interleaved with their baseline (scan, linear and plstm groups, ``PairedTiming``)
    /// the median, with the per-round ratio range in the notes ("ratio min", "ratio max").
    public var seconds: Double
    /// What it is compared with, e.g. "sequential rollout".
    public var baseline: String
    /// Wall time of the baseline in the same run (best, or median as for ``seconds``), seconds.
    public var baselineSeconds: Double
    /// baselineSeconds / seconds: > 1 means the measured path is faster.
    public var speedup: Double { baselineSeconds / seconds }
    /// Extra figures (GB/s, iterations, error, …).
    public var notes: [String: Double] = [:]
}

/// Which cases to run.
public enum BenchmarkPreset: String, Sendable, CaseIterable, Codable {
    /// Small sizes: seconds on 2 cores (CI smoke run, notebooks).
    case quick
    /// The sizes the issues name (T = 10^6 scans and solves, 512×512 pLSTM, L up to 2^16).
    case standard
}

/// The benchmark suite behind `pararnn bench`: every hot path with its baseline in the same run.
public struct PerformanceSuite: Sendable {
    public var preset: BenchmarkPreset
    /// Thread counts to sweep for the parallel paths.
    public var threadCounts: [Int]
    /// Repetitions per timing (the best is kept).
    public var repetitions: Int
    /// Only cases whose group ("scan", "newton", "train", "conv", "plstm", "linear", "xlstm") is listed;
    /// all if empty. "packed" and "pool" run only when listed.
    public var groups: Set<String>
    /// Only Newton cases whose "name shape" text contains this (e.g. "paragru B=1 d=4 T=1000000");
    /// all if nil. Lets a profiler look at one solve.
    public var newtonCaseFilter: String?
    /// The recordings of the `packed` group (which runs only when named in ``groups``).
    public var packedSet = PackedBenchSet()
    /// Newton cases: one more solve per thread count with per-phase, per-worker timings of the
    /// fused passes (``NewtonPhaseTimings``), added to the notes ("linearise ms", "busy w0 ms", …).
    public var phaseTimings = false
    /// Newton cases: also time the solve with Float16 Jacobian storage ("f16 J ms",
    /// "f16 J iterations", "f16 J max abs error").
    public var compactJacobians = false

    public init(
        preset: BenchmarkPreset, threadCounts: [Int], repetitions: Int = 3, groups: Set<String> = [],
        newtonCaseFilter: String? = nil
    ) {
        self.preset = preset
        self.newtonCaseFilter = newtonCaseFilter
        self.threadCounts = threadCounts.isEmpty ? [WorkerPool.defaultThreadCount] : threadCounts
        self.repetitions = max(1, repetitions)
        self.groups = groups
    }

    /// Runs every selected case; `progress` gets each result as it is measured.
    public func run(progress: (BenchmarkResult) -> Void = { _ in }) -> [BenchmarkResult] {
        var results: [BenchmarkResult] = []
        func emit(_ r: BenchmarkResult) {
            results.append(r)
            progress(r)
        }
        if selected("scan") { scans(emit) }
        if selected("newton") { newton(emit) }
        if selected("train") { training(emit) }
        if selected("conv") { convolutions(emit) }
        if selected("plstm") { plstm(emit) }
        if selected("linear") { linear(emit) }
        if selected("xlstm") { xlstm(emit) }
        if groups.contains("packed") { packed(emit) }
        if groups.contains("pool") { poolForkJoin(emit) }
        return results
    }

    func selected(_ group: String) -> Bool { groups.isEmpty || groups.contains(group) }

    /// Best wall time of `body` over the repetitions (after one warm-up run); short bodies run
    /// more often — until 0.25 s have been timed, at most 50 times — so that a few-millisecond
    /// kernel's best is not one scheduler hiccup away from its baseline's. `untimed` runs before
    /// each timed run, off the clock (a bench that keeps a large result releases it there).
    func time(_ body: () -> Void, untimed: () -> Void = {}) -> Double {
        body()
        var best = Double.infinity
        var spent = 0.0
        var runs = 0
        while runs < repetitions || (spent < 0.25 && runs < 50) {
            untimed()
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            best = min(best, seconds)
            spent += seconds
            runs += 1
        }
        return best
    }

    /// For every thread count, `candidate` on a pool of that many threads timed interleaved with
    /// `baseline` (``PairedTiming``: rounds of both, at least 9 (or `repetitions`) samples and
    /// 0.5 s a side, medians), so each row's ratio compares the two under the same machine
    /// state; on a shared VM the median of 9 keeps a same-code row within a few per cent of 1.
    func pairedSweep(
        baseline: () -> Void, candidate: (WorkerPool) -> Void
    ) -> [(threads: Int, pool: WorkerPool, timing: PairedTiming)] {
        threadCounts.map { threads in
            let pool = WorkerPool(threadCount: threads)
            let timing = PairedTiming.measure(
                minimumSamples: max(9, repetitions), minimumSeconds: 0.5, baseline: baseline,
                candidate: { candidate(pool) })
            return (threads, pool, timing)
        }
    }

    /// A row from a paired timing: median times, their ratio, and the per-round ratio range in
    /// the notes.
    func pairedResult(
        _ name: String, shape: String, threads: Int, timing: PairedTiming, baseline: String,
        notes: [String: Double] = [:]
    ) -> BenchmarkResult {
        BenchmarkResult(
            name: name, shape: shape, threads: threads, seconds: timing.candidate, baseline: baseline,
            baselineSeconds: timing.baseline, notes: notes.merging(timing.notes) { own, _ in own })
    }

    static func values(_ count: Int, scale: Float, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return scale * (Float(state >> 40) / Float(1 << 23) - 1)
        }
    }

    // MARK: scans

    func scans(_ emit: (BenchmarkResult) -> Void) {
        let steps = preset == .quick ? 100_000 : 1_000_000
        let lanes = 64
        let a = Self.values(steps * lanes, scale: 0.99, seed: 1)
        let b = Self.values(steps * lanes, scale: 1, seed: 2)
        let bytes = Double(3 * steps * lanes * 4)
        // The copy moves the same number of bytes as the scan touches (reads + writes).
        let copyCount = 3 * steps * lanes / 2
        let source = [Float](repeating: 1, count: copyCount)
        var target = [Float](repeating: 0, count: copyCount)
        let copySeconds = time {
            source.withUnsafeBufferPointer { s in
                target.withUnsafeMutableBufferPointer { t in
                    UnsafeMutableRawPointer(t.baseAddress!).copyMemory(from: s.baseAddress!, byteCount: copyCount * 4)
                }
            }
        }
        scanRows(
            "scan diagonal f32", shape: "T=\(steps) lanes=\(lanes)", .diagonal(lanes: lanes), a: a, b: b, steps: steps,
            emit
        ) { timing in
            [
                "GB/s": bytes / timing.candidate / 1e9, "memcpy GB/s": bytes / copySeconds / 1e9,
                "fraction of memcpy": copySeconds / timing.candidate,
            ]
        }
        let blocks = 32
        let a2 = Self.values(steps * 4 * blocks, scale: 0.45, seed: 3)
        let b2 = Self.values(steps * 2 * blocks, scale: 1, seed: 4)
        scanRows(
            "scan 2x2 block f32", shape: "T=\(steps) blocks=\(blocks)", .blockDiagonal(blocks: blocks, blockSize: 2),
            a: a2, b: b2, steps: steps, emit)
        for d in [8, 32] {
            let t = preset == .quick ? 10_000 : 100_000
            let a3 = Self.values(t * d * d, scale: 0.9 / Float(d), seed: 5)
            let b3 = Self.values(t * d, scale: 1, seed: 6)
            scanRows(
                "scan dense f32", shape: "T=\(t) d=\(d)", .dense(batch: 1, dimension: d), a: a3, b: b3, steps: t, emit)
        }
    }

    /// The rows of one scan shape: the chunked scan (``AffineScan/solve(_:a:b:steps:initial:output:transposed:direction:pool:)``)
    /// against its sequential loop at every thread count, with the worker count, the
    /// reduce/solve notes and the row's own `notes` (from its timing).
    func scanRows(
        _ name: String, shape label: String, _ shape: ScanShape, a: [Float], b: [Float], steps: Int,
        _ emit: (BenchmarkResult) -> Void, notes: (PairedTiming) -> [String: Double] = { _ in [:] }
    ) {
        var out = [Float](repeating: 0, count: b.count)
        func scan(_ pool: WorkerPool) {
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    out.withUnsafeMutableBufferPointer { o in
                        try! AffineScan.solve(shape, a: a, b: b, steps: steps, output: o, pool: pool)
                    }
                }
            }
        }
        let ratio = measuredReduceRatio(shape, a: a, b: b, steps: steps)
        for (threads, pool, timing) in pairedSweep(baseline: { scan(.serial) }, candidate: scan) {
            let workers = AffineScan.workers(shape, steps: steps, scalarBytes: 4, pool: pool)
            emit(
                pairedResult(
                    name, shape: label, threads: threads, timing: timing, baseline: "sequential loop",
                    notes: notes(timing).merging(["workers": Double(workers)]) { own, _ in own }.merging(
                        reduceSolveNotes(shape, measured: ratio, steps: steps, pool: pool)
                    ) { own, _ in own }))
        }
    }

    /// The reduce/solve notes of a scan row: what reducing a step costs relative to solving one,
    /// measured on one thread ("reduce/solve measured", ``measuredReduceRatio(_:a:b:steps:)``)
    /// and as the cost model puts it for the workers the pool runs ("reduce/solve model", the
    /// ratio the chunk plan sizes chunk 0 with): the row shows whether phase 1 of the chunked
    /// scan is balanced on this machine.
    func reduceSolveNotes(_ shape: ScanShape, measured: Double, steps: Int, pool: WorkerPool) -> [String: Double] {
        let workers = AffineScan.workers(shape, steps: steps, scalarBytes: 4, pool: pool)
        let model = WorkerCount.reduceRatio(cost: shape.cost(scalarBytes: 4), workers: max(2, workers), pool: pool)
        return ["reduce/solve model": model, "reduce/solve measured": measured]
    }

    /// One thread's time to reduce the whole sequence over its time to solve it
    /// (``AffineScan/measuredReduceRatio(_:a:b:steps:rounds:)``, specialised for Float).
    func measuredReduceRatio(_ shape: ScanShape, a: [Float], b: [Float], steps: Int) -> Double {
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                AffineScan.measuredReduceRatio(shape, a: a.baseAddress!, b: b.baseAddress!, steps: steps)
            }
        }
    }

    // MARK: Newton

    func newton(_ emit: (BenchmarkResult) -> Void) {
        let shapes: [(batch: Int, d: Int, steps: Int)] =
            preset == .quick
            ? [(1, 4, 100_000), (16, 64, 2_000)]
            : [(1, 4, 1_000_000), (1, 64, 10_000), (16, 4, 10_000), (16, 64, 10_000), (1, 4, 10_000)]
        for shape in shapes {
            let m = 1
            let d = shape.d
            let gru = try! ParaGRU<Float>(
                inputSize: m, hiddenSize: d, recurrentGains: Self.values(3 * d, scale: 1, seed: 7),
                inputWeights: Self.values(3 * d * m, scale: 1, seed: 8),
                inputBias: Self.values(3 * d, scale: 0.5, seed: 9))
            solve("newton paragru", gru, shape.batch, shape.steps, emit)
            let lstm = try! ParaLSTM<Float>(
                inputSize: m, hiddenSize: d, recurrentGains: Self.values(3 * d, scale: 1, seed: 10),
                peepholes: Self.values(2 * d, scale: 1, seed: 11),
                inputWeights: Self.values(3 * d * m, scale: 1, seed: 12),
                inputBias: Self.values(3 * d, scale: 0.5, seed: 13))
            solve("newton paralstm", lstm, shape.batch, shape.steps, emit)
        }
        // Classic dense cells (DEER): small d only.
        let d = 4
        let steps = preset == .quick ? 20_000 : 200_000
        let gru = try! GRU<Float>(
            inputSize: 1, hiddenSize: d, weightIH: Self.values(3 * d, scale: 1, seed: 14),
            weightHH: Self.values(3 * d * d, scale: 0.5, seed: 15), biasIH: Self.values(3 * d, scale: 0.3, seed: 16),
            biasHH: Self.values(3 * d, scale: 0.3, seed: 17))
        solve("newton gru (DEER)", gru, 1, steps, emit)
        let lstm = try! LSTM<Float>(
            inputSize: 1, hiddenSize: d, weightIH: Self.values(4 * d, scale: 1, seed: 18),
            weightHH: Self.values(4 * d * d, scale: 0.5, seed: 19), biasIH: Self.values(4 * d, scale: 0.3, seed: 20),
            biasHH: Self.values(4 * d, scale: 0.3, seed: 21))
        solve("newton lstm (DEER)", lstm, 1, steps, emit)
    }

    func solve<C: RecurrentCell>(
        _ name: String, _ cell: C, _ batch: Int, _ steps: Int, _ emit: (BenchmarkResult) -> Void
    ) where C.Scalar == Float {
        if let filter = newtonCaseFilter, !"\(name) B=\(batch) d=\(cell.hiddenSize) T=\(steps)".contains(filter) {
            return
        }
        let x = Self.values(steps * batch * cell.inputSize, scale: 1, seed: 99)
        var reference: [Float] = []
        let sequential = time {
            reference = try! SequenceSolver(cell: cell, options: SolverOptions(method: .sequential, pool: .serial))
                .solve(inputs: x, steps: steps, batch: batch).states
        }
        for threads in threadCounts {
            let pool = WorkerPool(threadCount: threads)
            let solver = SequenceSolver(cell: cell, options: SolverOptions(method: .newton, pool: pool))
            var solution: Solution<Float>? = nil
            let seconds = time { solution = try! solver.solve(inputs: x, steps: steps, batch: batch) }
            var error: Float = 0
            for i in reference.indices { error = max(error, abs(reference[i] - solution!.states[i])) }
            var automatic = solver
            automatic.options.method = .automatic
            let choice = automatic.chooseMethod(steps: steps, batch: batch).0
            var notes: [String: Double] = [
                "iterations": Double(solution!.iterations), "max abs error": Double(error),
                "converged": solution!.converged ? 1 : 0, "automatic picks newton": choice == .newton ? 1 : 0,
            ]
            let fused = cell.fusedNewtonBlockSize != nil
            if compactJacobians, fused {
                // Float16 Jacobian storage: the same certificate, fewer bytes per pass.
                var compact = solver
                compact.options.compactJacobians = true
                var compactSolution: Solution<Float>? = nil
                notes["f16 J ms"] =
                    1e3 * time { compactSolution = try! compact.solve(inputs: x, steps: steps, batch: batch) }
                notes["f16 J iterations"] = Double(compactSolution!.iterations)
                notes["f16 J converged"] = compactSolution!.converged ? 1 : 0
                var compactError: Float = 0
                for i in reference.indices {
                    compactError = max(compactError, abs(reference[i] - compactSolution!.states[i]))
                }
                notes["f16 J max abs error"] = Double(compactError)
            }
            if fused {
                // Newton from ParaRNN's guess f(0, u) beside the default start from chunk
                // rollouts (``NewtonGuess``): what the guess buys, in time and iterations.
                var fromZero = solver
                fromZero.options.newtonGuess = .zeroState
                var zeroSolution: Solution<Float>? = nil
                notes["f(0,u) guess ms"] =
                    1e3 * time { zeroSolution = try! fromZero.solve(inputs: x, steps: steps, batch: batch) }
                notes["f(0,u) guess iterations"] = Double(zeroSolution!.iterations)
            }
            if phaseTimings, fused {
                // One more (warm) solve, timed phase by phase in every worker.
                let timings = NewtonPhaseTimings()
                var timed = solver
                timed.options.phaseTimings = timings
                _ = try! timed.solve(inputs: x, steps: steps, batch: batch)
                notes.merge(timings.notes) { old, _ in old }
            }
            emit(
                BenchmarkResult(
                    name: name, shape: "B=\(batch) d=\(cell.hiddenSize) T=\(steps)", threads: threads,
                    seconds: seconds, baseline: "sequential rollout (1 thread)", baselineSeconds: sequential,
                    notes: notes))
        }
    }

    // MARK: training

    func training(_ emit: (BenchmarkResult) -> Void) {
        let steps = preset == .quick ? 10_000 : 100_000
        let batch = 4
        let d = 8
        var rng = SplitMix(seed: 1)
        let model = try! RecurrentModel<ParaGRU<Float>>.initialized(
            inputSize: 1, hiddenSize: d, layerCount: 1, outputSize: 1, using: &rng)
        let x = Self.values(steps * batch, scale: 1, seed: 22)
        let y = Self.values(steps * batch, scale: 1, seed: 23)
        func step(_ options: SolverOptions) -> Double {
            time {
                let trace = try! model.forward(inputs: x, steps: steps, batch: batch, options: options)
                let dy = Loss.meanSquaredError.evaluate(
                    predictions: trace.outputs, targets: y, rows: steps * batch, outputs: 1
                ).gradient
                _ = try! model.backward(trace: trace, outputGradient: dy, steps: steps, batch: batch, options: options)
            }
        }
        let bptt = step(SolverOptions(method: .sequential, pool: .serial))
        for threads in threadCounts {
            emit(
                BenchmarkResult(
                    name: "train step paragru (forward + backward)", shape: "B=\(batch) d=\(d) T=\(steps)",
                    threads: threads,
                    seconds: step(SolverOptions(method: .newton, pool: WorkerPool(threadCount: threads))),
                    baseline: "sequential rollout + BPTT (1 thread)", baselineSeconds: bptt))
        }
    }

    // MARK: long convolutions

    func convolutions(_ emit: (BenchmarkResult) -> Void) {
        let exponents = preset == .quick ? [8, 10, 12] : [6, 7, 8, 10, 12, 14, 16]
        for e in exponents {
            let length = 1 << e
            let u = Self.values(length, scale: 1, seed: 24)
            let k = Self.values(length, scale: 1, seed: 25)
            let convolver = try! FFTConvolver<Float>(length: length, pool: .serial)
            let spectrum = try! convolver.spectrum(kernel: k, channels: 1)
            let fft = time { _ = try! convolver.convolve(u, batch: 1, spectrum: spectrum) }
            let direct = time { _ = try! DirectConvolution.causal(u, batch: 1, channels: 1, length: length, kernel: k) }
            emit(
                BenchmarkResult(
                    name: "fft convolution f32 (cached kernel spectrum)", shape: "L=\(length)", threads: 1,
                    seconds: fft, baseline: "direct convolution", baselineSeconds: direct))
        }
    }

    // MARK: pLSTM

    func plstm(_ emit: (BenchmarkResult) -> Void) {
        let side = preset == .quick ? 128 : 512
        let d = 16
        let n = side * side
        let gates = try! GridGates<Float>.pMode(
            height: side, width: side, source: Self.values(n, scale: 1, seed: 26),
            orientationLogits: Self.values(n, scale: 2, seed: 27),
            transitionLogits: Self.values(n, scale: 1.5, seed: 28),
            mark: Self.values(n, scale: 1, seed: 29), direct: Self.values(n, scale: 1, seed: 30))
        let x = Self.values(n * d, scale: 1, seed: 31)
        let wavefront = { _ = try! gates.wavefront(input: x, stateSize: d) }
        let hierarchical = pairedSweep(baseline: wavefront) { pool in
            _ = try! gates.hierarchical(input: x, stateSize: d, pool: pool)
        }
        let tiled = pairedSweep(baseline: wavefront) { pool in
            _ = try! gates.tiledWavefront(input: x, stateSize: d, pool: pool)
        }
        for (h, t) in zip(hierarchical, tiled) {
            emit(
                pairedResult(
                    "plstm 2D hierarchical", shape: "\(side)x\(side) d=\(d)", threads: h.threads, timing: h.timing,
                    baseline: "sequential wavefront"))
            var notes = tiledTraceNotes(gates: gates, input: x, stateSize: d, schedule: .standard, pool: t.pool)
            notes["workers"] = Double(gates.tiledWavefrontWorkers(stateSize: d, pool: t.pool))
            emit(
                pairedResult(
                    "plstm 2D tiled wavefront", shape: "\(side)x\(side) d=\(d)", threads: t.threads, timing: t.timing,
                    baseline: "sequential wavefront", notes: notes))
        }
        if Self.plstmVariantsRequested {
            tiledVariantRows(gates: gates, input: x, stateSize: d, side: side, baseline: wavefront, emit)
        }
    }
}

extension PerformanceSuite {
    // MARK: linear recurrences

    func linear(_ emit: (BenchmarkResult) -> Void) {
        let steps = preset == .quick ? 100_000 : 1_000_000
        let (m, n, p) = (4, 16, 4)
        let diagonal = try! DiagonalLinearRNN<Float>(
            inputSize: m, stateSize: n, outputSize: p,
            a: Self.values(n, scale: 0.5, seed: 40).map { 0.5 + $0 }, b: Self.values(n * m, scale: 1, seed: 41),
            c: Self.values(p * n, scale: 1, seed: 42))
        let x = Self.values(steps * m, scale: 1, seed: 43)
        func diagonalLayer(_ pool: WorkerPool) {
            _ = try! diagonal.forward(x, steps: steps, batch: 1, keepStates: false, pool: pool)
        }
        for (threads, pool, timing) in pairedSweep(baseline: { diagonalLayer(.serial) }, candidate: diagonalLayer) {
            emit(
                pairedResult(
                    "linear diagonal RNN layer", shape: "T=\(steps) m=\(m) n=\(n) p=\(p)", threads: threads,
                    timing: timing, baseline: "sequential loop (1 thread)",
                    notes: [
                        "workers": Double(
                            diagonal.forwardWorkers(steps: steps, batch: 1, keepStates: false, pool: pool))
                    ]))
        }
        let (d, states) = (4, 8)
        let selective = try! SelectiveSSM<Float>(
            channels: d, stateSize: states, aLog: Self.values(d * states, scale: 1, seed: 44),
            wDelta: Self.values(d * d, scale: 0.5, seed: 45), bDelta: Self.values(d, scale: 0.5, seed: 46),
            wB: Self.values(states * d, scale: 1, seed: 47), wC: Self.values(states * d, scale: 1, seed: 48))
        let u = Self.values(steps * d, scale: 1, seed: 49)
        let z = Self.values(steps * d, scale: 1, seed: 50)
        func selectiveLayer(_ pool: WorkerPool) {
            _ = try! selective.forward(u, z: z, steps: steps, batch: 1, keepStates: false, pool: pool)
        }
        for (threads, pool, timing) in pairedSweep(baseline: { selectiveLayer(.serial) }, candidate: selectiveLayer) {
            emit(
                pairedResult(
                    "selective SSM layer (Mamba-style)", shape: "T=\(steps) d=\(d) N=\(states)", threads: threads,
                    timing: timing, baseline: "sequential loop (1 thread)",
                    notes: ["workers": Double(selective.forwardWorkers(steps: steps, batch: 1, pool: pool))]))
        }
    }
}

extension BenchmarkResult {
    /// A Markdown table of results.
    public static func markdown(_ results: [BenchmarkResult]) -> String {
        var lines = [
            "| path | shape | threads | time (ms) | baseline | baseline (ms) | speedup | notes |",
            "|---|---|---:|---:|---|---:|---:|---|",
        ]
        for r in results {
            let notes = r.notes.keys.sorted().map { key in
                let v = r.notes[key]!
                return "\(key) \(v.magnitude >= 0.01 || v == 0 ? String(format: "%.3g", v) : String(format: "%.1e", v))"
            }.joined(separator: ", ")
            lines.append(
                "| \(r.name) | \(r.shape) | \(r.threads) | \(String(format: "%.2f", r.seconds * 1000)) | \(r.baseline) | \(String(format: "%.2f", r.baselineSeconds * 1000)) | \(String(format: "%.2f", r.speedup))× | \(notes) |"
            )
        }
        return lines.joined(separator: "\n")
    }
}
