import ParallelScan
import Testing

@Suite("Diagonal affine scan vs the sequential loop")
struct DiagonalScanTests {
    static let lengths = [1, 2, 3, 7, 100, 1001, 100_000]

    func check<S: ScanScalar>(
        _: S.Type, steps: Int, lanes: Int, threads: Int, reverse: Bool, seed: UInt64
    ) throws {
        var rng = SeededGenerator(seed: seed)
        // Even lanes mix signs; odd lanes have a ∈ [0.99, 0.999] so carries persist across
        // chunks and a wrong carry shows.
        let rho = 0.999
        let a: [S] = (0..<(steps * lanes)).map { i in
            S(i % 2 == 0 ? Double.random(in: -0.95...0.95, using: &rng) : Double.random(in: 0.99...0.999, using: &rng))
        }
        let b: [S] = randomArray(steps * lanes, in: -1...1, &rng)
        let h0: [S]? = seed % 2 == 0 ? randomArray(lanes, in: -2...2, &rng) : nil
        let pool = WorkerPool(threadCount: threads, grainSize: 1, choice: .allThreads)
        let got = try AffineScan.diagonal(
            a: a, b: b, steps: steps, lanes: lanes, initial: h0,
            direction: reverse ? .reverse : .forward, pool: pool)
        let want = referenceDiagonal(
            a: a, b: b, steps: steps, lanes: lanes, initial: h0, reverse: reverse)
        if threads == 1 {
            // One worker runs exactly the sequential loop: bitwise equal.
            #expect(got == want)
        }
        let (diff, scale) = maxDifference(got, want)
        let tol = contractingTolerance(S.self, contraction: rho, scale: scale)
        #expect(diff <= tol, "T=\(steps) lanes=\(lanes) threads=\(threads) diff=\(diff) tol=\(tol)")
    }

    @Test(arguments: lengths, [1, 2, 3, 8])
    func floatForward(steps: Int, threads: Int) throws {
        let lanes = steps >= 100_000 ? 8 : 5
        try check(
            Float.self, steps: steps, lanes: lanes, threads: threads, reverse: false, seed: UInt64(steps * 31 + threads)
        )
    }

    @Test(arguments: lengths, [1, 2, 3, 8])
    func doubleReverse(steps: Int, threads: Int) throws {
        let lanes = steps >= 100_000 ? 8 : 5
        try check(
            Double.self, steps: steps, lanes: lanes, threads: threads, reverse: true, seed: UInt64(steps * 17 + threads)
        )
    }

    @Test(arguments: [Float.self, Double.self] as [any ScanScalar.Type])
    func manyLanesBothDirections(type: any ScanScalar.Type) throws {
        for reverse in [false, true] {
            for threads in [2, 5] {
                if type == Float.self {
                    try check(Float.self, steps: 4099, lanes: 64, threads: threads, reverse: reverse, seed: 7)
                } else {
                    try check(Double.self, steps: 4099, lanes: 64, threads: threads, reverse: reverse, seed: 8)
                }
            }
        }
    }

    @Test("growth |a| > 1 follows the sequential loop in relative terms")
    func growth() throws {
        var rng = SeededGenerator(seed: 3)
        let steps = 60
        let lanes = 4
        let a: [Double] = randomArray(steps * lanes, in: 1.0...1.5, &rng)
        let b: [Double] = randomArray(steps * lanes, in: -1...1, &rng)
        let got = try AffineScan.diagonal(
            a: a, b: b, steps: steps, lanes: lanes, pool: WorkerPool(threadCount: 4, grainSize: 1, choice: .allThreads))
        let want = referenceDiagonal(a: a, b: b, steps: steps, lanes: lanes, initial: nil, reverse: false)
        for i in got.indices {
            // Relative error of a sum of ≤ 60 growing terms: 60 roundings of ε each, margin 4.
            #expect(abs(got[i] - want[i]) <= 4 * 60 * Double.ulpOfOne * max(1, abs(want[i]) * 60))
        }
    }

    @Test("A = 0 gives h = b exactly; A = 1 gives the running sum")
    func zeroAndIdentity() throws {
        var rng = SeededGenerator(seed: 4)
        let steps = 5000
        let lanes = 3
        let b: [Float] = randomArray(steps * lanes, in: -1...1, &rng)
        let zero = [Float](repeating: 0, count: steps * lanes)
        let ones = [Float](repeating: 1, count: steps * lanes)
        let pool = WorkerPool(threadCount: 4, grainSize: 1, choice: .allThreads)
        #expect(try AffineScan.diagonal(a: zero, b: b, steps: steps, lanes: lanes, pool: pool) == b)
        let sums = try AffineScan.diagonal(a: ones, b: b, steps: steps, lanes: lanes, pool: pool)
        var running = [Double](repeating: 0, count: lanes)
        for t in 0..<steps {
            for j in 0..<lanes {
                running[j] += Double(b[t * lanes + j])
                // Float running sum of ≤ 5000 terms of size ≤ 1: error ≤ T·ε·T (crude), use T·ε·√T.
                #expect(abs(Double(sums[t * lanes + j]) - running[j]) <= 5000 * 6e-8 * 71)
            }
        }
    }

    @Test("NaN and Inf propagate like the sequential loop and do not spread across lanes")
    func nonFinitePropagation() throws {
        var rng = SeededGenerator(seed: 5)
        let steps = 10_000
        let lanes = 4
        var a: [Double] = randomArray(steps * lanes, in: 0.1...0.9, &rng)
        var b: [Double] = randomArray(steps * lanes, in: -1...1, &rng)
        b[6000 * lanes + 1] = .nan
        b[2500 * lanes + 2] = .infinity
        a[7777 * lanes + 3] = .nan
        for threads in [1, 2, 7] {
            let got = try AffineScan.diagonal(
                a: a, b: b, steps: steps, lanes: lanes,
                pool: WorkerPool(threadCount: threads, grainSize: 1, choice: .allThreads))
            let want = referenceDiagonal(a: a, b: b, steps: steps, lanes: lanes, initial: nil, reverse: false)
            for i in got.indices {
                #expect(got[i].isFinite == want[i].isFinite, "index \(i) threads \(threads)")
            }
            #expect(got[(steps - 1) * lanes].isFinite)
            #expect(got[(steps - 1) * lanes + 1].isNaN)
            #expect(!got[(steps - 1) * lanes + 2].isFinite)
        }
    }

    @Test("same inputs and thread count give bitwise-identical results")
    func reproducible() throws {
        var rng = SeededGenerator(seed: 6)
        let steps = 50_000
        let lanes = 16
        let a: [Float] = randomArray(steps * lanes, in: -1...1, &rng)
        let b: [Float] = randomArray(steps * lanes, in: -1...1, &rng)
        let pool = WorkerPool(threadCount: 3, grainSize: 1, choice: .allThreads)
        let first = try AffineScan.diagonal(a: a, b: b, steps: steps, lanes: lanes, pool: pool)
        for _ in 0..<3 {
            #expect(try AffineScan.diagonal(a: a, b: b, steps: steps, lanes: lanes, pool: pool) == first)
        }
    }

    @Test("empty or mis-sized input is rejected with a clear error")
    func rejectsBadInput() throws {
        #expect(throws: ScanError.emptySequence) {
            try AffineScan.diagonal(a: [Float](), b: [], steps: 0, lanes: 3)
        }
        #expect(throws: ScanError.noLanes) {
            try AffineScan.diagonal(a: [Float](), b: [], steps: 3, lanes: 0)
        }
        #expect(throws: ScanError.bufferSize(name: "a", expected: 6, actual: 5)) {
            try AffineScan.diagonal(
                a: [Float](repeating: 0, count: 5), b: [Float](repeating: 0, count: 6), steps: 2, lanes: 3)
        }
        #expect(ScanError.emptySequence.description.contains("no time steps"))
    }
}

@Suite("Block-diagonal affine scan vs the sequential loop")
struct BlockScanTests {
    func check<S: ScanScalar>(
        _: S.Type, k: Int, steps: Int, blocks: Int, threads: Int, transposed: Bool,
        reverse: Bool, seed: UInt64
    ) throws {
        var rng = SeededGenerator(seed: seed)
        // Entries in ±0.9/k keep every block's ∞-norm below 0.9: a contraction.
        let s = 0.9 / Double(k)
        let a: [S] = randomArray(steps * k * k * blocks, in: -s...s, &rng)
        let b: [S] = randomArray(steps * k * blocks, in: -1...1, &rng)
        let h0: [S] = randomArray(k * blocks, in: -1...1, &rng)
        let got = try AffineScan.blockDiagonal(
            a: a, b: b, steps: steps, blocks: blocks, blockSize: k, initial: h0,
            transposed: transposed, direction: reverse ? .reverse : .forward,
            pool: WorkerPool(threadCount: threads, grainSize: 1, choice: .allThreads))
        let want = referenceBlock(
            a: a, b: b, steps: steps, blocks: blocks, k: k, initial: h0, transposed: transposed,
            reverse: reverse)
        let (diff, scale) = maxDifference(got, want)
        let tol = Double(k) * contractingTolerance(S.self, contraction: 0.9, scale: scale)
        #expect(diff <= tol, "k=\(k) T=\(steps) threads=\(threads) diff=\(diff) tol=\(tol)")
    }

    @Test(arguments: [1, 2, 3, 4, 5], [1, 2, 4])
    func allBlockSizes(k: Int, threads: Int) throws {
        for (steps, transposed, reverse) in [
            (1, false, false), (3, true, false), (2003, false, true), (2003, true, true), (10_007, false, false),
        ] {
            try check(
                Float.self, k: k, steps: steps, blocks: 6, threads: threads, transposed: transposed, reverse: reverse,
                seed: UInt64(k * 100 + steps))
            try check(
                Double.self, k: k, steps: steps, blocks: 3, threads: threads, transposed: transposed, reverse: !reverse,
                seed: UInt64(k * 1000 + steps))
        }
    }

    @Test("long 2×2 sequence (T = 10^5)")
    func long2x2() throws {
        try check(Float.self, k: 2, steps: 100_000, blocks: 4, threads: 3, transposed: false, reverse: false, seed: 11)
    }

    @Test("identity blocks with zero offsets keep the initial state")
    func identity() throws {
        let k = 3
        let blocks = 2
        let steps = 1000
        var a = [Double](repeating: 0, count: steps * k * k * blocks)
        for t in 0..<steps {
            for r in 0..<k { for j in 0..<blocks { a[t * k * k * blocks + (r * k + r) * blocks + j] = 1 } }
        }
        let b = [Double](repeating: 0, count: steps * k * blocks)
        let h0: [Double] = [1, 2, 3, 4, 5, 6]
        let got = try AffineScan.blockDiagonal(
            a: a, b: b, steps: steps, blocks: blocks, blockSize: k, initial: h0,
            pool: WorkerPool(threadCount: 4, grainSize: 1, choice: .allThreads))
        #expect(Array(got.suffix(k * blocks)) == h0)
    }

    @Test("invalid block size is rejected")
    func rejects() {
        #expect(throws: ScanError.self) {
            try AffineScan.blockDiagonal(a: [Float](), b: [], steps: 1, blocks: 1, blockSize: 0)
        }
    }
}

@Suite("Dense affine scan vs the sequential loop")
struct DenseScanTests {
    /// d ≤ 16 runs the scan's own matrix loops, d = 20 OpenBLAS (``AffineScan/smallDenseLimit``).
    @Test(arguments: [1, 3, 8, 16, 20], [1, 2, 4])
    func dense(d: Int, threads: Int) throws {
        for (steps, transposed, reverse) in [
            (1, false, false), (5, true, true), (1501, false, false), (1501, true, true),
        ] {
            var rng = SeededGenerator(seed: UInt64(d * 97 + steps + threads))
            let batch = 2
            let s = 0.9 / Double(d)
            let a: [Double] = randomArray(steps * batch * d * d, in: -s...s, &rng)
            let b: [Double] = randomArray(steps * batch * d, in: -1...1, &rng)
            let h0: [Double] = randomArray(batch * d, in: -1...1, &rng)
            let got = try AffineScan.dense(
                a: a, b: b, steps: steps, batch: batch, dimension: d, initial: h0, transposed: transposed,
                direction: reverse ? .reverse : .forward,
                pool: WorkerPool(threadCount: threads, grainSize: 1, choice: .allThreads))
            let want = referenceDense(
                a: a, b: b, steps: steps, batch: batch, d: d, initial: h0, transposed: transposed, reverse: reverse)
            let (diff, scale) = maxDifference(got, want)
            #expect(diff <= Double(d) * contractingTolerance(Double.self, contraction: 0.9, scale: scale))

            let af = a.map { Float($0) }
            let bf = b.map { Float($0) }
            let hf = h0.map { Float($0) }
            let gotF = try AffineScan.dense(
                a: af, b: bf, steps: steps, batch: batch, dimension: d, initial: hf, transposed: transposed,
                direction: reverse ? .reverse : .forward,
                pool: WorkerPool(threadCount: threads, grainSize: 1, choice: .allThreads))
            let wantF = referenceDense(
                a: af, b: bf, steps: steps, batch: batch, d: d, initial: hf, transposed: transposed, reverse: reverse)
            let (diffF, scaleF) = maxDifference(gotF, wantF)
            #expect(diffF <= Double(d) * contractingTolerance(Float.self, contraction: 0.9, scale: scaleF))
        }
    }
}

@Suite("Generic associative scan")
struct AssociativeScanTests {
    @Test("string concatenation (non-commutative) matches the sequential fold exactly", arguments: [1, 2, 3, 8])
    func concatenation(threads: Int) throws {
        let letters = (0..<997).map { String(UnicodeScalar(UInt8(97 + $0 % 26))) }
        let pool = WorkerPool(threadCount: threads, grainSize: 1, choice: .allThreads)
        let inclusive = try AssociativeScan.inclusive(letters, pool: pool, combine: +)
        let exclusive = try AssociativeScan.exclusive(letters, identity: "", pool: pool, combine: +)
        let reverse = try AssociativeScan.inclusive(letters, direction: .reverse, pool: pool, combine: +)
        let reverseExclusive = try AssociativeScan.exclusive(
            letters, identity: "", direction: .reverse, pool: pool, combine: +)
        var prefix = ""
        for t in letters.indices {
            #expect(exclusive[t] == prefix)
            prefix += letters[t]
            #expect(inclusive[t] == prefix)
        }
        var suffix = ""
        for t in letters.indices.reversed() {
            #expect(reverseExclusive[t] == suffix)
            suffix = letters[t] + suffix
            #expect(reverse[t] == suffix)
        }
    }

    @Test("affine-map composition over lanes equals the diagonal recurrence")
    func affineComposition() throws {
        struct Affine {
            var a: Double
            var b: Double
        }
        var rng = SeededGenerator(seed: 9)
        let steps = 30_001
        let lanes = 3
        let a: [Double] = randomArray(steps * lanes, in: -0.9...0.9, &rng)
        let b: [Double] = randomArray(steps * lanes, in: -1...1, &rng)
        let elements = (0..<(steps * lanes)).map { Affine(a: a[$0], b: b[$0]) }
        // (later ∘ earlier): x ↦ a2(a1 x + b1) + b2.
        let scanned = try AssociativeScan.inclusive(
            elements, lanes: lanes, pool: WorkerPool(threadCount: 4, grainSize: 1, choice: .allThreads)
        ) { e, l in
            Affine(a: l.a * e.a, b: l.a * e.b + l.b)
        }
        let want = referenceDiagonal(a: a, b: b, steps: steps, lanes: lanes, initial: nil, reverse: false)
        let got = scanned.map(\.b)
        let (diff, scale) = maxDifference(got, want)
        #expect(diff <= contractingTolerance(Double.self, contraction: 0.9, scale: scale))
    }

    @Test("running maximum, T = 1 and rejections")
    func maximum() throws {
        var rng = SeededGenerator(seed: 10)
        let x: [Int] = (0..<12_345).map { _ in Int.random(in: -1000...1000, using: &rng) }
        let got = try AssociativeScan.inclusive(
            x, pool: WorkerPool(threadCount: 5, grainSize: 1, choice: .allThreads), combine: max)
        var m = Int.min
        for t in x.indices {
            m = max(m, x[t])
            #expect(got[t] == m)
        }
        #expect(try AssociativeScan.inclusive([42], combine: +) == [42])
        #expect(throws: ScanError.emptySequence) { try AssociativeScan.inclusive([Int](), combine: +) }
    }
}

@Suite("Chunk planning")
struct ChunkPlanTests {
    @Test func coversEveryStepOnce() {
        for steps in [1, 2, 3, 10, 1001] {
            for workers in [1, 2, 3, 16] {
                for reverse in [false, true] {
                    let plan = ChunkPlan(steps: steps, workers: workers, reduceCost: 1.7, reverse: reverse)
                    var seen = [Int](repeating: 0, count: steps)
                    for r in plan.ranges {
                        #expect(!r.isEmpty)
                        for t in r { seen[t] += 1 }
                    }
                    #expect(seen.allSatisfy { $0 == 1 })
                }
            }
        }
    }

    @Test func pool() {
        #expect(WorkerPool(threadCount: 0, grainSize: 1, choice: .allThreads).threadCount == 1)
        #expect(WorkerPool(threadCount: 5, grainSize: 1, choice: .allThreads).threadCount == 5)
        let counter = UnsafeMutableBufferPointer<Int>.allocate(capacity: 100)
        defer { counter.deallocate() }
        counter.initialize(repeating: 0)
        let shared = counter
        nonisolated(unsafe) let box = shared
        WorkerPool(threadCount: 4, grainSize: 1, choice: .allThreads).forEach(100) { i in box[i] += i }
        #expect(Array(counter) == Array(0..<100))
    }
}
