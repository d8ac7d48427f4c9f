import ParallelScan
import Synchronization
import Testing

/// Side work offered to `forEachDynamic` runs at most once, after the items are handed out,
/// and only where more than one worker runs the pass; whatever no pass took is its owner's.
@Suite("Worker pool: side work")
struct SideWorkTests {
    @Test(arguments: [(2, 2), (2, 8), (3, 5), (4, 64)])
    func offeredJobsRunOnceBesideEveryItem(threads: Int, items: Int) {
        let pool = WorkerPool(threadCount: threads, choice: .allThreads)
        let counts = Counts(items: items, jobs: 3)
        defer { counts.free() }
        let jobs = (0..<3).map { j in SideWork { counts.jobs[j].wrappingAdd(1, ordering: .relaxed) } }
        // Job 2 was claimed before the pass: its owner does it, the pass must not.
        #expect(jobs[2].claim())
        pool.forEachDynamic(items, sideWork: jobs) { item, _ in
            counts.items[item].wrappingAdd(1, ordering: .relaxed)
        }
        for i in 0..<items { #expect(counts.items[i].load(ordering: .relaxed) == 1, "item \(i)") }
        #expect(counts.jobs[0].load(ordering: .relaxed) == 1)
        #expect(counts.jobs[1].load(ordering: .relaxed) == 1)
        #expect(counts.jobs[2].load(ordering: .relaxed) == 0)
        // Taken by the pass: no one else may claim them.
        let allClaimed = jobs.allSatisfy { $0.isClaimed }
        #expect(allClaimed)
        #expect(!jobs[0].claim() && !jobs[1].claim())
        // A second pass with the same jobs runs none of them again.
        pool.forEachDynamic(items, sideWork: jobs) { _, _ in }
        #expect(counts.jobs[0].load(ordering: .relaxed) == 1)
    }

    /// On one worker (one thread, or one item) the pass leaves the jobs for their owner.
    @Test(arguments: [(1, 6), (4, 1)])
    func oneWorkerLeavesTheJobsUnclaimed(threads: Int, items: Int) {
        let pool = WorkerPool(threadCount: threads, choice: .allThreads)
        let counts = Counts(items: items, jobs: 1)
        defer { counts.free() }
        let job = SideWork { counts.jobs[0].wrappingAdd(1, ordering: .relaxed) }
        pool.forEachDynamic(items, sideWork: [job]) { item, _ in
            counts.items[item].wrappingAdd(1, ordering: .relaxed)
        }
        for i in 0..<items { #expect(counts.items[i].load(ordering: .relaxed) == 1, "item \(i)") }
        #expect(counts.jobs[0].load(ordering: .relaxed) == 0)
        #expect(!job.isClaimed)
        job.runIfUnclaimed()
        job.runIfUnclaimed()
        #expect(counts.jobs[0].load(ordering: .relaxed) == 1)
    }

    final class Counts: @unchecked Sendable {
        let items: UnsafeMutablePointer<Atomic<Int>>
        let jobs: UnsafeMutablePointer<Atomic<Int>>
        let itemCount: Int, jobCount: Int

        init(items: Int, jobs: Int) {
            itemCount = items
            jobCount = jobs
            self.items = .allocate(capacity: items)
            self.jobs = .allocate(capacity: jobs)
            for i in 0..<items { (self.items + i).initialize(to: Atomic(0)) }
            for j in 0..<jobs { (self.jobs + j).initialize(to: Atomic(0)) }
        }

        func free() {
            _ = items.deinitialize(count: itemCount)
            items.deallocate()
            _ = jobs.deinitialize(count: jobCount)
            jobs.deallocate()
        }
    }
}
