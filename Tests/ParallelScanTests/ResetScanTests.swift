import ParallelScan
import Testing

/// Packed scans with resets against separate sequential solves of each sequence.
@Suite("Scans with resets vs separate solves")
struct ResetScanTests {
    enum Kind: CaseIterable { case diagonal, block2, block3, block5, dense }

    /// Length patterns: single steps, consecutive boundaries, a long sequence, and (filled in per
    /// case) boundaries on the chunk edges of the plan the scan will use.
    static func patterns(steps: Int, chunkEdges: [Int]) -> [[Int]] {
        var out: [[Int]] = [[steps], [1, steps - 1], [steps - 1, 1], Array(repeating: 1, count: 20) + [steps - 20]]
        out.append([1, 1, 1, 5, 1, 2, steps - 11])
        // Boundaries exactly on the chunk edges, and one step either side of them.
        for shift in [-1, 0, 1] {
            var starts = Set([0])
            for e in chunkEdges where e + shift > 0 && e + shift < steps { starts.insert(e + shift) }
            let sorted = starts.sorted()
            out.append(zip(sorted, sorted.dropFirst() + [steps]).map { $1 - $0 })
        }
        return out.filter { $0.allSatisfy { $0 >= 1 } && $0.reduce(0, +) == steps }
    }

    func separate<S: ScanScalar>(
        _ kind: Kind, a: [S], b: [S], lengths: [Int], state: Int, matrix: Int, initial: [S]?,
        reverse: Bool
    ) -> [S] {
        var out: [S] = []
        var t0 = 0
        for (i, length) in lengths.enumerated() {
            let sa = Array(a[(t0 * matrix)..<((t0 + length) * matrix)])
            let sb = Array(b[(t0 * state)..<((t0 + length) * state)])
            let h0 = initial.map { Array($0[(i * state)..<((i + 1) * state)]) }
            switch kind {
            case .diagonal:
                out += referenceDiagonal(a: sa, b: sb, steps: length, lanes: state, initial: h0, reverse: reverse)
            case .block2, .block3, .block5:
                let k = kind == .block2 ? 2 : kind == .block3 ? 3 : 5
                out += referenceBlock(
                    a: sa, b: sb, steps: length, blocks: state / k, k: k, initial: h0,
                    transposed: reverse, reverse: reverse)
            case .dense:
                out += referenceDense(
                    a: sa, b: sb, steps: length, batch: 2, d: state / 2, initial: h0,
                    transposed: reverse, reverse: reverse)
            }
            t0 += length
        }
        return out
    }

    func check<S: ScanScalar>(_: S.Type, kind: Kind, steps: Int, threads: Int, reverse: Bool, seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let (state, matrix, width): (Int, Int, Int)
        let shape: ScanShape
        switch kind {
        case .diagonal:
            (state, matrix, width) = (6, 6, 1)
            shape = .diagonal(lanes: 6)
        case .block2:
            (state, matrix, width) = (2 * 3, 4 * 3, 2)
            shape = .blockDiagonal(blocks: 3, blockSize: 2)
        case .block3:
            (state, matrix, width) = (3 * 2, 9 * 2, 3)
            shape = .blockDiagonal(blocks: 2, blockSize: 3)
        case .block5:
            (state, matrix, width) = (5 * 2, 25 * 2, 5)
            shape = .blockDiagonal(blocks: 2, blockSize: 5)
        case .dense:
            (state, matrix, width) = (2 * 3, 2 * 9, 3)
            shape = .dense(batch: 2, dimension: 3)
        }
        // Entries small enough that every matrix contracts (row sums ≤ 0.9).
        let scale = 0.9 / Double(width)
        let a: [S] = randomArray(steps * matrix, in: -scale...scale, &rng)
        let b: [S] = randomArray(steps * state, in: -1...1, &rng)
        let pool = WorkerPool(threadCount: threads, grainSize: 1, choice: .allThreads)
        let workers = AffineScan.workers(shape, steps: steps, scalarBytes: MemoryLayout<S>.stride, pool: pool)
        let reduceCost: Double
        switch kind {
        case .diagonal: reduceCost = 0.8
        case .block2: reduceCost = 1.25
        case .block3: reduceCost = 1.5
        case .block5: reduceCost = 2
        case .dense: reduceCost = 3
        }
        let plan = ChunkPlan(steps: steps, workers: workers, reduceCost: reduceCost, reverse: reverse)
        let edges = plan.ranges.flatMap { [$0.lowerBound, $0.upperBound] }
        for (p, lengths) in Self.patterns(steps: steps, chunkEdges: edges).enumerated() {
            let boundaries = try SequenceBoundaries(lengths: lengths)
            let initial: [S]? = p % 2 == 0 ? randomArray(lengths.count * state, in: -2...2, &rng) : nil
            let shape: ScanShape
            switch kind {
            case .diagonal: shape = .diagonal(lanes: state)
            case .block2, .block3, .block5: shape = .blockDiagonal(blocks: state / width, blockSize: width)
            case .dense: shape = .dense(batch: 2, dimension: 3)
            }
            let got = try AffineScan.solve(
                shape, a: a, b: b, boundaries: boundaries, initial: initial, transposed: reverse,
                direction: reverse ? .reverse : .forward, pool: pool)
            let want = separate(
                kind, a: a, b: b, lengths: lengths, state: state, matrix: matrix, initial: initial,
                reverse: reverse)
            // One worker runs the sequential loops (the dense kernel sums A·h before adding b,
            // the reference the other way round, so only the others compare bitwise).
            if threads == 1, kind != .dense {
                #expect(got == want, "one worker is the sequential loop: \(kind) \(lengths.prefix(6))")
            }
            let (diff, scale) = maxDifference(got, want)
            let tol = contractingTolerance(S.self, contraction: 0.9, scale: scale)
            #expect(
                diff <= tol,
                "\(kind) T=\(steps) threads=\(threads) reverse=\(reverse) lengths=\(lengths.prefix(8)) diff=\(diff)")
        }
    }

    @Test(arguments: [1, 2, 3, 8])
    func everyKindForwardAndReverse(threads: Int) throws {
        for kind in Kind.allCases {
            for reverse in [false, true] {
                try check(
                    Float.self, kind: kind, steps: 97, threads: threads, reverse: reverse,
                    seed: UInt64(threads * 10 + (reverse ? 1 : 0)))
                try check(
                    Double.self, kind: kind, steps: 40, threads: threads, reverse: reverse,
                    seed: UInt64(threads * 10 + 5))
            }
        }
    }

    @Test("one sequence equals the plain scan bitwise")
    func singleSequenceIsThePlainScan() throws {
        var rng = SeededGenerator(seed: 3)
        let steps = 5000
        let lanes = 8
        let a: [Double] = randomArray(steps * lanes, in: -0.9...0.9, &rng)
        let b: [Double] = randomArray(steps * lanes, in: -1...1, &rng)
        let h0: [Double] = randomArray(lanes, in: -1...1, &rng)
        let pool = WorkerPool(threadCount: 4, grainSize: 1, choice: .allThreads)
        for direction in [ScanDirection.forward, .reverse] {
            let plain = try AffineScan.diagonal(
                a: a, b: b, steps: steps, lanes: lanes, initial: h0, direction: direction, pool: pool)
            let packed = try AffineScan.solve(
                .diagonal(lanes: lanes), a: a, b: b, boundaries: .single(steps: steps), initial: h0,
                direction: direction, pool: pool)
            #expect(plain == packed)
        }
    }

    @Test("segmented associative scans restart at every sequence")
    func associative() throws {
        // A non-commutative operator: 2×2 integer matrix products (exact), one lane.
        struct M: Equatable { var a, b, c, d: Int }
        let mul: (M, M) -> M = { x, y in
            M(a: x.a * y.a + x.b * y.c, b: x.a * y.b + x.b * y.d, c: x.c * y.a + x.d * y.c, d: x.c * y.b + x.d * y.d)
        }
        var rng = SeededGenerator(seed: 9)
        let steps = 300
        let x = (0..<steps).map { _ in
            M(
                a: Int.random(in: -1...1, using: &rng), b: Int.random(in: 0...1, using: &rng),
                c: Int.random(in: 0...1, using: &rng), d: Int.random(in: -1...1, using: &rng))
        }
        for lengths in [[300], [1, 299], [1, 1, 1, 97, 100, 1, 99], [150, 150]] {
            let boundaries = try SequenceBoundaries(lengths: lengths)
            for threads in [1, 3, 8] {
                let pool = WorkerPool(threadCount: threads, grainSize: 1, choice: .allThreads)
                for reverse in [false, true] {
                    let got = try AssociativeScan.inclusive(
                        x, boundaries: boundaries, direction: reverse ? .reverse : .forward,
                        pool: pool, combine: mul)
                    var want: [M] = []
                    for i in 0..<boundaries.count {
                        let r = boundaries.range(of: i)
                        want += try AssociativeScan.inclusive(
                            Array(x[r]), direction: reverse ? .reverse : .forward, pool: .serial, combine: mul)
                    }
                    #expect(got == want, "lengths \(lengths) threads \(threads) reverse \(reverse)")
                    let identity = M(a: 1, b: 0, c: 0, d: 1)
                    let exclusive = try AssociativeScan.exclusive(
                        x, boundaries: boundaries, identity: identity,
                        direction: reverse ? .reverse : .forward, pool: pool, combine: mul)
                    var wantExclusive: [M] = []
                    for i in 0..<boundaries.count {
                        let r = boundaries.range(of: i)
                        wantExclusive += try AssociativeScan.exclusive(
                            Array(x[r]), identity: identity, direction: reverse ? .reverse : .forward,
                            pool: .serial, combine: mul)
                    }
                    #expect(exclusive == wantExclusive)
                }
            }
        }
    }

    @Test("boundaries: lengths, lookups and bad input")
    func boundaries() throws {
        let b = try SequenceBoundaries(lengths: [3, 1, 4])
        #expect(b.starts == [0, 3, 4] && b.steps == 8 && b.lengths == [3, 1, 4])
        #expect((0..<8).map { b.sequence(containing: $0) } == [0, 0, 0, 1, 2, 2, 2, 2])
        #expect(b.resets(in: 0..<8, reverse: false).map(\.step) == [0, 3, 4])
        #expect(b.resets(in: 0..<8, reverse: true).map(\.step) == [7, 3, 2])
        #expect(b.resets(in: 3..<7, reverse: true).map(\.sequence) == [1])
        #expect(b.splitting([0..<2, 2..<8]) == [0..<2, 2..<3, 3..<4, 4..<8])
        #expect(throws: ScanError.self) { try SequenceBoundaries(lengths: [2, 0]) }
        #expect(throws: ScanError.self) { try SequenceBoundaries(lengths: []) }
        #expect(throws: ScanError.self) { try SequenceBoundaries(starts: [0, 5], steps: 5) }
    }
}
