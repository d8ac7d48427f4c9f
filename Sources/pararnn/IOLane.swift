import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A serial lane of background work (reading input ahead, writing output behind) on one
/// thread of its own, at normal priority or, when the solve asks for it, only on cores the
/// solver leaves idle: Linux's `SCHED_IDLE` policy (nice 19 where that is refused or on other
/// systems).
///
/// Which: a worker that loses its core to the reading or writing thread for a scheduler time
/// slice holds up its pass until the join.
/// - The batch-split rollout gives each worker a fixed share of the sequences (one each for
///   B = 16 on 16 threads), so one preempted worker delays the whole segment. On the 16-core
///   VM (B = 16, d = 4, T = 10⁵, 16 threads, best of 5), the solve took 25.9 ms (GRU) and
///   33.3 ms (LSTM) with the lanes at normal priority, 27.0 and 35.6 ms at nice 19, and 18.0
///   and 27.6 ms under `SCHED_IDLE`, which never preempts a worker. The lanes' work then fills
///   the gaps between segments.
/// - Newton's passes hand out four chunks per worker as workers come free, so a preempted
///   worker's chunks move to the others, and reading and writing in parallel pays: the same
///   machine's whole-process Newton solve of ParaGRU d = 4, T = 10⁶ at 16 threads took 24.9 ms
///   (median of 5) with normal lanes and 29.4 ms with idle ones, whose writes fell back to the
///   solver's thread.
/// So ``SolveStreaming`` yields only when every layer rolls out sequentially.
///
/// Where a yielding lane falls behind, its owners do the work on the solver's thread
/// (``SegmentReader`` reads a segment the lane has not begun; ``HiddenWriter`` writes when its
/// queue is full and at commit). A job the lane has begun is waited for: on a machine kept busy
/// by other programs that can take a while. A thread cannot raise its own priority again
/// without privileges, so the lane's thread is its own (not one of Dispatch's shared threads)
/// and ends with ``close()``.
///
///     let lane = IOLane(name: "pararnn.output", yieldsToSolver: true)
///     lane.async { write(segment) }
///     lane.sync()        // every job queued so far has finished
///     lane.close()
final class IOLane: @unchecked Sendable {
    private let condition = NSCondition()
    /// Jobs not yet begun, oldest first (guarded by `condition`).
    private var jobs: [@Sendable () -> Void] = []
    /// Jobs queued and jobs finished so far (guarded by `condition`).
    private var queued = 0, finished = 0
    private var closed = false

    /// - Parameter yieldsToSolver: run only on idle cores (`SCHED_IDLE`) rather than at normal
    ///   priority.
    init(name: String, yieldsToSolver: Bool) {
        let thread = Thread { [self] in run(yielding: yieldsToSolver) }
        thread.name = name
        thread.start()
    }

    /// Queues `job`; it runs after every job queued before it.
    func async(_ job: @escaping @Sendable () -> Void) {
        condition.withLock {
            precondition(!closed, "IOLane: job queued after close()")
            jobs.append(job)
            queued += 1
            condition.broadcast()
        }
    }

    /// Waits until every job queued so far has finished.
    func sync() {
        condition.withLock {
            let target = queued
            while finished < target { condition.wait() }
        }
    }

    /// Lets the thread end once the jobs queued so far have run.
    func close() {
        condition.withLock {
            closed = true
            condition.broadcast()
        }
    }

    private func run(yielding: Bool) {
        if yielding { Self.lowerPriority() }
        while true {
            condition.lock()
            while jobs.isEmpty, !closed { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
            condition.withLock {
                finished += 1
                condition.broadcast()
            }
        }
    }

    /// Moves the calling thread to `SCHED_IDLE`, or to nice 19.
    private static func lowerPriority() {
        #if os(Linux)
            var parameters = sched_param()
            parameters.sched_priority = 0
            // SCHED_IDLE is 5 in <linux/sched.h> (Glibc does not export the constant to Swift).
            if sched_setscheduler(0, 5, &parameters) == 0 { return }
            // The nice value is per thread on Linux: `who` 0 is the calling thread.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
        #else
            _ = setpriority(PRIO_PROCESS, 0, 19)
        #endif
    }
}
