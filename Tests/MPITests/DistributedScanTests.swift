import Foundation
import ParaMPI
import ParallelScan
import Testing

/// The distributed scans: the in-process model of the split (no MPI) against the
/// single-process scan, and the real thing under `mpirun -np R` (R = 1…4) through the
/// `mpi-scan-check` driver (48 cases per R: diagonal, 2×2 and 5×5 blocks, dense, forward and
/// reverse, transposed, Float and Double, T = 37 or 41 not divisible by R, 1 and 2 threads).
@Suite("Distributed affine scans")
struct DistributedScanTests {
    @Test("the split model equals the one-process scan", arguments: [1, 2, 3, 5, 8])
    func splitModel(segments: Int) throws {
        var rng = SplitMix64(seed: UInt64(segments))
        let steps = 29
        let blocks = 3
        let k = 2
        let a = (0..<(steps * k * k * blocks)).map { _ in Float(rng.uniform() - 0.5) }
        let b = (0..<(steps * k * blocks)).map { _ in Float(rng.uniform() * 2 - 1) }
        let h0 = (0..<(k * blocks)).map { _ in Float(rng.uniform()) }
        let pool = WorkerPool(threadCount: 2, grainSize: 1, choice: .allThreads)
        for reverse in [false, true] {
            for transposed in [false, true] {
                let expected = try AffineScan.blockDiagonal(
                    a: a, b: b, steps: steps, blocks: blocks, blockSize: k, initial: h0,
                    transposed: transposed, direction: reverse ? .reverse : .forward, pool: .serial)
                var got = [Float](repeating: 0, count: b.count)
                a.withUnsafeBufferPointer { a in
                    b.withUnsafeBufferPointer { b in
                        h0.withUnsafeBufferPointer { h0 in
                            got.withUnsafeMutableBufferPointer { out in
                                SegmentedScan.run(
                                    .blockDiagonal(blocks: blocks, blockSize: k, transposed: transposed),
                                    a: a.baseAddress!, b: b.baseAddress!, steps: steps, segments: segments,
                                    initial: h0.baseAddress!, output: out.baseAddress!, reverse: reverse, pool: pool)
                            }
                        }
                    }
                }
                let worst = zip(got, expected).map { abs($0 - $1) / max(1, abs($1)) }.max()!
                #expect(worst <= 1e-6, "reverse \(reverse) transposed \(transposed): \(worst)")
            }
        }
    }

    @Test("R > T is rejected with a clear message")
    func tooManyRanks() {
        #expect(throws: MPIError.self) { try RankSplit.check(ranks: 5, steps: 4) }
        #expect((try? RankSplit.check(ranks: 4, steps: 4)) != nil)
        #expect(RankSplit.range(rank: 2, ranks: 3, steps: 10) == 7..<10)
    }

    @Test(
        "under mpirun: distributed scans equal one process, bitwise to the split model",
        .enabled(if: mpirunPath != nil, "mpirun not found: install openmpi-bin (make deps)"))
    func underMPIRun() throws {
        let driver = try #require(builtExecutable("mpi-scan-check"), "build it: swift build --product mpi-scan-check")
        for ranks in 1...4 {
            let run = try mpirun(ranks: ranks, driver, [])
            #expect(run.status == 0, "R=\(ranks): \(run.stdout) \(run.stderr)")
            #expect(run.stdout.contains("ranks=\(ranks) cases=48 failures=0"), "R=\(ranks): \(run.stdout)")
        }
    }
}
