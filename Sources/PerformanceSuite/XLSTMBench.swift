import LinearRNN
import ParaRNN
import ParallelScan

extension PerformanceSuite {
    // MARK: xLSTM family (group "xlstm")

    /// mLSTM and retention (B = 1, 4 heads, D_k = D_v = 64; T = 16384 standard, 4096 quick), Float:
    /// the chunkwise form (L = 64) against the step form on the same threads and on 1 thread, the
    /// quadratic parallel form, a chunk-size sweep, and the chunkwise backward; then the
    /// diagonal sLSTM (ParaSLSTM, its hand-written kernel) by Newton vs its sequential rollout.
    func xlstm(_ emit: (BenchmarkResult) -> Void) {
        let steps = preset == .quick ? 4096 : 16384
        let (heads, dk, dv) = (4, 64, 64)
        let layer = try! MLSTM<Float>(heads: heads, keySize: dk, valueSize: dv)
        let rows = steps * heads
        let q = Self.values(rows * dk, scale: 1, seed: 60)
        let k = Self.values(rows * dk, scale: 1, seed: 61)
        let v = Self.values(rows * dv, scale: 1, seed: 62)
        let ig = Self.values(rows, scale: 3, seed: 63)
        let fg = Self.values(rows, scale: 2, seed: 64).map { $0 + 3 }
        let shape = "B=1 H=\(heads) Dk=\(dk) Dv=\(dv) T=\(steps)"
        func forward(_ form: GatedForm, _ pool: WorkerPool, keep: Bool = false) -> GatedTrace<Float> {
            try! layer.forward(
                queries: q, keys: k, values: v, inputGates: ig, forgetGates: fg, steps: steps, batch: 1, form: form,
                keepStates: keep, pool: pool)
        }
        func maxError(_ a: [Float], _ b: [Float]) -> Double {
            var e: Float = 0
            for i in a.indices { e = max(e, abs(a[i] - b[i])) }
            return Double(e)
        }
        let reference = forward(.recurrent, .serial).output
        let stepSerial = time { _ = forward(.recurrent, .serial) }
        for threads in threadCounts {
            let pool = WorkerPool(threadCount: threads)
            let step = threads == 1 ? stepSerial : time { _ = forward(.recurrent, pool) }
            var out: [Float] = []
            let chunkwise = time { out = forward(.chunkwise, pool).output }
            emit(
                BenchmarkResult(
                    name: "mlstm chunkwise L=64 f32", shape: shape, threads: threads, seconds: chunkwise,
                    baseline: "mlstm step form (same threads)", baselineSeconds: step,
                    notes: [
                        "vs step form 1 thread": stepSerial / chunkwise,
                        "max abs error vs step": maxError(out, reference),
                    ]))
            let quadratic = time { out = forward(.quadratic(tileSize: 64), pool).output }
            emit(
                BenchmarkResult(
                    name: "mlstm chunkwise L=64 f32", shape: shape, threads: threads, seconds: chunkwise,
                    baseline: "mlstm quadratic parallel form (same threads)", baselineSeconds: quadratic,
                    notes: ["quadratic max abs error vs step": maxError(out, reference)]))
            for chunk in [16, 32, 64, 128, 256, 512] {
                let form = GatedForm.chunkwise(chunkSize: chunk, tileSize: min(chunk, 64))
                let seconds = time { out = forward(form, pool).output }
                emit(
                    BenchmarkResult(
                        name: "mlstm chunk sweep L=\(chunk) tile=\(min(chunk, 64)) f32", shape: shape, threads: threads,
                        seconds: seconds, baseline: "mlstm step form (same threads)", baselineSeconds: step,
                        notes: ["max abs error vs step": maxError(out, reference)]))
            }
            let dh = Self.values(rows * dv, scale: 1, seed: 65)
            let training = time {
                let trace = forward(.chunkwise, pool, keep: true)
                _ = try! layer.backward(
                    queries: q, keys: k, values: v, inputGates: ig, forgetGates: fg, trace: trace, outputGradient: dh,
                    pool: pool)
            }
            emit(
                BenchmarkResult(
                    name: "mlstm chunkwise forward + backward L=64 f32", shape: shape, threads: threads,
                    seconds: training,
                    baseline: "mlstm chunkwise forward (inference)", baselineSeconds: chunkwise))
        }
        let retention = try! Retention<Float>(
            keySize: dk, valueSize: dv, decays: Retention<Float>.defaultDecays(heads: heads))
        func retain(_ form: GatedForm, _ pool: WorkerPool) -> Double {
            time {
                _ = try! retention.forward(
                    queries: q, keys: k, values: v, steps: steps, batch: 1, form: form, keepStates: false, pool: pool)
            }
        }
        // ParaSLSTM runs its hand-written kernel (rollout and 4×4 Jacobian blocks); T = 10⁵ in
        // the standard preset.
        let slstmShapes: [(batch: Int, d: Int, steps: Int)] =
            preset == .quick ? [(1, 4, 1_000)] : [(1, 4, 1_000), (1, 4, 100_000)]
        for shape in slstmShapes {
            var bias = Self.values(4 * shape.d, scale: 0.5, seed: 66)
            for j in 0..<shape.d { bias[shape.d + j] += 2 }
            let cell = try! ParaSLSTM<Float>(
                inputSize: 1, hiddenSize: shape.d, recurrentGains: Self.values(4 * shape.d, scale: 0.5, seed: 67),
                inputWeights: Self.values(4 * shape.d, scale: 1.5, seed: 68), inputBias: bias)
            solve("newton paraslstm (diagonal sLSTM)", cell, shape.batch, shape.steps, emit)
        }
        let retentionStep = retain(.recurrent, .serial)
        for threads in threadCounts {
            let pool = WorkerPool(threadCount: threads)
            emit(
                BenchmarkResult(
                    name: "retention chunkwise L=64 f32", shape: shape, threads: threads,
                    seconds: retain(.chunkwise, pool), baseline: "retention step form (1 thread)",
                    baselineSeconds: retentionStep))
        }
    }
}
