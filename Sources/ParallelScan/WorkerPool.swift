import Dispatch
import Foundation
import Synchronization

/// A fixed-size pool of workers over Dispatch.
///
/// The pool runs `count` independent work items with at most ``threadCount`` of them at once,
/// using `DispatchQueue.concurrentPerform` as the primitive. Work items are assigned to workers
/// in contiguous groups, and every algorithm in pararnn splits its work by a plan that depends
/// only on the problem size and ``threadCount`` — never on timing — so a run with the same inputs
/// and the same thread count is bitwise reproducible.
///
/// OpenBLAS is limited to one thread the first time a pool is created: BLAS calls made inside
/// pool work must not start threads of their own, and pararnn parallelises its BLAS work itself.
public struct WorkerPool: Sendable, CustomStringConvertible {
    /// The number of work items that may run at once (≥ 1).
    public let threadCount: Int

    /// The least work (in scalar operations) worth giving one worker: scans of fewer than
    /// `grainSize × workers` operations use fewer workers. Tests set it to 1 to exercise the
    /// parallel paths on tiny inputs.
    public let grainSize: Int

    /// The default ``grainSize``: 32 768 scalar operations (tens of microseconds).
    public static let defaultGrainSize = 32_768

    /// How a parallel path picks its worker count on this pool.
    public enum Choice: Sendable, Equatable {
        /// ``WorkerCount``'s cost model: as many workers as pay off on this machine, down to one
        /// (the plain loop) where memory is already saturated.
        case costModel
        /// Every thread the grain size allows: tests and callers that want a fixed count.
        case allThreads
    }

    /// How parallel paths choose their worker count (``Choice/costModel`` by default).
    public let choice: Choice

    /// The machine the cost model assumes: nil means ``MachineProfile/current`` (measured or
    /// cached); a given profile pins every decision made for this pool (tests, reproducible
    /// runs, planning for another machine).
    public let profile: MachineProfile?

    /// Creates a pool with `threadCount` workers.
    ///
    /// - Parameter threadCount: the worker count; `nil` reads the environment variable
    ///   `PARARNN_THREADS`, and without it uses the active processor count. Values below 1 are
    ///   clamped to 1.
    /// - Parameter grainSize: the least work per worker (see ``grainSize``), at least 1.
    /// - Parameter choice: how parallel paths pick their worker count (see ``Choice``).
    /// - Parameter profile: the machine the cost model assumes (nil: this one).
    public init(
        threadCount: Int? = nil, grainSize: Int = WorkerPool.defaultGrainSize, choice: Choice = .costModel,
        profile: MachineProfile? = nil
    ) {
        self.threadCount = max(1, threadCount ?? WorkerPool.defaultThreadCount)
        self.grainSize = max(1, grainSize)
        self.choice = choice
        self.profile = profile
    }

    /// The profile decisions for this pool use: ``profile`` or the running machine's.
    public var machine: MachineProfile { profile ?? .current }

    /// The worker count used when none is given: `PARARNN_THREADS` if it is a positive integer,
    /// otherwise `ProcessInfo.activeProcessorCount`.
    public static var defaultThreadCount: Int {
        if let text = ProcessInfo.processInfo.environment["PARARNN_THREADS"],
            let value = Int(text.trimmingCharacters(in: .whitespaces)), value > 0
        {
            return value
        }
        return activeProcessorCount
    }

    /// The machine's active processor count (at least 1), read once per process. Foundation
    /// reads two cgroup files on every `ProcessInfo.activeProcessorCount` call (≈ 17 µs on the
    /// 2-core VM: open, read and close of each), and a streamed solve's rollout planners asked
    /// it on every segment — 2 to 4 times, ≈ 35–70 µs of serial work per segment before its
    /// one fork/join (B = 16, d = 4, 1024-step segments at 16 threads: 98 segments, 788 files
    /// opened).
    public static let activeProcessorCount = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// A pool with the default thread count.
    public static var shared: WorkerPool { WorkerPool() }

    /// A pool with a single worker: everything runs on the calling thread.
    public static let serial = WorkerPool(threadCount: 1)

    public var description: String {
        "WorkerPool(threads: \(threadCount), grain: \(grainSize)\(choice == .allThreads ? ", all threads" : ""))"
    }

    /// Runs `body(i)` for every `i` in `0..<count`, at most ``threadCount`` at a time, and
    /// returns when all have finished. Items are handed to workers in contiguous groups.
    ///
    /// `body` must be safe to call concurrently for different `i`.
    @inlinable
    public func forEach(_ count: Int, _ body: (Int) -> Void) {
        if count <= 0 { return }
        let workers = min(count, threadCount)
        if workers == 1 {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            // The caller promises that items touch disjoint memory (see the doc comment), which
            // is what makes sharing the closure between workers sound.
            let shared = UncheckedSendableBody(body: body)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let range = ChunkPlan.evenRange(index: worker, of: workers, total: count)
                for i in range { shared.body(i) }
            }
        }
    }
}

extension WorkerPool {
    /// Runs `body(item, slot)` for every `item` in `0..<count` on at most ``threadCount``
    /// workers that each take the next unstarted item when they finish one, and returns when all
    /// have finished. `slot` (< ``threadCount``) names the worker running the item, for
    /// per-worker scratch space and timings.
    ///
    /// Unlike ``forEach(_:_:)``, which hands each worker a fixed group, the assignment follows
    /// the workers' speed: with a few items per worker, one that runs slow (a busier core, a lower
    /// clock, a colder cache) no longer holds up the others. Which slot runs an item depends on
    /// timing, so results must depend only on `item` (the plan), never on `slot`.
    ///
    /// ```swift
    /// pool.forEachDynamic(4 * pool.threadCount) { chunk, slot in
    ///     solve(chunk, scratch: scratch + slot * scratchSize)
    /// }
    /// ```
    public func forEachDynamic(_ count: Int, _ body: (_ item: Int, _ slot: Int) -> Void) {
        forEachDynamic(count, sideWork: [], body)
    }

    /// ``forEachDynamic(_:_:)`` with the jobs of `sideWork` as more items after the last: the
    /// first workers to find the items run out run them (each unless it was claimed before),
    /// while the others finish their last items. On one worker the side work is left for its
    /// owner to claim (run in turn, it would only lengthen the pass).
    package func forEachDynamic(
        _ count: Int, sideWork: [SideWork], _ body: (_ item: Int, _ slot: Int) -> Void
    ) {
        if count <= 0 { return }
        let workers = min(count, threadCount)
        if workers == 1 {
            for i in 0..<count { body(i, 0) }
            return
        }
        let total = count + sideWork.count
        let next = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 1)
        next.initialize(to: Atomic(0))
        defer {
            _ = next.deinitialize(count: 1)
            next.deallocate()
        }
        let counter = ItemCounter(base: next)
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendableItemBody(body: body)
            DispatchQueue.concurrentPerform(iterations: workers) { slot in
                while true {
                    let item = counter.base.pointee.wrappingAdd(1, ordering: .relaxed).oldValue
                    if item >= total { break }
                    if item >= count {
                        sideWork[item - count].runIfUnclaimed()
                        continue
                    }
                    shared.body(item, slot)
                }
            }
        }
    }
}

/// The next-item counter shared by the workers of one ``WorkerPool/forEachDynamic(_:_:)`` call.
struct ItemCounter: @unchecked Sendable {
    let base: UnsafeMutablePointer<Atomic<Int>>
}

/// The closure shared by the workers of one ``WorkerPool/forEachDynamic(_:_:)`` call.
struct UncheckedSendableItemBody: @unchecked Sendable {
    let body: (Int, Int) -> Void
}

/// A work-item closure shared by the workers of one ``WorkerPool/forEach(_:_:)`` call.
@usableFromInline
struct UncheckedSendableBody: @unchecked Sendable {
    @usableFromInline let body: (Int) -> Void
    @inlinable init(body: @escaping (Int) -> Void) { self.body = body }
}

/// A split of `T` time steps into contiguous chunks.
///
/// Chunks are listed in *processing order*: for a reverse-time scan chunk 0 holds the last time
/// steps. The plan depends only on the step count, the worker count and the cost model, so it is
/// reproducible.
public struct ChunkPlan: Sendable, Equatable {
    /// Half-open step ranges, in processing order. Their union is `0..<steps`.
    public let ranges: [Range<Int>]

    /// The number of workers the plan uses (1 for a single chunk).
    public var workers: Int { max(1, ranges.count - 1) }

    /// Splits `total` items into `parts` contiguous, nearly equal ranges and returns range `index`.
    @inlinable
    public static func evenRange(index: Int, of parts: Int, total: Int) -> Range<Int> {
        let base = total / parts
        let extra = total % parts
        let start = index * base + min(index, extra)
        return start..<(start + base + (index < extra ? 1 : 0))
    }

    /// Plans a three-phase scan of `steps` steps on `workers` workers.
    ///
    /// The scan uses `workers + 1` chunks. In phase 1 worker 0 solves chunk 0 directly while
    /// workers 1… reduce chunks 1…workers−1 to their summaries; in phase 3 worker i solves chunk
    /// i+1 from its carry-in. `reduceCost` is the cost of reducing one step relative to solving
    /// one step; chunk 0 is made `reduceCost` times longer than the others so that phase 1 is
    /// balanced. With `reduceCost` = 1 the ideal speedup is (workers + 1) / 2.
    ///
    /// - Parameters:
    ///   - steps: the sequence length T (> 0).
    ///   - workers: the number of workers (≥ 1); with 1 the plan is a single chunk.
    ///   - reduceCost: relative cost of a reduction step (> 0).
    ///   - reverse: whether the scan runs backwards in time (chunk 0 then ends at T).
    public init(steps: Int, workers: Int, reduceCost: Double = 1, reverse: Bool = false) {
        precondition(steps > 0 && workers >= 1)
        // Every chunk gets at least one step.
        let workers = min(workers, steps - 1)
        if workers <= 1 {
            ranges = [0..<steps]
            return
        }
        // T = s0 + p·s with s0 = r·s.
        let r = max(0.05, reduceCost)
        let s = Double(steps) / (r + Double(workers))
        var lengths = [Int](repeating: 0, count: workers + 1)
        lengths[0] = min(steps - workers, max(1, Int((r * s).rounded())))
        let rest = steps - lengths[0]
        for i in 0..<workers {
            lengths[i + 1] = ChunkPlan.evenRange(index: i, of: workers, total: rest).count
        }
        var result: [Range<Int>] = []
        result.reserveCapacity(workers + 1)
        if reverse {
            var end = steps
            for length in lengths {
                result.append((end - length)..<end)
                end -= length
            }
        } else {
            var start = 0
            for length in lengths {
                result.append(start..<(start + length))
                start += length
            }
        }
        ranges = result
    }
}
