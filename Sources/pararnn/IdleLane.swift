import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A serial lane of background work (reading input ahead, writing output behind) on one
/// thread of its own that runs only on a core the solver leaves idle: Linux's `SCHED_IDLE`
/// policy (the lowest nice value, 19, where that is refused or on other systems).
///
/// Why: a streamed solve's workers keep every core they are given busy, and the reading and
/// writing threads then had to take cores from them. A worker that lost its core for a
/// scheduler time slice held up the whole pass at its join. On the 16-core VM (B = 16, d = 4,
/// T = 10⁵, 16 threads, best of 5, one run), the batch-split rollout's solve took 25.9 ms (GRU)
/// and 33.3 ms (LSTM) with the threads at normal priority, 27.0 and 35.6 ms at nice 19, and
/// 18.0 and 27.6 ms with this lane: `SCHED_IDLE` never preempts a worker, nice 19 still does.
/// At idle priority the lane's work fills the gaps: the serial parts between passes and the
/// cores of a solve with fewer workers than cores. Where the lane falls behind, its owners do
/// the work on the solver's thread (``SegmentReader`` reads a segment the lane has not begun;
/// ``HiddenWriter`` writes when its queue is full and at commit). A job the lane has begun is
/// waited for: on a machine kept busy by other programs that can take a while.
///
/// A thread cannot raise its own priority back without privileges, so the lane's thread is
/// its own (not one of Dispatch's shared threads) and ends with ``close()``.
///
///     let lane = IdleLane(name: "pararnn.output")
///     lane.async { write(segment) }
///     lane.sync()        // every job queued so far has finished
///     lane.close()
final class IdleLane: @unchecked Sendable {
    private let condition = NSCondition()
    /// Jobs not yet begun, oldest first (guarded by `condition`).
    private var jobs: [@Sendable () -> Void] = []
    /// Jobs queued and jobs finished so far (guarded by `condition`).
    private var queued = 0, finished = 0
    private var closed = false

    init(name: String) {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Queues `job`; it runs after every job queued before it.
    func async(_ job: @escaping @Sendable () -> Void) {
        condition.withLock {
            precondition(!closed, "IdleLane: job queued after close()")
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

    private func run() {
        Self.lowerPriority()
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
