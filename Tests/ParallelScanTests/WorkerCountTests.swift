import ParallelScan
import Testing

/// The worker-count decisions for fixed machine profiles: the figures of the two machines in
/// `shared/reference/machines.md` (triad GB/s), so a change to the model that moves a decision
/// shows up here instead of silently in a benchmark.
@Suite("Worker counts from the cost model")
struct WorkerCountTests {
    /// 2-core VM: 32 GB/s on one thread, 38 on two — one core nearly saturates memory — and two
    /// virtual CPUs that add 10 % arithmetic throughput (hyperthreads of one core).
    static let twoCore = MachineProfile(cores: 2, bandwidth: [1: 32e9, 2: 38e9], compute: [2: 1.1])
    /// The same memory with two independent cores.
    static let twoFullCores = MachineProfile(cores: 2, bandwidth: [1: 32e9, 2: 38e9], compute: [2: 1.95])
    /// 16-core Xeon, default placement.
    static let sixteenCore = MachineProfile(
        cores: 16, bandwidth: [1: 12.1e9, 2: 22.8e9, 4: 26.5e9, 8: 47.3e9, 16: 80.7e9])

    func scan(_ shape: ScanShape, steps: Int, threads: Int, _ profile: MachineProfile) -> Int {
        WorkerCount.workers(steps: steps, cost: shape.cost(scalarBytes: 4), threads: threads, profile: profile)
    }

    @Test("scans stay on one worker where one core saturates memory and a second adds no arithmetic")
    func twoCoreScans() {
        #expect(scan(.diagonal(lanes: 64), steps: 1_000_000, threads: 2, Self.twoCore) == 1)
        #expect(scan(.blockDiagonal(blocks: 32, blockSize: 2), steps: 1_000_000, threads: 2, Self.twoCore) == 1)
        #expect(scan(.dense(batch: 1, dimension: 8), steps: 100_000, threads: 2, Self.twoCore) == 1)
        #expect(scan(.dense(batch: 1, dimension: 32), steps: 100_000, threads: 2, Self.twoCore) == 1)
        // A fused linear layer (compute-bound) gains nothing from a hyperthread either.
        let layer = ParallelCost.threePhase(solveBytes: 32, reduceBytes: 16, solveOperations: 144, reduceOperations: 86)
        #expect(WorkerCount.workers(steps: 1_000_000, cost: layer, threads: 2, profile: Self.twoCore) == 1)
    }

    @Test("the same scans use the cores where bandwidth grows with them")
    func sixteenCoreScans() {
        #expect(scan(.diagonal(lanes: 64), steps: 1_000_000, threads: 16, Self.sixteenCore) == 16)
        #expect(scan(.blockDiagonal(blocks: 32, blockSize: 2), steps: 1_000_000, threads: 16, Self.sixteenCore) == 16)
        #expect(scan(.dense(batch: 1, dimension: 8), steps: 100_000, threads: 16, Self.sixteenCore) == 16)
        // d = 32 reduces through BLAS, which serialises small products from many threads: the
        // reductions share one core's rate, and the loop wins.
        #expect(scan(.dense(batch: 1, dimension: 32), steps: 100_000, threads: 16, Self.sixteenCore) == 1)
        // Never more workers than threads, and one thread is the loop.
        #expect(scan(.diagonal(lanes: 64), steps: 1_000_000, threads: 1, Self.sixteenCore) == 1)
    }

    @Test("short problems stay on one worker: synchronisation would cost more than the split saves")
    func shortProblems() {
        #expect(scan(.diagonal(lanes: 4), steps: 200, threads: 16, Self.sixteenCore) == 1)
    }

    @Test("compute-bound work splits over four independent cores; on two, a second worker never pays")
    func computeBound() {
        let fourFullCores = MachineProfile(cores: 4, bandwidth: [1: 32e9, 4: 60e9], compute: [4: 3.9])
        let cost = ParallelCost.split(bytes: 48, operations: 1_000)
        #expect(WorkerCount.workers(steps: 1_000_000, cost: cost, threads: 3, profile: fourFullCores) == 3)
        let scanCost = ParallelCost.threePhase(
            solveBytes: 48, reduceBytes: 24, solveOperations: 1_000, reduceOperations: 850)
        #expect(WorkerCount.workers(steps: 1_000_000, cost: scanCost, threads: 3, profile: fourFullCores) == 3)
        // Two workers fill a 2-core machine: with one other runnable thread they run at 2/3 of
        // their speed, so even a perfect split (1.95× predicted) is 1.3×, under the margin.
        #expect(WorkerCount.workers(steps: 1_000_000, cost: cost, threads: 2, profile: Self.twoFullCores) == 1)
        #expect(WorkerCount.workers(steps: 1_000_000, cost: scanCost, threads: 2, profile: Self.twoFullCores) == 1)
        #expect(scan(.diagonal(lanes: 64), steps: 1_000_000, threads: 2, Self.twoFullCores) == 1)
    }

    @Test("one other runnable thread slows a plan only once the plan fills the machine")
    func contention() {
        #expect(WorkerCount.contention(workers: 1, cores: 2) == 1)
        #expect(WorkerCount.contention(workers: 2, cores: 2) == 1.5)
        #expect(WorkerCount.contention(workers: 15, cores: 16) == 1)
        #expect(WorkerCount.contention(workers: 16, cores: 16) == 17.0 / 16)
        #expect(WorkerCount.contention(workers: 4, cores: 1) == 5)
    }

    @Test("a pool that asks for all threads bypasses the model; the grain limit still applies")
    func forcedCount() {
        let pool = WorkerPool(threadCount: 4, grainSize: 1, choice: .allThreads)
        #expect(AffineScan.workers(.diagonal(lanes: 2), steps: 100, scalarBytes: 4, pool: pool) == 4)
        #expect(AffineScan.workers(.diagonal(lanes: 2), steps: 4, scalarBytes: 4, pool: pool) == 2)
        #expect(AffineScan.workers(.diagonal(lanes: 2), steps: 100, scalarBytes: 4, pool: .serial) == 1)
        // A pool's profile pins the decision whatever machine runs it.
        let onTwo = WorkerPool(threadCount: 2, profile: Self.twoCore)
        let onSixteen = WorkerPool(threadCount: 16, profile: Self.sixteenCore)
        #expect(AffineScan.workers(.diagonal(lanes: 64), steps: 1_000_000, scalarBytes: 4, pool: onTwo) == 1)
        #expect(AffineScan.workers(.diagonal(lanes: 64), steps: 1_000_000, scalarBytes: 4, pool: onSixteen) == 16)
    }

    /// The 2-core VM as measured (profile cache): copy GB/s {1: 15.5, 2: 25.1}, arithmetic 1.64×.
    static let twoCoreMeasured = MachineProfile(cores: 2, bandwidth: [1: 15.5e9, 2: 25.1e9], compute: [2: 1.64])
    /// The 16-core machine as measured: copy GB/s {1: 14, 16: 237.5}, arithmetic 10.4× on sixteen.
    static let sixteenCoreMeasured = MachineProfile(
        cores: 16, bandwidth: [1: 14e9, 16: 237.5e9], compute: [16: 10.4])

    @Test("bench scans on the measured 2-core VM: every scan stays on the loop")
    func measuredTwoCore() {
        let m = Self.twoCoreMeasured
        // 64 lanes stream 16 B a lane-step; a second thread adds 62 % bandwidth: 1.35× predicted
        // on an idle machine, 0.9× with one other runnable thread (the VM read 0.70–1.02×).
        #expect(scan(.diagonal(lanes: 64), steps: 1_000_000, threads: 2, m) == 1)
        // 2×2 blocks: the reduction composes block by block in scalar code (24 operations a
        // block-step), 2.3× a solve at p = 2: 1.05× predicted.
        #expect(scan(.blockDiagonal(blocks: 32, blockSize: 2), steps: 1_000_000, threads: 2, m) == 1)
        // Dense reductions are matrix-matrix (d³), three d = 8 solves: 1.01× predicted for
        // d = 8, a loss for d = 32.
        #expect(scan(.dense(batch: 1, dimension: 8), steps: 100_000, threads: 2, m) == 1)
        #expect(scan(.dense(batch: 1, dimension: 32), steps: 100_000, threads: 2, m) == 1)
        #expect(scan(.diagonal(lanes: 64), steps: 1_000_000, threads: 1, m) == 1)
    }

    @Test("bench scans on the measured 16-core machine, 1–16 threads")
    func measuredSixteenCore() {
        let m = Self.sixteenCoreMeasured
        func counts(_ shape: ScanShape, steps: Int) -> [Int] {
            [1, 2, 4, 8, 16].map { scan(shape, steps: steps, threads: $0, m) }
        }
        // Diagonal: memory-bound, bandwidth grows with the threads (1.72× predicted on two).
        #expect(counts(.diagonal(lanes: 64), steps: 1_000_000) == [1, 2, 4, 8, 16])
        // 2×2: the reduction composes a block per vector lane (96 instructions a step for 32
        // blocks): it streams a and b at about half a solve's cost, and two workers pay.
        #expect(counts(.blockDiagonal(blocks: 32, blockSize: 2), steps: 1_000_000) == [1, 2, 4, 8, 16])
        // Dense d = 8: the solve's 8 dot products are scalar code (128 operations a step — the
        // loop is arithmetic-bound), the reduction's A·P adds 4d³/8 = 256 vector instructions:
        // r = 3. Two workers predict 1.00×, four 1.23× (read 0.72×), eight 1.76× (read 1.58×),
        // sixteen 2.73× (read 2.42×).
        #expect(counts(.dense(batch: 1, dimension: 8), steps: 100_000) == [1, 1, 1, 8, 16])
        // d = 32 reduces through BLAS, serialised across threads: at most 1.19× predicted.
        #expect(counts(.dense(batch: 1, dimension: 32), steps: 100_000) == [1, 1, 1, 1, 1])
    }

    /// The 16-core instance of never22b round 1: copy GB/s {1: 10.7, 2: 20.7, 4: 38.4, 8: 46.6,
    /// 16: 90.5}, arithmetic {2: 1.77, 4: 3.36, 8: 6.62, 16: 7.39} (hyperthreads past eight).
    static let sixteenCoreRound1 = MachineProfile(
        cores: 16, bandwidth: [1: 10.7e9, 2: 20.7e9, 4: 38.4e9, 8: 46.6e9, 16: 90.5e9],
        compute: [2: 1.77, 4: 3.36, 8: 6.62, 16: 7.39])

    @Test("bench scans on the round-1 16-core instance, 1–16 threads")
    func roundOneSixteenCore() {
        let m = Self.sixteenCoreRound1
        func counts(_ shape: ScanShape, steps: Int) -> [Int] {
            [1, 2, 4, 8, 16].map { scan(shape, steps: steps, threads: $0, m) }
        }
        #expect(counts(.diagonal(lanes: 64), steps: 1_000_000) == [1, 2, 4, 8, 16])
        // 2×2 on two workers read 0.95× there with the scalar reduction (24 instructions a
        // block); the vector one costs an eighth of that.
        #expect(counts(.blockDiagonal(blocks: 32, blockSize: 2), steps: 1_000_000) == [1, 2, 4, 8, 16])
        // Dense d = 8 on four threads measured at 3.36 cores: the slowest worker is taken to
        // share its core (0.64 of one), and the loop stays (read 1.32× with four workers there,
        // 0.72× and 0.78× on two other instances). Fourteen workers beat sixteen: the last two
        // threads add 0.8 of a core's arithmetic.
        #expect(counts(.dense(batch: 1, dimension: 8), steps: 100_000) == [1, 1, 1, 8, 14])
        #expect(counts(.dense(batch: 1, dimension: 32), steps: 100_000) == [1, 1, 1, 1, 1])
    }

    @Test("chunk 0 is sized by the model's reduce/solve ratio: dense d = 8 three, a memory-bound diagonal 1/2")
    func reduceRatios() {
        let m = Self.sixteenCoreMeasured
        let dense = ScanShape.dense(batch: 1, dimension: 8).cost(scalarBytes: 4)
        #expect(dense.solveOperations == 128)
        #expect(dense.reduceOperations == 384)
        #expect(abs(WorkerCount.reduceRatio(cost: dense, workers: 16, profile: m) - 3) < 1e-12)
        let diagonal = ScanShape.diagonal(lanes: 64).cost(scalarBytes: 4)
        #expect(abs(WorkerCount.reduceRatio(cost: diagonal, workers: 16, profile: m) - 0.5) < 1e-12)
        // A pool that forces its threads never reads the machine: the operation counts decide.
        let forced = WorkerPool(threadCount: 4, grainSize: 1, choice: .allThreads)
        #expect(WorkerCount.reduceRatio(cost: dense, workers: 4, pool: forced) == 3)
        #expect(WorkerCount.reduceRatio(cost: diagonal, workers: 4, pool: forced) == 1.5)
        // BLAS sizes (d > 16) count vectors in both passes.
        let large = ScanShape.dense(batch: 1, dimension: 32).cost(scalarBytes: 4)
        #expect(large.solveOperations == 2 * 1024 / 8)
        #expect(large.reduceOperations == (2 * 32_768 + 2 * 1024) / 8)
        // …and its BLAS reductions share one core's rate: on 16 workers a step costs 16 × 2.1 µs.
        #expect(!large.reduceScales && dense.reduceScales)
        #expect(
            abs(
                WorkerCount.reduceRatio(cost: large, workers: 16, profile: m) - 8448 * 16 / 4e9
                    / (4480 / (237.5e9 / 16))) < 1e-9)
    }

    @Test("a block reduction of k = 3, 4 counts scalar operations, of 2×2 and k > 4 vector ones")
    func blockReductionCost() {
        // 2×2: a block per lane, 24 instructions per 8 Float blocks (two vectors of Doubles),
        // then 4 blocks, then one at a time.
        let small = ScanShape.blockDiagonal(blocks: 32, blockSize: 2).cost(scalarBytes: 4)
        #expect(small.reduceOperations == 24 * 4)
        #expect(ScanShape.blockDiagonal(blocks: 32, blockSize: 2).cost(scalarBytes: 8).reduceOperations == 24 * 8)
        #expect(ScanShape.blockDiagonal(blocks: 15, blockSize: 2).cost(scalarBytes: 4).reduceOperations == 24 * 5)
        let three = ScanShape.blockDiagonal(blocks: 32, blockSize: 3).cost(scalarBytes: 4)
        #expect(three.reduceOperations == (54 + 18) * 32)
        let large = ScanShape.blockDiagonal(blocks: 32, blockSize: 8).cost(scalarBytes: 4)
        #expect(large.reduceOperations == (2 * 512 + 2 * 64) * 32 / 8)
    }

    /// The 16-core instance of never22c's device run 1 (its measured profile): copy GB/s {1: 11.4,
    /// 2: 20.7, 4: 43.4, 8: 78.0, 16: 123.5}, arithmetic {2: 1.96, 4: 3.85, 8: 7.56, 16: 11.76}.
    static let sixteenCoreNever22c = MachineProfile(
        cores: 16, bandwidth: [1: 11.38e9, 2: 20.70e9, 4: 43.39e9, 8: 78.00e9, 16: 123.48e9],
        compute: [2: 1.961, 4: 3.847, 8: 7.556, 16: 11.758])

    @Test("bench scans on the never22c 16-core instance, 1–16 threads, as measured there")
    func never22cSixteenCore() {
        let m = Self.sixteenCoreNever22c
        func counts(_ shape: ScanShape, steps: Int) -> [Int] {
            [1, 2, 4, 8, 16].map { scan(shape, steps: steps, threads: $0, m) }
        }
        // Read there (paired medians): diagonal 1.01/1.30/1.95/2.78/4.21×, 2×2 0.99/1.50/2.49/
        // 4.04/6.30×, dense d = 8 0.99/1.00 (loop)/1.65 (4 workers)/2.38 (8)/3.71× (16), d = 32
        // on the loop 0.99–1.02×. Four threads measured at 3.85 cores leave the slowest worker 0.85
        // of one: dense d = 8 keeps its four workers (read 1.65×); of eight threads (7.56 cores)
        // it takes six.
        #expect(counts(.diagonal(lanes: 64), steps: 1_000_000) == [1, 2, 4, 8, 16])
        #expect(counts(.blockDiagonal(blocks: 32, blockSize: 2), steps: 1_000_000) == [1, 2, 4, 8, 16])
        #expect(counts(.dense(batch: 1, dimension: 8), steps: 100_000) == [1, 1, 4, 6, 16])
        #expect(counts(.dense(batch: 1, dimension: 32), steps: 100_000) == [1, 1, 1, 1, 1])
    }

    /// The 16-core instance of never22c's device run 2: copy GB/s {1: 10.8, 2: 21.2, 4: 39.9,
    /// 8: 73.8, 16: 98.0}, arithmetic {2: 1.82, 4: 3.29, 8: 6.58, 16: 7.50}.
    static let sixteenCoreNever22cRun2 = MachineProfile(
        cores: 16, bandwidth: [1: 10.80e9, 2: 21.24e9, 4: 39.92e9, 8: 73.81e9, 16: 98.01e9],
        compute: [2: 1.819, 4: 3.289, 8: 6.579, 16: 7.503])

    @Test("dense d = 8 on four threads of a machine whose fourth thread shares a core: the loop")
    func slowestWorker() {
        let m = Self.sixteenCoreNever22cRun2
        // 3.29 cores from four threads: the slowest worker gets 0.55 of a core, and four
        // workers, predicted 1.42× from the average share, read 0.78× there (best round 1.23×).
        #expect(WorkerCount.slowestShare(workers: 4, profile: m) == 0.55)
        #expect(WorkerCount.slowestShare(workers: 1, profile: m) == 1)
        #expect(abs(WorkerCount.slowestShare(workers: 4, profile: Self.sixteenCoreNever22c) - 0.847) < 1e-12)
        #expect(WorkerCount.slowestShare(workers: 16, profile: m) == 7.503 / 16)
        #expect(WorkerCount.slowestShare(workers: 8, profile: Self.sixteenCore) == 1)
        let counts = [1, 2, 4, 8, 16].map {
            scan(.dense(batch: 1, dimension: 8), steps: 100_000, threads: $0, m)
        }
        #expect(counts == [1, 1, 1, 8, 13])
        #expect(scan(.blockDiagonal(blocks: 32, blockSize: 2), steps: 1_000_000, threads: 4, m) == 4)
    }

    @Test("bandwidth interpolates between measured thread counts and stays flat beyond")
    func interpolation() {
        let p = Self.sixteenCore
        #expect(p.bandwidth(threads: 3) == (22.8e9 + 26.5e9) / 2)
        #expect(p.bandwidth(threads: 32) == 80.7e9)
        #expect(MachineProfile(parsing: "bandwidth=1:32,2:38;compute=2:1.1;cores=2", cores: 8) == Self.twoCore)
        #expect(Self.sixteenCore.computeScaling(threads: 8) == 8)
        #expect(Self.twoCore.computeScaling(threads: 2) == 1.1)
        #expect(MachineProfile(parsing: "bandwidth=2:38", cores: 2) == nil)
    }
}
