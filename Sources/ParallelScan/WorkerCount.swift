/// What one time step of a parallel path costs: the bytes it streams through memory and the
/// arithmetic it does, for the plain solve and for the reduction pass of a chunked scan.
///
/// ```swift
/// // A diagonal scan over 64 Float lanes: the loop reads a, b and writes h; a reduction reads
/// // a, b and composes them.
/// let cost = ParallelCost.threePhase(solveBytes: 64 * 12, reduceBytes: 64 * 8,
///                                    solveOperations: 64 * 2, reduceOperations: 64 * 3)
/// ```
public struct ParallelCost: Sendable, Equatable {
    /// How the parallel form splits the work.
    public enum Form: Sendable, Equatable {
        /// The chunked three-phase scan: chunk 0 solved while the others are reduced, a serial
        /// carry pass, then every other chunk solved. Work grows by the reductions.
        case threePhase
        /// Independent chunks (or a pipeline of `stages` blocks, whose fill costs p − 1 of them):
        /// the same work as the loop, split.
        case split(stages: Int)
    }

    /// Bytes read and written per step by the plain loop (write-allocate included).
    public var solveBytes: Double
    /// Bytes read per step by a reduction (three-phase form only).
    public var reduceBytes: Double
    /// Arithmetic per step of the plain loop, in operations of one vector instruction: a loop
    /// over lanes counts lanes × scalar size / 32 (256-bit vectors), scalar code one per
    /// operation, a transcendental ≈ 20.
    public var solveOperations: Double
    /// Arithmetic per step of a reduction.
    public var reduceOperations: Double
    /// The parallel form.
    public var form: Form
    /// Whether reductions on p threads run p times as fast as on one; false for work that
    /// serialises in a library (BLAS's small matrix products), which then shares one core's
    /// rate among the workers.
    public var reduceScales = true

    /// A chunked three-phase scan's cost.
    public static func threePhase(
        solveBytes: Double, reduceBytes: Double, solveOperations: Double, reduceOperations: Double
    ) -> ParallelCost {
        ParallelCost(
            solveBytes: solveBytes, reduceBytes: reduceBytes, solveOperations: solveOperations,
            reduceOperations: reduceOperations, form: .threePhase)
    }

    /// The cost of work split into independent pieces (or a pipeline of `stages` blocks).
    public static func split(bytes: Double, operations: Double, stages: Int = 1 << 30) -> ParallelCost {
        ParallelCost(
            solveBytes: bytes, reduceBytes: 0, solveOperations: operations, reduceOperations: 0,
            form: .split(stages: max(1, stages)))
    }
}

/// How many workers a parallel path uses: the machine-aware cost model shared by the scans, the
/// linear-recurrence layers and pLSTM.
///
/// For p workers on T steps, with the per-step time of a pass
/// `t(pass, p) = max(operations / (F · s(p)), bytes · p / B(p))` (F: one core's operation
/// rate, s(p): the share of a core the slowest worker gets, ``slowestShare(workers:profile:)``,
/// from C(p), the profile's arithmetic throughput of p threads relative to one; B(p): its
/// aggregate bandwidth, B(p)/p a thread):
/// - plain loop: T · t(solve, 1);
/// - three-phase scan: T · t(solve, p) · (r + 1)/(r + p) with r = t(reduce, p)/t(solve, p) —
///   chunk 0 is r times longer so that phase 1 balances, then phase 3 solves the rest;
/// - split work: T · t(solve, p)/p · (1 + (p − 1)/stages);
/// plus a synchronisation cost per parallel phase. The path runs on the p with the least
/// predicted time, and on one worker unless that time beats the loop by ``margin`` even with one
/// other thread runnable on the machine (``contention(workers:cores:)``: on a machine the plan
/// fills, p + 1 threads share the cores) — a parallel path never runs where the model cannot
/// show it wins. On two cores a plan must so be predicted 1.5 × 1.35 ≈ 2 times as fast as the
/// loop — never, for two workers: a second worker there competes with everything else the
/// machine runs, and a chunked scan that loses its second core does its extra reductions on one.
///
/// With a pool whose ``WorkerPool/choice`` is ``WorkerPool/Choice/allThreads`` the model is
/// bypassed (tests and callers that want a fixed count); the pool's grain size limits both.
public enum WorkerCount {
    /// Operations (vector instructions or scalar operations) per second of one core.
    public static let operationsPerSecond = 4e9
    /// Seconds one parallel phase costs to start and join: a fixed part plus one per worker.
    public static let phaseOverhead = (fixed: 20e-6, perWorker: 3e-6)
    /// How much faster than the loop a parallel plan must be predicted to run. Measured gains on
    /// the 16-core machine were 0.5–1.0 of the predicted ones at 2 and 4 workers, and plans
    /// predicted to gain less than 1.35× read 0.72–1.34× there (dense d = 8 on four workers, 2×2
    /// blocks on two): below this margin the model cannot tell a win from a loss.
    public static let margin = 1.35

    /// The worker count for `steps` steps of `cost` on `pool`, up to `limit` (e.g. the grain
    /// limit or the number of independent pieces). Reads the pool's ``WorkerPool/machine`` only
    /// when the answer depends on it.
    public static func workers(steps: Int, cost: ParallelCost, pool: WorkerPool, limit: Int = .max) -> Int {
        let upper = max(1, min(pool.threadCount, limit))
        if upper == 1 { return 1 }
        if pool.choice == .allThreads { return upper }
        // Below this the synchronisation alone costs more than the best split could save.
        let loop = Double(steps) * max(cost.solveOperations / operationsPerSecond, cost.solveBytes / 50e9)
        if loop < 4 * (phaseOverhead.fixed + phaseOverhead.perWorker * Double(upper)) { return 1 }
        return workers(steps: steps, cost: cost, threads: upper, profile: pool.machine)
    }

    /// The decision for explicit inputs: the p in 1…`threads` with the least predicted time, or
    /// 1 unless that time, slowed by ``contention(workers:cores:)``, beats the loop's by
    /// ``margin``. Pure: tests pin it.
    public static func workers(steps: Int, cost: ParallelCost, threads: Int, profile: MachineProfile) -> Int {
        let loop = predictedSeconds(steps: steps, cost: cost, workers: 1, profile: profile)
        var best = (workers: 1, seconds: loop)
        if threads >= 2 {
            for p in 2...threads {
                let seconds = predictedSeconds(steps: steps, cost: cost, workers: p, profile: profile)
                if seconds < best.seconds { best = (p, seconds) }
            }
        }
        let cores = profile.cores
        let contended = best.seconds * contention(workers: best.workers, cores: cores)
        return contended * margin < loop * contention(workers: 1, cores: cores) ? best.workers : 1
    }

    /// The share of a core the slowest of `p` workers gets, for arithmetic. Every parallel phase
    /// ends with its slowest worker. When p threads deliver c = ``MachineProfile/computeScaling(threads:)``
    /// < p cores of arithmetic, some share a core (hyperthreads): if the others get a whole core
    /// each, the slowest is left 1 − (p − c), and a core split between two threads still gives
    /// each about half — so max(0.55, 1 − (p − c)), never more than the average c/p.
    ///
    /// ```swift
    /// // 4 threads measured at 3.29 cores: the slowest is taken to run on 0.55 of one (not 0.82).
    /// WorkerCount.slowestShare(workers: 4, profile: profile)
    /// ```
    public static func slowestShare(workers p: Int, profile: MachineProfile) -> Double {
        if p <= 1 { return 1 }
        let c = profile.computeScaling(threads: p)
        let q = Double(p)
        return min(c / q, max(0.55, 1 - (q - c)))
    }

    /// How much longer `p` workers take when one other thread (the system, another process) is
    /// runnable on a machine of `cores` cores: none while p + 1 ≤ cores, else the p + 1 threads
    /// share the cores, cores/(p + 1) of one each — (p + 1)/cores.
    ///
    /// ```swift
    /// WorkerCount.contention(workers: 2, cores: 2)     // 1.5: the loop has its core, two workers do not
    /// WorkerCount.contention(workers: 16, cores: 16)   // 1.0625
    /// WorkerCount.contention(workers: 4, cores: 16)    // 1
    /// ```
    public static func contention(workers p: Int, cores: Int) -> Double {
        max(1, Double(max(1, p) + 1) / Double(max(1, cores)))
    }

    /// r = t(reduce, p)/t(solve, p): what reducing a step costs relative to solving one when `p`
    /// workers run at once (each pass bound by its arithmetic or its share of the bandwidth,
    /// whichever is slower). A chunked scan makes its first chunk r times longer than the others
    /// (``ChunkPlan``), so that the chunk solved in phase 1 ends with the reductions beside it.
    ///
    /// ```swift
    /// // Dense d = 8 on two cores: the reduction composes matrices (d³), the solve applies one (d²).
    /// let r = WorkerCount.reduceRatio(cost: ScanShape.dense(batch: 1, dimension: 8).cost(scalarBytes: 4),
    ///                                 workers: 2, profile: profile)   // ≈ 2
    /// ```
    public static func reduceRatio(cost: ParallelCost, workers p: Int, profile: MachineProfile) -> Double {
        let p = max(1, p)
        let perThread = profile.bandwidth(threads: p) / Double(p)
        let rate = operationsPerSecond * slowestShare(workers: p, profile: profile)
        func pass(_ operations: Double, _ bytes: Double) -> Double {
            max(operations / rate, bytes / perThread)
        }
        let reduce =
            cost.reduceScales
            ? pass(cost.reduceOperations, cost.reduceBytes)
            : max(cost.reduceOperations * Double(p) / operationsPerSecond, cost.reduceBytes / perThread)
        return reduce / max(pass(cost.solveOperations, cost.solveBytes), 1e-18)
    }

    /// The ratio of ``reduceRatio(cost:workers:profile:)`` for a pool: from the pool's profile
    /// when its worker count comes from the model (the profile is loaded then anyway), else
    /// from the operation counts alone, so a pool that forces its threads never measures the
    /// machine and its chunk plans do not depend on it.
    public static func reduceRatio(cost: ParallelCost, workers p: Int, pool: WorkerPool) -> Double {
        if pool.choice == .costModel { return reduceRatio(cost: cost, workers: p, profile: pool.machine) }
        return cost.reduceOperations / max(cost.solveOperations, 1e-18)
    }

    /// The model's time for `steps` steps of `cost` on `workers` workers (1: the plain loop).
    public static func predictedSeconds(
        steps: Int, cost: ParallelCost, workers p: Int, profile: MachineProfile
    ) -> Double {
        let perThread = profile.bandwidth(threads: p) / Double(p)
        let rate = operationsPerSecond * slowestShare(workers: p, profile: profile)
        func pass(_ operations: Double, _ bytes: Double) -> Double {
            max(operations / rate, bytes / perThread)
        }
        let solve = pass(cost.solveOperations, cost.solveBytes)
        let t = Double(steps)
        if p == 1 { return t * solve }
        let sync = phaseOverhead.fixed + phaseOverhead.perWorker * Double(p)
        switch cost.form {
        case .threePhase:
            let r = reduceRatio(cost: cost, workers: p, profile: profile)
            return t * solve * (r + 1) / (r + Double(p)) + 2 * sync
        case .split(let stages):
            return t * solve / Double(p) * (1 + Double(p - 1) / Double(stages)) + sync
        }
    }
}
