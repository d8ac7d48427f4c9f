// mpi-scan-check: run under `mpirun -np R`; checks the distributed scans against one process.
//
// Every rank builds the same random problems (seeded), solves the whole sequence with the
// single-process `AffineScan`, and its own segment with `DistributedScan`; it also runs the
// in-process model `SegmentedScan` of the same split. Checks, per case:
// - distributed vs single process: max |Δ| / max(1, |h|) ≤ 1e-6 (Float) or 1e-13 (Double);
// - distributed vs the in-process model of the same split: bitwise for R ≤ 3 (MPI's exscan
//   composes at most two summaries then), within the tolerance above for R ≥ 4;
// plus the collectives: allreduceMax (with NaN), allreduceSum, the R > T check.
// Rank 0 prints one line per failure and a summary; exit status 0 iff every rank passed.
import Foundation
import ParaMPI
import ParallelScan

let world: Communicator
do { world = try MPIRuntime.world() } catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
var failures: [String] = []
var cases = 0
var bitwise = 0

@MainActor func check(_ ok: Bool, _ what: @autoclosure () -> String) {
    if !ok { failures.append("rank \(world.rank): \(what())") }
}

func randomValues<S: ScanScalar>(_: S.Type, count: Int, scale: Double, seed: UInt64) -> [S] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in S((rng.uniform() * 2 - 1) * scale) }
}

@MainActor func runCase<S: ScanScalar>(
    _: S.Type, kind: SegmentScanKind, steps: Int, reverse: Bool, threads: Int, seed: UInt64
) {
    cases += 1
    let rowA = kind.coefficientRow
    let row = kind.stateRow
    let k: Int
    switch kind {
    case .diagonal: k = 1
    case .blockDiagonal(_, let size, _): k = size
    case .dense(_, let d, _): k = d
    }
    let a = randomValues(S.self, count: steps * rowA, scale: 0.95 / Double(k), seed: seed)
    let b = randomValues(S.self, count: steps * row, scale: 1, seed: seed &+ 1)
    let h0 = randomValues(S.self, count: row, scale: 1, seed: seed &+ 2)
    let pool = WorkerPool(threadCount: threads, grainSize: 1, choice: .allThreads)
    // The single-process reference.
    let reference: [S]
    do {
        switch kind {
        case .diagonal(let n):
            reference = try AffineScan.diagonal(
                a: a, b: b, steps: steps, lanes: n, initial: h0, direction: reverse ? .reverse : .forward, pool: pool)
        case .blockDiagonal(let n, let k, let t):
            reference = try AffineScan.blockDiagonal(
                a: a, b: b, steps: steps, blocks: n, blockSize: k, initial: h0, transposed: t,
                direction: reverse ? .reverse : .forward, pool: pool)
        case .dense(let batch, let d, let t):
            reference = try AffineScan.dense(
                a: a, b: b, steps: steps, batch: batch, dimension: d, initial: h0, transposed: t,
                direction: reverse ? .reverse : .forward, pool: pool)
        }
    } catch {
        check(false, "reference scan failed: \(error)")
        return
    }
    // The in-process model of the split.
    var model = [S](repeating: 0, count: steps * row)
    a.withUnsafeBufferPointer { a in
        b.withUnsafeBufferPointer { b in
            h0.withUnsafeBufferPointer { h0 in
                model.withUnsafeMutableBufferPointer { m in
                    SegmentedScan.run(
                        kind, a: a.baseAddress!, b: b.baseAddress!, steps: steps, segments: world.size,
                        initial: h0.baseAddress!, output: m.baseAddress!, reverse: reverse, pool: pool)
                }
            }
        }
    }
    // This rank's segment, distributed.
    let mine = RankSplit.range(rank: world.rank, ranks: world.size, steps: steps)
    let myA = Array(a[(mine.lowerBound * rowA)..<(mine.upperBound * rowA)])
    var myH = Array(b[(mine.lowerBound * row)..<(mine.upperBound * row)])  // in place: output aliases b
    myA.withUnsafeBufferPointer { a in
        h0.withUnsafeBufferPointer { h0 in
            myH.withUnsafeMutableBufferPointer { h in
                DistributedScan.run(
                    kind, a: a.baseAddress!, b: UnsafePointer(h.baseAddress!), steps: mine.count,
                    initial: h0.baseAddress!, output: h.baseAddress!, reverse: reverse, pool: pool,
                    communicator: world)
            }
        }
    }
    let tolerance = S.self == Float.self ? 1e-6 : 1e-13
    var worstReference = 0.0
    var worstModel = 0.0
    var identical = true
    for i in 0..<myH.count {
        let g = mine.lowerBound * row + i
        let h = Double(myH[i])
        worstReference = max(worstReference, abs(h - Double(reference[g])) / max(1, abs(Double(reference[g]))))
        worstModel = max(worstModel, abs(h - Double(model[g])) / max(1, abs(Double(model[g]))))
        if myH[i] != model[g] { identical = false }
        if !h.isFinite {
            identical = false
            worstReference = .infinity
        }
    }
    let name = "\(S.self) \(kind) T=\(steps) \(reverse ? "reverse" : "forward") threads=\(threads)"
    check(worstReference <= tolerance, "\(name): distributed vs one process differs by \(worstReference)")
    check(worstModel <= tolerance, "\(name): distributed vs in-process split differs by \(worstModel)")
    if world.size <= 3 { check(identical, "\(name): not bitwise equal to the in-process split (max \(worstModel))") }
    if identical { bitwise += 1 }
}

// Collectives.
check(world.allreduceMax(Double(world.rank)) == Double(world.size - 1), "allreduceMax")
check(world.allreduceMax(world.rank == world.size - 1 ? .nan : 1).isNaN, "allreduceMax keeps NaN")
check(world.allreduceSum(world.rank + 1) == world.size * (world.size + 1) / 2, "allreduceSum")
check(world.allAgree(world.rank >= 0) && !world.allAgree(world.rank != 0), "allAgree")
do {
    try RankSplit.check(ranks: world.size, steps: world.size - 1)
    check(false, "R > T accepted")
} catch {
    check("\(error)".contains("ranks but only"), "R > T message: \(error)")
}
var received = [Double](repeating: -1, count: 2)
let sent: [Double] = [Double(world.rank), 7]
sent.withUnsafeBufferPointer { s in
    received.withUnsafeMutableBufferPointer { r in
        world.shiftUp(send: s.baseAddress!, receive: r.baseAddress!, count: 2)
    }
}
check(world.rank == 0 ? received == [-1, -1] : received == [Double(world.rank - 1), 7], "shiftUp \(received)")

let kinds: [SegmentScanKind] = [
    .diagonal(lanes: 5),
    .blockDiagonal(blocks: 3, blockSize: 2, transposed: false),
    .blockDiagonal(blocks: 3, blockSize: 2, transposed: true),
    .blockDiagonal(blocks: 2, blockSize: 5, transposed: true),
    .dense(batch: 2, dimension: 3, transposed: false),
    .dense(batch: 1, dimension: 4, transposed: true),
]
var seed: UInt64 = 17
for kind in kinds {
    for reverse in [false, true] {
        for threads in [1, 2] {
            seed &+= 10
            runCase(Float.self, kind: kind, steps: 37, reverse: reverse, threads: threads, seed: seed)
            runCase(Double.self, kind: kind, steps: 41, reverse: reverse, threads: threads, seed: seed)
        }
    }
}

// Gather the verdict on rank 0.
let failed = world.allreduceSum(failures.count)
for line in failures { FileHandle.standardError.write(Data("FAIL \(line)\n".utf8)) }
let identicalEverywhere = world.allreduceMin(bitwise)
if world.rank == 0 {
    print(
        "mpi-scan-check ranks=\(world.size) cases=\(cases) failures=\(failed) bitwise-equal-to-split=\(identicalEverywhere)/\(cases)"
    )
}
world.barrier()
exit(failed == 0 ? 0 : 1)
