import Synchronization

/// A job offered to the workers of a parallel pass, run at most once: by the first worker
/// whose items have run out (``WorkerPool/forEachDynamic(_:sideWork:_:)``), or, where no pass
/// took it, by whoever ``claim()``s it afterwards.
///
/// Why: a pass's join waits for its slowest worker. A streamed solve's output write, given to
/// a thread of its own, takes a core from a worker at the start of the next segment's pass on
/// a machine with as many cores as workers, and the other workers then wait for that one at
/// the join (2-core VM, ParaGRU d = 4, 2 threads: ≈ 0.35 ms of each ≈ 2 ms segment). Offered
/// as the pass's last item instead, the write fills the time the first worker to finish would
/// have waited.
///
///     let write = SideWork { writeRows(segment) }
///     options.sideWork = [write]
///     let solution = try solver.solve(inputs: next, steps: n, batch: 1)
///     if write.claim() { queueOnWriterThread(segment) }   // no pass took it
package final class SideWork: Sendable {
    private let taken = Atomic<Bool>(false)
    private let job: @Sendable () -> Void

    package init(_ job: @escaping @Sendable () -> Void) {
        self.job = job
    }

    /// True for exactly one caller: the one that is to do the work.
    package func claim() -> Bool {
        !taken.exchange(true, ordering: .acquiringAndReleasing)
    }

    /// Runs the job if no one has claimed it yet.
    package func runIfUnclaimed() {
        if claim() { job() }
    }

    /// Runs the job, for the caller whose ``claim()`` succeeded.
    package func run() {
        precondition(isClaimed, "SideWork.run before claim()")
        job()
    }

    /// Whether the job has been claimed (run, or being run, by someone).
    package var isClaimed: Bool { taken.load(ordering: .acquiring) }
}
