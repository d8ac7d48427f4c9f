import ParallelScan
import Testing

/// The one checked entry per structure (`AffineScan.solve(_:…)`): it agrees with the
/// independent sequential loops for every shape, direction and transposition, gives the
/// per-structure entries' results bit for bit, and refuses bad shapes and buffers with the same
/// errors.
@Suite("AffineScan.solve(shape): one entry for every structure")
struct ScanShapeEntryTests {
    static let shapes: [ScanShape] = [
        .diagonal(lanes: 5), .blockDiagonal(blocks: 3, blockSize: 2), .blockDiagonal(blocks: 2, blockSize: 5),
        .dense(batch: 2, dimension: 3),
    ]

    func reference(
        _ shape: ScanShape, a: [Double], b: [Double], steps: Int, initial: [Double], transposed: Bool, reverse: Bool
    ) -> [Double] {
        switch shape {
        case .diagonal(let lanes):
            return referenceDiagonal(a: a, b: b, steps: steps, lanes: lanes, initial: initial, reverse: reverse)
        case .blockDiagonal(let blocks, let k):
            return referenceBlock(
                a: a, b: b, steps: steps, blocks: blocks, k: k, initial: initial, transposed: transposed,
                reverse: reverse)
        case .dense(let batch, let d):
            return referenceDense(
                a: a, b: b, steps: steps, batch: batch, d: d, initial: initial, transposed: transposed,
                reverse: reverse)
        }
    }

    /// The per-structure entry for `shape` (what `solve` replaces).
    func perStructure(
        _ shape: ScanShape, a: [Double], b: [Double], steps: Int, initial: [Double], transposed: Bool,
        direction: ScanDirection, pool: WorkerPool
    ) throws -> [Double] {
        switch shape {
        case .diagonal(let lanes):
            return try AffineScan.diagonal(
                a: a, b: b, steps: steps, lanes: lanes, initial: initial, direction: direction, pool: pool)
        case .blockDiagonal(let blocks, let k):
            return try AffineScan.blockDiagonal(
                a: a, b: b, steps: steps, blocks: blocks, blockSize: k, initial: initial, transposed: transposed,
                direction: direction, pool: pool)
        case .dense(let batch, let d):
            return try AffineScan.dense(
                a: a, b: b, steps: steps, batch: batch, dimension: d, initial: initial, transposed: transposed,
                direction: direction, pool: pool)
        }
    }

    @Test("agrees with the sequential loop and with the per-structure entries", arguments: shapes)
    func agrees(shape: ScanShape) throws {
        var rng = SeededGenerator(seed: 19)
        let steps = 157
        let a: [Double] = randomArray(steps * shape.coefficientsPerStep, in: -0.6...0.6, &rng)
        let b: [Double] = randomArray(steps * shape.statesPerStep, in: -1...1, &rng)
        let h0: [Double] = randomArray(shape.statesPerStep, in: -1...1, &rng)
        let pool = WorkerPool(threadCount: 4)
        for transposed in [false, true] {
            for direction in [ScanDirection.forward, .reverse] {
                let h = try AffineScan.solve(
                    shape, a: a, b: b, steps: steps, initial: h0, transposed: transposed, direction: direction,
                    pool: pool)
                let expected = reference(
                    shape, a: a, b: b, steps: steps, initial: h0,
                    transposed: transposed, reverse: direction == .reverse)
                let (difference, scale) = maxDifference(h, expected)
                #expect(difference <= 1e-12 * max(1, scale), "\(shape) transposed \(transposed) \(direction)")
                let old = try perStructure(
                    shape, a: a, b: b, steps: steps, initial: h0, transposed: transposed, direction: direction,
                    pool: pool)
                #expect(h == old)
            }
        }
    }

    @Test("with resets: each sequence from its own initial state", arguments: shapes)
    func resets(shape: ScanShape) throws {
        var rng = SeededGenerator(seed: 23)
        let lengths = [40, 1, 77, 9]
        let boundaries = try SequenceBoundaries(lengths: lengths)
        let steps = boundaries.steps
        let n = shape.statesPerStep
        let a: [Double] = randomArray(steps * shape.coefficientsPerStep, in: -0.6...0.6, &rng)
        let b: [Double] = randomArray(steps * n, in: -1...1, &rng)
        let h0: [Double] = randomArray(lengths.count * n, in: -1...1, &rng)
        let pool = WorkerPool(threadCount: 3)
        for direction in [ScanDirection.forward, .reverse] {
            var h = [Double](repeating: .nan, count: steps * n)
            try a.withUnsafeBufferPointer { a in
                try b.withUnsafeBufferPointer { b in
                    try h0.withUnsafeBufferPointer { h0 in
                        try h.withUnsafeMutableBufferPointer { out in
                            try AffineScan.solve(
                                shape, a: a, b: b, boundaries: boundaries, initial: h0, output: out,
                                direction: direction, pool: pool)
                        }
                    }
                }
            }
            for (i, length) in lengths.enumerated() {
                let r = boundaries.range(of: i)
                let expected = reference(
                    shape,
                    a: Array(
                        a[(r.lowerBound * shape.coefficientsPerStep)..<(r.upperBound * shape.coefficientsPerStep)]),
                    b: Array(b[(r.lowerBound * n)..<(r.upperBound * n)]), steps: length,
                    initial: Array(h0[(i * n)..<((i + 1) * n)]), transposed: false, reverse: direction == .reverse)
                let (difference, scale) = maxDifference(Array(h[(r.lowerBound * n)..<(r.upperBound * n)]), expected)
                #expect(difference <= 1e-12 * max(1, scale), "\(shape) sequence \(i) \(direction)")
            }
        }
    }

    @Test("refuses bad shapes and buffers as the per-structure entries do")
    func refuses() {
        let a = [Double](repeating: 0.5, count: 8)
        #expect(throws: ScanError.emptySequence) {
            try AffineScan.solve(.diagonal(lanes: 2), a: a, b: a, steps: 0)
        }
        #expect(throws: ScanError.noLanes) {
            try AffineScan.solve(.dense(batch: 0, dimension: 2), a: a, b: a, steps: 4)
        }
        #expect(throws: ScanError.invalidBlockSize(blockSize: 0, stateSize: 0)) {
            try AffineScan.solve(.blockDiagonal(blocks: 4, blockSize: 0), a: a, b: a, steps: 2)
        }
        #expect(throws: ScanError.bufferSize(name: "a", expected: 16, actual: 8)) {
            try AffineScan.solve(.blockDiagonal(blocks: 2, blockSize: 2), a: a, b: a, steps: 2)
        }
    }
}
