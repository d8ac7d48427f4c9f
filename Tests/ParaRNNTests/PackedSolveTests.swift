import ParaRNN
import ParallelScan
import Testing

/// Packed solves (several sequences end to end) against separate solves of each sequence.
@Suite("Packed solves vs separate solves")
struct PackedSolveTests {
    /// Starts 0, 1, 300, 301, 302, 452: a length-1 sequence at step 0, consecutive boundaries,
    /// and a start on the chunk edge of a two-worker plan (300 of 600).
    static let lengths = [1, 299, 1, 1, 150, 148]

    func maxDifference<S: ScanScalar>(_ x: [S], _ y: [S]) -> Double {
        zip(x, y).reduce(0.0) { max($0, abs(Double($1.0) - Double($1.1))) }
    }

    func check<C: RecurrentCell>(
        _ cell: C, name: String, lengths: [Int] = lengths, batch: Int = 1, threads: Int = 2,
        methods: [SolverMethod] = [.newton, .quasiNewton, .damped, .elk], seed: UInt64 = 1
    ) throws {
        var rng = SeededGenerator(seed: seed)
        let steps = lengths.reduce(0, +)
        let m = cell.inputSize
        let row = cell.stateRowSize(batch: batch)
        let x: [C.Scalar] = uniform(steps * batch * m, 1, &rng)
        let h0: [C.Scalar] = uniform(lengths.count * row, 0.5, &rng)
        let pool = WorkerPool(threadCount: threads)
        // Separate sequential solves: the reference.
        var sequential = SolverOptions(method: .sequential, pool: pool)
        sequential.fallback = false
        var reference: [C.Scalar] = []
        var t0 = 0
        for (i, length) in lengths.enumerated() {
            let solution = try SequenceSolver(cell: cell, options: sequential).solve(
                inputs: Array(x[(t0 * batch * m)..<((t0 + length) * batch * m)]), steps: length,
                batch: batch, initialState: Array(h0[(i * row)..<((i + 1) * row)]))
            reference += solution.states
            t0 += length
        }
        let packedSequential = try SequenceSolver(cell: cell, options: sequential).solve(
            inputs: x, lengths: lengths, batch: batch, initialStates: h0)
        #expect(packedSequential.states == reference, "\(name): the packed rollout is bitwise the separate rollouts")
        #expect(packedSequential.sequenceResiduals == [Double](repeating: 0, count: lengths.count))
        for method in methods {
            var options = SolverOptions(method: method, pool: pool)
            options.fallback = false
            options.maxIterations = 200
            let solution = try SequenceSolver(cell: cell, options: options).solve(
                inputs: x, lengths: lengths, batch: batch, initialStates: h0)
            let tolerance = solution.tolerance
            #expect(
                solution.converged && solution.method == method,
                "\(name) \(method): \(solution.attempts.map(\.outcome))")
            #expect(solution.sequenceLengths == lengths)
            let residuals = solution.sequenceResiduals ?? []
            #expect(
                residuals.count == lengths.count && residuals.allSatisfy { $0 <= tolerance },
                "\(name) \(method): \(residuals)")
            let diff = maxDifference(solution.states, reference)
            let allowed = C.Scalar.self == Float.self ? 1e-4 : 1e-8
            #expect(diff <= allowed, "\(name) \(method): max |packed − separate| = \(diff)")
        }
    }

    @Test func paraGRU() throws {
        try check(try RandomCells.paraGRU(Double.self, m: 2, d: 3, scale: 0.6, seed: 1), name: "ParaGRU")
        try check(
            try RandomCells.paraGRU(Float.self, m: 2, d: 4, scale: 0.6, seed: 2), name: "ParaGRU Float", batch: 2,
            threads: 3)
    }

    @Test func paraLSTM() throws {
        try check(try RandomCells.paraLSTM(Double.self, m: 2, d: 3, scale: 0.5, seed: 3), name: "ParaLSTM")
    }

    @Test func paraSLSTM() throws {
        // 4×4 blocks: the fused passes' largest block size.
        try check(
            try RandomCells.paraSLSTM(Double.self, m: 2, d: 2, scale: 0.3, seed: 11), name: "ParaSLSTM",
            methods: [.newton, .quasiNewton])
    }

    @Test func denseCells() throws {
        try check(
            try RandomCells.gru(Double.self, m: 2, d: 3, scale: 0.5, seed: 4), name: "GRU",
            methods: [.newton, .quasiNewton, .elk])
        try check(
            try RandomCells.lstm(Double.self, m: 2, d: 2, scale: 0.5, seed: 5), name: "LSTM", methods: [.newton, .elk])
        try check(
            try RandomCells.elman(Double.self, m: 2, d: 3, scale: 0.5, seed: 6), name: "Elman",
            methods: [.newton, .damped])
    }

    @Test("fused Newton: boundaries at every worker count and on chunk edges")
    func fusedWorkerCounts() throws {
        let cell = try RandomCells.paraLSTM(Double.self, m: 2, d: 4, scale: 0.5, seed: 7)
        for threads in [1, 2, 3, 4] {
            // Starts on the even split of 1024 steps among 4 workers (256, 512, 768) and next to it.
            try check(
                cell, name: "ParaLSTM threads \(threads)", lengths: [256, 256, 1, 255, 256], threads: threads,
                methods: [.newton], seed: UInt64(threads))
        }
    }

    @Test("one sequence is the plain solve")
    func singleSequence() throws {
        let cell = try RandomCells.paraGRU(Double.self, m: 2, d: 3, scale: 0.6, seed: 8)
        var rng = SeededGenerator(seed: 8)
        let x: [Double] = uniform(500 * 2, 1, &rng)
        let options = SolverOptions(method: .newton, pool: WorkerPool(threadCount: 2))
        let plain = try SequenceSolver(cell: cell, options: options).solve(inputs: x, steps: 500, batch: 1)
        let packed = try SequenceSolver(cell: cell, options: options).solve(inputs: x, lengths: [500])
        #expect(packed.states == plain.states && packed.sequenceResiduals?.count == 1)
    }

    @Test("bad lengths and initial states are refused")
    func badInput() throws {
        let cell = try RandomCells.paraGRU(Double.self, m: 2, d: 3, scale: 0.6, seed: 9)
        let solver = SequenceSolver(cell: cell)
        let x = [Double](repeating: 0.1, count: 10 * 2)
        #expect(throws: SolverError.self) { try solver.solve(inputs: x, lengths: [4, 0, 6]) }
        #expect(throws: SolverError.self) { try solver.solve(inputs: x, lengths: [4, 5]) }
        #expect(throws: SolverError.self) { try solver.solve(inputs: x, lengths: [4, 6], initialStates: [0, 0, 0]) }
    }

    @Test("packed rollout: first non-finite input and non-finite states, per sequence, at every worker count")
    func nonFinite() throws {
        let cell = try RandomCells.paraGRU(Float.self, m: 2, d: 3, scale: 0.6, seed: 12)
        let lengths = [40, 1, 300, 7, 120]
        let starts = [0, 40, 41, 341, 348]
        let steps = lengths.reduce(0, +)
        var rng = SeededGenerator(seed: 12)
        let x: [Float] = uniform(steps * 2, 1, &rng)
        for threads in [1, 2, 3, 8] {
            var options = SolverOptions(method: .sequential, pool: WorkerPool(threadCount: threads))
            options.fallback = false
            let solver = SequenceSolver(cell: cell, options: options)
            // NaN inputs in sequences 4 and 2: the error names the first, as a one-pass check would.
            var bad = x
            bad[(starts[4] + 5) * 2 + 1] = .nan
            bad[(starts[2] + 250) * 2] = .infinity
            #expect(throws: SolverError.nonFiniteInput(index: (starts[2] + 250) * 2)) {
                try solver.solve(inputs: bad, lengths: lengths)
            }
            // A NaN initial state for sequence 3 (no cell of the catalogue overflows from finite
            // inputs): its states are NaN in lane 1, every other sequence stays finite.
            var h0 = [Float](repeating: 0, count: 5 * 3)
            h0[3 * 3 + 1] = .nan
            let solution = try solver.solve(inputs: x, lengths: lengths, initialStates: h0)
            let separate = try solver.solve(
                inputs: Array(x[(starts[3] * 2)..<((starts[3] + 7) * 2)]), steps: 7, batch: 1,
                initialState: Array(h0[9..<12]))
            #expect(separate.nonFiniteState != nil)
            #expect(
                solution.nonFiniteState?.step == separate.nonFiniteState.map { $0.step + starts[3] }
                    && solution.nonFiniteState?.offset == separate.nonFiniteState?.offset)
            #expect(!solution.converged && solution.finalResidual.isNaN)
            let residuals = solution.sequenceResiduals ?? []
            #expect(residuals.count == 5 && residuals[3].isNaN)
            #expect(residuals.enumerated().allSatisfy { $0.offset == 3 || $0.element == 0 }, "\(residuals)")
        }
    }

    @Test("gradients across boundaries vs finite differences")
    func gradients() throws {
        let cell = try RandomCells.paraGRU(Double.self, m: 2, d: 3, scale: 0.6, seed: 10)
        let lengths = [3, 1, 5]
        let steps = 9
        let m = 2
        let row = 3
        var rng = SeededGenerator(seed: 10)
        let x: [Double] = uniform(steps * m, 1, &rng)
        let h0: [Double] = uniform(lengths.count * row, 0.5, &rng)
        let w: [Double] = uniform(steps * row, 1, &rng)
        var options = SolverOptions(method: .sequential, pool: WorkerPool(threadCount: 2))
        options.fallback = false
        let solver = SequenceSolver(cell: cell, options: options)
        func loss(_ x: [Double], _ h0: [Double]) throws -> Double {
            let s = try solver.solve(inputs: x, lengths: lengths, initialStates: h0).states
            return zip(s, w).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let states = try solver.solve(inputs: x, lengths: lengths, initialStates: h0).states
        for adjoint in [AdjointMethod.parallelScan, .sequential] {
            let g = try solver.gradients(
                states: states, inputs: x, lengths: lengths, initialStates: h0, stateGradients: w,
                adjoint: adjoint)
            let eps = 1e-6
            // Every input (the last step of each sequence and the first of the next included).
            for i in 0..<(steps * m) {
                var plus = x
                var minus = x
                plus[i] += eps
                minus[i] -= eps
                let fd = (try loss(plus, h0) - loss(minus, h0)) / (2 * eps)
                #expect(abs(fd - g.inputs[i]) <= 1e-6 * max(1, abs(fd)), "∂L/∂x[\(i)]: \(g.inputs[i]) vs \(fd)")
            }
            for i in 0..<(lengths.count * row) {
                var plus = h0
                var minus = h0
                plus[i] += eps
                minus[i] -= eps
                let fd = (try loss(x, plus) - loss(x, minus)) / (2 * eps)
                #expect(
                    abs(fd - g.initialState[i]) <= 1e-6 * max(1, abs(fd)), "∂L/∂h0[\(i)]: \(g.initialState[i]) vs \(fd)"
                )
            }
        }
    }
}
