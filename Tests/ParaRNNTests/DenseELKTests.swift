import ParallelScan
import Testing

@testable import ParaRNN

/// ELK with the full n×n Kalman filter for dense Jacobians (issue 16).
@Suite("Dense ELK")
struct DenseELKTests {
    static let pool = WorkerPool(threadCount: 2, grainSize: 1)

    @Test("Cholesky inverse: (M + σ²I)·inverse = I for a random symmetric positive semi-definite M")
    func choleskyInverse() {
        let n = 5
        var rng = SeededGenerator(seed: 41)
        let b: [Double] = uniform(n * n, 2, &rng)
        // M = B Bᵀ.
        var m = [Double](repeating: 0, count: n * n)
        for r in 0..<n { for c in 0..<n { for k in 0..<n { m[r * n + c] += b[r * n + k] * b[c * n + k] } } }
        var l = [Double](repeating: 0, count: n * n)
        var inverse = [Double](repeating: 0, count: n * n)
        let shift = 0.3
        let ok = m.withUnsafeBufferPointer { m in
            l.withUnsafeMutableBufferPointer { l in
                inverse.withUnsafeMutableBufferPointer { i in
                    ELK.choleskyInverse(
                        m.baseAddress!, shift: shift, n: n, factor: l.baseAddress!, inverse: i.baseAddress!)
                }
            }
        }
        #expect(ok)
        var worst = 0.0
        for r in 0..<n {
            for c in 0..<n {
                var sum = 0.0
                for k in 0..<n { sum += (m[r * n + k] + (r == k ? shift : 0)) * inverse[k * n + c] }
                worst = max(worst, abs(sum - (r == c ? 1 : 0)))
            }
        }
        #expect(worst < 1e-10)
        // Not positive definite: refused.
        let negative = [-2.0, 0, 0, -2]
        let refused = negative.withUnsafeBufferPointer { m in
            l.withUnsafeMutableBufferPointer { l in
                inverse.withUnsafeMutableBufferPointer { i in
                    ELK.choleskyInverse(m.baseAddress!, shift: 1, n: 2, factor: l.baseAddress!, inverse: i.baseAddress!)
                }
            }
        }
        #expect(!refused)
    }

    /// With diagonal matrices the dense filter decouples into the per-lane scalar filter
    /// (written independently in ``ELK/filter``): same rewritten (J, b), same variances.
    @Test("dense filter of diagonal Jacobians == the per-lane filter", arguments: [1e-2, 1e2, 1e8])
    func diagonalAgreesWithLanes(sigma2: Double) {
        let (steps, batch, n) = (40, 2, 3)
        let row = batch * n
        var rng = SeededGenerator(seed: 42)
        let diagonal: [Double] = uniform(steps * row, 1.8, &rng)
        let offsets: [Double] = uniform(steps * row, 1, &rng)
        let states: [Double] = uniform(steps * row, 1, &rng)
        var dense = [Double](repeating: 0, count: steps * batch * n * n)
        for t in 0..<steps {
            for s in 0..<batch {
                for i in 0..<n { dense[t * batch * n * n + s * n * n + i * n + i] = diagonal[t * row + s * n + i] }
            }
        }
        var laneJ = diagonal
        var laneB = offsets
        var laneP = [Double](repeating: 0, count: row)
        var denseB = offsets
        var denseP = [Double](repeating: 0, count: batch * n * n)
        states.withUnsafeBufferPointer { y in
            ELK.filter(
                range: 0..<steps, row: row, jrow: row, structure: .diagonal, jacobians: &laneJ, offsets: &laneB,
                states: y.baseAddress!, variance: &laneP, sigma2: sigma2, rewrite: true)
            ELK.filter(
                range: 0..<steps, row: row, jrow: batch * n * n, structure: .dense, jacobians: &dense,
                offsets: &denseB, states: y.baseAddress!, variance: &denseP, sigma2: sigma2, rewrite: true)
        }
        var worst = 0.0
        for t in 0..<steps {
            for s in 0..<batch {
                for i in 0..<n {
                    for k in 0..<n {
                        let want = i == k ? laneJ[t * row + s * n + i] : 0
                        worst = max(worst, abs(dense[t * batch * n * n + s * n * n + i * n + k] - want))
                    }
                }
            }
        }
        for i in 0..<(steps * row) { worst = max(worst, abs(denseB[i] - laneB[i])) }
        for s in 0..<batch {
            for i in 0..<n {
                let p = denseP[s * n * n + i * n + i]
                worst = max(worst, abs(p - laneP[s * n + i]) / max(1, abs(p)))
            }
        }
        #expect(worst < 1e-12, "σ² \(sigma2): \(worst)")
    }

    func solve<C: GenericStepCell>(_ cell: C, steps: Int, method: SolverMethod, seed: UInt64)
        throws -> (Solution<C.Scalar>, Double)
    {
        var rng = SeededGenerator(seed: seed)
        let batch = 2
        let x: [C.Scalar] = uniform(steps * batch * cell.inputSize, 1, &rng)
        let options = SolverOptions(method: method, fallback: false, pool: Self.pool)
        let solution = try SequenceSolver(cell: cell, options: options).solve(inputs: x, steps: steps, batch: batch)
        let reference = referenceRollout(cell, inputs: x, steps: steps, batch: batch)
        var worst = 0.0
        for b in 0..<batch {
            for t in 0..<steps {
                for i in 0..<cell.stateSize {
                    let got = Double(stateValue(cell, solution.states, t: t, b: b, i: i, batch: batch))
                    let diff = abs(got - Double(reference[b][t * cell.stateSize + i]))
                    worst = diff <= worst ? worst : diff
                }
            }
        }
        return (solution, worst)
    }

    /// Recurrences with weight scale 1.5: quasi-ELK (their diagonal) needs several times
    /// Newton's iterations there (`Harness/README.md`); the dense filter needs Newton's order.
    func expectDenseELK<C: GenericStepCell>(_ cell: C, bound: Double, seed: UInt64) throws {
        let (elk, error) = try solve(cell, steps: 200, method: .elk, seed: seed)
        let converged = elk.converged && elk.method == .elk
        #expect(converged, "\(C.cellName) \(C.Scalar.self): \(elk.attempts.map(\.outcome)) \(elk.residualHistory)")
        #expect(error <= bound, "\(C.cellName) \(C.Scalar.self): error \(error) > \(bound)")
        #expect(elk.residualHistory.allSatisfy { $0.isFinite })
        let (quasi, _) = try solve(cell, steps: 200, method: .quasiNewton, seed: seed)
        let iterations = elk.attempts[0].iterations
        #expect(
            !quasi.converged || iterations < quasi.attempts[0].iterations,
            "\(C.cellName) \(C.Scalar.self): ELK \(iterations), quasi-Newton \(quasi.attempts[0].iterations)")
    }

    @Test("dense ELK == sequential rollout for GRU, LSTM and Elman, Float and Double, in fewer iterations than quasi")
    func denseCells() throws {
        try expectDenseELK(try RandomCells.gru(Double.self, m: 3, d: 6, scale: 1.5, seed: 51), bound: 1e-8, seed: 52)
        try expectDenseELK(try RandomCells.gru(Float.self, m: 3, d: 6, scale: 1.5, seed: 51), bound: 1e-4, seed: 52)
        try expectDenseELK(try RandomCells.lstm(Double.self, m: 3, d: 4, scale: 1.5, seed: 53), bound: 1e-8, seed: 54)
        try expectDenseELK(try RandomCells.lstm(Float.self, m: 3, d: 4, scale: 1.5, seed: 53), bound: 1e-4, seed: 54)
        try expectDenseELK(try RandomCells.elman(Double.self, m: 2, d: 6, scale: 1.2, seed: 55), bound: 1e-8, seed: 56)
        try expectDenseELK(try RandomCells.elman(Float.self, m: 2, d: 6, scale: 1.2, seed: 55), bound: 1e-4, seed: 56)
    }
}
