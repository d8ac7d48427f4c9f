import ParallelScan
import Synchronization
import Testing

/// `forEachDynamic` runs every item exactly once, on slots below the pool's thread count,
/// whatever the ratio of items to workers.
@Suite("Worker pool: dynamic assignment")
struct ForEachDynamicTests {
    @Test(arguments: [(1, 5), (2, 1), (2, 7), (3, 64), (8, 3)])
    func everyItemOnceOnAValidSlot(threads: Int, items: Int) {
        let pool = WorkerPool(threadCount: threads, choice: .allThreads)
        let runs = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: items)
        for i in 0..<items { (runs + i).initialize(to: Atomic(0)) }
        let badSlots = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 1)
        badSlots.initialize(to: Atomic(0))
        defer {
            _ = runs.deinitialize(count: items)
            runs.deallocate()
            _ = badSlots.deinitialize(count: 1)
            badSlots.deallocate()
        }
        let shared = Counters(runs: runs, badSlots: badSlots)
        pool.forEachDynamic(items) { item, slot in
            shared.runs[item].wrappingAdd(1, ordering: .relaxed)
            if slot < 0 || slot >= min(threads, items) { shared.badSlots.pointee.wrappingAdd(1, ordering: .relaxed) }
        }
        for i in 0..<items { #expect(runs[i].load(ordering: .relaxed) == 1, "item \(i)") }
        #expect(badSlots.pointee.load(ordering: .relaxed) == 0)
    }

    struct Counters: @unchecked Sendable {
        let runs: UnsafeMutablePointer<Atomic<Int>>
        let badSlots: UnsafeMutablePointer<Atomic<Int>>
    }
}
