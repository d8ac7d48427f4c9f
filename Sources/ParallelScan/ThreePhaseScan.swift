/// The chunked three-phase scan shared by every scan in this module.
///
/// With p workers and chunks c₀ … c_p (``ChunkPlan``):
/// 1. in parallel: worker 0 solves c₀ from the initial state; worker i ≥ 1 reduces c_i to its
///    summary (the composition of its elements);
/// 2. serially: the carry-in of c₁ is the last state of c₀, and the carry-in of c_{i+1} is the
///    summary of c_i applied to the carry-in of c_i;
/// 3. in parallel: worker i solves c_{i+1} from its carry-in.
///
/// The variants supply the per-chunk kernels; storage for carries and summaries is theirs.
@usableFromInline
struct ThreePhaseScan {
    @usableFromInline let plan: ChunkPlan
    @usableFromInline let pool: WorkerPool

    @inlinable init(plan: ChunkPlan, pool: WorkerPool) {
        self.plan = plan
        self.pool = pool
    }

    /// Runs the three phases.
    /// - Parameters:
    ///   - solveFirst: solves chunk 0 (its range) from the initial state.
    ///   - reduce: reduces chunk `c` (≥ 1) to summary slot `c`.
    ///   - carryFromFirst: writes carry slot 1 from the end of chunk 0.
    ///   - propagate: writes carry slot `c + 1` from summary `c` and carry `c` (c ≥ 1).
    ///   - solveFrom: solves chunk `c` (≥ 1) from carry slot `c`.
    @inlinable
    func run(
        solveFirst: (Range<Int>) -> Void,
        reduce: (Int, Range<Int>) -> Void,
        carryFromFirst: (Range<Int>) -> Void,
        propagate: (Int) -> Void,
        solveFrom: (Int, Range<Int>) -> Void
    ) {
        let ranges = plan.ranges
        let chunks = ranges.count
        if chunks == 1 {
            solveFirst(ranges[0])
            return
        }
        let workers = chunks - 1
        pool.forEach(workers) { w in
            if w == 0 {
                solveFirst(ranges[0])
            } else {
                // Composed products decay through the subnormal range (see withSubnormalsFlushed).
                withSubnormalsFlushed { reduce(w, ranges[w]) }
            }
        }
        carryFromFirst(ranges[0])
        for c in 1..<workers { propagate(c) }
        pool.forEach(workers) { w in solveFrom(w + 1, ranges[w + 1]) }
    }
}

/// How many workers a scan of `steps × width` scalar operations uses: at most one per
/// `pool.grainSize` operations and one per two steps, and among those what ``WorkerCount``'s
/// model says pays off for `cost` on this machine.
@inlinable
func workersFor(steps: Int, width: Int, cost: ParallelCost, pool: WorkerPool) -> Int {
    let work = steps.multipliedReportingOverflow(by: max(1, width))
    let total = work.overflow ? Int.max : work.partialValue
    let byWork = max(1, total / pool.grainSize)
    let bySteps = max(1, steps / 2)
    return WorkerCount.workers(steps: steps, cost: cost, pool: pool, limit: min(byWork, bySteps))
}
