import ParallelScan
import Testing

/// Where the cost model picks one worker, a parallel pool runs the very loop of a serial pool:
/// the results are bitwise those of `.serial` (and, for the diagonal scan, of a plain loop
/// written here), whatever the pool's thread count.
@Suite("One worker is the plain loop")
struct OneWorkerTests {
    /// A machine on which nothing pays: threads add neither bandwidth nor arithmetic.
    static let flat = MachineProfile(cores: 4, bandwidth: [1: 10e9, 4: 10e9], compute: [4: 1])
    /// Four threads, grain 1 (the grain limit allows every worker): only the model says 1.
    static let pool = WorkerPool(threadCount: 4, grainSize: 1, profile: flat)
    static let steps = 3_000

    @Test("affine scans: diagonal, 2×2 and 3×3 blocks, dense; forward and reverse; with and without h₀")
    func affineScans() throws {
        var rng = SeededGenerator(seed: 22)
        let shapes: [ScanShape] = [
            .diagonal(lanes: 7), .blockDiagonal(blocks: 5, blockSize: 2), .blockDiagonal(blocks: 3, blockSize: 3),
            .dense(batch: 2, dimension: 3),
        ]
        for shape in shapes {
            #expect(AffineScan.workers(shape, steps: Self.steps, scalarBytes: 4, pool: Self.pool) == 1)
            let a: [Float] = randomArray(
                Self.steps * shape.coefficientsPerStep, in: -0.4...0.4, &rng)
            let b: [Float] = randomArray(Self.steps * shape.statesPerStep, in: -1...1, &rng)
            let h0: [Float] = randomArray(shape.statesPerStep, in: -1...1, &rng)
            for direction in [ScanDirection.forward, .reverse] {
                for initial in [nil, h0] {
                    for transposed in [false, true] {
                        let serial = try AffineScan.solve(
                            shape, a: a, b: b, steps: Self.steps, initial: initial, transposed: transposed,
                            direction: direction, pool: .serial)
                        let modelled = try AffineScan.solve(
                            shape, a: a, b: b, steps: Self.steps, initial: initial, transposed: transposed,
                            direction: direction, pool: Self.pool)
                        #expect(modelled == serial, "\(shape) \(direction) initial \(initial != nil)")
                        if case .diagonal(let lanes) = shape {
                            let loop = referenceDiagonal(
                                a: a, b: b, steps: Self.steps, lanes: lanes, initial: initial,
                                reverse: direction == .reverse)
                            #expect(modelled == loop)
                        }
                    }
                }
            }
        }
    }

    @Test("scans with resets and the generic associative scan")
    func resetAndAssociative() throws {
        var rng = SeededGenerator(seed: 23)
        let lanes = 6
        let boundaries = try SequenceBoundaries(lengths: [700, 1_300, 1_000])
        let a: [Double] = randomArray(Self.steps * lanes, in: -0.9...0.9, &rng)
        let b: [Double] = randomArray(Self.steps * lanes, in: -1...1, &rng)
        for direction in [ScanDirection.forward, .reverse] {
            var serial = [Double](repeating: 0, count: b.count)
            var modelled = serial
            try a.withUnsafeBufferPointer { a in
                try b.withUnsafeBufferPointer { b in
                    try serial.withUnsafeMutableBufferPointer { out in
                        try AffineScan.solve(
                            .diagonal(lanes: lanes), a: a, b: b, boundaries: boundaries, output: out,
                            direction: direction, pool: .serial)
                    }
                    try modelled.withUnsafeMutableBufferPointer { out in
                        try AffineScan.solve(
                            .diagonal(lanes: lanes), a: a, b: b, boundaries: boundaries, output: out,
                            direction: direction, pool: Self.pool)
                    }
                }
            }
            #expect(modelled == serial)
            // Floating-point sums: a parallel bracketing would round differently.
            var x1 = b
            var x2 = b
            let combine: (Double, Double) -> Double = { $0 + $1 }
            try x1.withUnsafeMutableBufferPointer { x in
                try AssociativeScan.inclusive(
                    x, steps: Self.steps, lanes: lanes, direction: direction, pool: .serial, combine: combine)
            }
            try x2.withUnsafeMutableBufferPointer { x in
                try AssociativeScan.inclusive(
                    x, steps: Self.steps, lanes: lanes, direction: direction, pool: Self.pool, combine: combine)
            }
            #expect(x1 == x2)
        }
    }
}
