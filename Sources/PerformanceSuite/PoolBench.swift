import Dispatch
import Foundation
import ParallelScan

extension PerformanceSuite {
    /// The cost of one fork/join of the pool (`pararnn bench --groups pool`), at each thread
    /// count p: ``WorkerPool/forEach(_:_:)`` of p items that each spin for 20 µs, against the
    /// same items in a loop on the calling thread (the speedup is the pass's parallel
    /// efficiency × p). Every pass that splits work over the pool pays one fork/join, and a
    /// streamed solve pays its passes once per segment (a B = 16 batch-split rollout: one per
    /// segment), so the notes say what a segment's fork/join costs on this machine:
    /// "overhead µs", the wall time beyond the items' own (20 µs × ⌈p / cores⌉: waking the
    /// workers, the slowest one's start, the join), and "empty µs", a fork/join of empty items
    /// (which the calling thread may finish alone before any worker wakes: a lower bound).
    /// Medians over 15 batches of calls; well under a second per thread count. Runs only when
    /// asked for by name.
    func poolForkJoin(_ emit: (BenchmarkResult) -> Void) {
        let spin = 20e-6
        let cores = WorkerPool.activeProcessorCount
        for threads in threadCounts {
            let pool = WorkerPool(threadCount: threads)
            let stride = 8  // one 64-byte line per item
            let slots = UnsafeMutablePointer<Int>.allocate(capacity: threads * stride)
            slots.initialize(repeating: 0, count: threads * stride)
            defer { slots.deallocate() }
            /// Spins for `spin` seconds and counts its iterations in its own line.
            func item(_ i: Int) {
                let end = DispatchTime.now().uptimeNanoseconds + UInt64(spin * 1e9)
                while DispatchTime.now().uptimeNanoseconds < end { slots[i * stride] &+= 1 }
            }
            let forked = Self.perCall(calls: 20, batches: max(15, repetitions)) { pool.forEach(threads, item) }
            let inline = Self.perCall(calls: 20, batches: max(15, repetitions)) {
                WorkerPool.serial.forEach(threads, item)
            }
            let empty = Self.perCall(calls: 50, batches: max(15, repetitions)) {
                pool.forEach(threads) { slots[$0 * stride] &+= 1 }
            }
            let rounds = Double((threads + cores - 1) / cores)
            emit(
                BenchmarkResult(
                    name: "pool fork/join", shape: "forEach(\(threads)) of 20 µs items", threads: threads,
                    seconds: forked, baseline: "the items in a loop on one thread", baselineSeconds: inline,
                    notes: ["overhead µs": (forked - spin * rounds) * 1e6, "empty µs": empty * 1e6]))
        }
    }

    /// Median seconds per call of `body` over `batches` batches of `calls` calls (after one
    /// call off the clock).
    static func perCall(calls: Int, batches: Int, _ body: () -> Void) -> Double {
        body()
        var samples: [Double] = []
        for _ in 0..<batches {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<calls { body() }
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 / Double(calls))
        }
        samples.sort()
        return samples[samples.count / 2]
    }
}
