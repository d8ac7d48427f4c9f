import Dispatch
import Foundation
import Synchronization

/// A reusable barrier for a fixed number of threads that meet many times a millisecond: each
/// arriving thread spins on the barrier's phase (yielding the core after a while, so an
/// oversubscribed machine still makes progress) until the last one arrives.
///
/// Only for a ``Gang``, whose threads are guaranteed to run at the same time: with workers that
/// may run one after another (a ``WorkerPool`` on Dispatch), a barrier would wait forever.
///
/// ```swift
/// let barrier = SpinBarrier(parties: 4)
/// Gang.run(4) { worker in
///     for step in 0..<steps {
///         work(worker, step)
///         barrier.wait()   // every worker's step is done
///     }
/// }
/// ```
public final class SpinBarrier: Sendable {
    /// The number of threads that meet at each ``wait()``.
    public let parties: Int
    private let arrived = Atomic<Int>(0)
    private let phase = Atomic<Int>(0)

    public init(parties: Int) {
        precondition(parties >= 1, "a barrier needs at least one party")
        self.parties = parties
    }

    /// Returns once all ``parties`` threads have called `wait()` for this phase. Writes made by
    /// any thread before its `wait()` are visible to every thread after theirs.
    public func wait() {
        if parties == 1 { return }
        let current = phase.load(ordering: .acquiring)
        if arrived.add(1, ordering: .acquiringAndReleasing).newValue == parties {
            arrived.store(0, ordering: .relaxed)
            phase.store(current &+ 1, ordering: .releasing)
            return
        }
        var spins = 0
        while phase.load(ordering: .acquiring) == current {
            spins += 1
            if spins == 20_000 {
                // A party is not running (more threads than free cores): give the core away.
                sched_yield()
                spins = 0
            }
        }
    }
}

/// Threads that run together: ``run(_:_:)`` starts `count − 1` threads, runs worker 0 on the
/// calling thread and returns when all have finished. Unlike a ``WorkerPool`` (Dispatch, which
/// may run work items one after another), every worker is its own thread, so workers may wait
/// for each other (``SpinBarrier``). Starting a thread costs tens of microseconds: a gang is for
/// work of at least a millisecond.
public enum Gang {
    public static func run(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        if count <= 1 {
            body(0)
            return
        }
        let group = DispatchGroup()
        for worker in 1..<count {
            group.enter()
            let thread = Thread {
                body(worker)
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        body(0)
        group.wait()
    }
}
