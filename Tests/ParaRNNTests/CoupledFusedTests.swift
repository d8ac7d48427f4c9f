import Foundation
import ParallelScan
import Testing

@testable import ParaRNN

/// The fused Newton passes over a sequence split into segments (``FusedSegmentLink``), without
/// MPI: each segment solves on its own thread, and ``ThreadSegments`` plays the collectives.
/// Double precision, tolerance 1e-10: the result must equal the one-process rollout to 1e-9,
/// for 2 to 4 segments, with several chunks per segment, and with check passes forced after
/// every iteration (their re-linearisation must keep the segments in step).
@Suite("Fused Newton across segments")
struct CoupledFusedTests {
    @Test(
        "segments × chunks equal the rollout (ParaGRU, ParaLSTM; forced checks)",
        arguments: [(2, false), (3, true), (4, false), (4, true)])
    func segmentsEqualRollout(segments: Int, forceChecks: Bool) throws {
        let gru = try RandomCells.paraGRU(Double.self, m: 2, d: 4, scale: 1, seed: 41)
        let lstm = try RandomCells.paraLSTM(Double.self, m: 2, d: 4, scale: 1, seed: 42)
        try check(gru, segments: segments, forceChecks: forceChecks)
        try check(lstm, segments: segments, forceChecks: forceChecks)
    }

    @Test("a one-segment link leaves the fused passes bitwise unchanged")
    func oneSegmentIsBitwise() throws {
        let cell = try RandomCells.paraLSTM(Double.self, m: 2, d: 4, scale: 1, seed: 43)
        let (steps, batch) = (1200, 2)
        var rng = SeededGenerator(seed: 44)
        let x: [Double] = uniform(steps * batch * cell.inputSize, 1, &rng)
        let h0: [Double] = uniform(cell.stateRowSize(batch: batch), 0.5, &rng)
        let pool = WorkerPool(threadCount: 3, grainSize: 1, choice: .allThreads)
        let row = cell.stateRowSize(batch: batch)
        let urow = cell.projectionRowSize(batch: batch)
        var (u1, s1) = ([Double](repeating: .nan, count: steps * urow), [Double](repeating: .nan, count: steps * row))
        var (u2, s2) = (u1, s1)
        let plain = x.withUnsafeBufferPointer { x in
            u1.withUnsafeMutableBufferPointer { u in
                s1.withUnsafeMutableBufferPointer { s in
                    h0.withUnsafeBufferPointer { h0 in
                        let engine = NewtonEngine(
                            cell: cell, steps: steps, batch: batch, projections: UnsafePointer(u.baseAddress!),
                            previous: h0.baseAddress!, states: s.baseAddress!, pool: pool)
                        engine.pendingProjection = .init(inputs: x.baseAddress!, target: u.baseAddress!)
                        return engine.iterateFused(tolerance: 1e-10, maxIterations: 80, hasGuess: false) { _, _ in }
                    }
                }
            }
        }
        let solver = SequenceSolver(cell: cell, options: SolverOptions(method: .newton, pool: pool))
        let linked = x.withUnsafeBufferPointer { x in
            u2.withUnsafeMutableBufferPointer { u in
                s2.withUnsafeMutableBufferPointer { s in
                    h0.withUnsafeBufferPointer { h0 in
                        solver.coupledFusedNewton(
                            steps: steps, batch: batch, inputs: x.baseAddress!, projections: u.baseAddress!,
                            initial: h0.baseAddress!, states: s.baseAddress!, tolerance: 1e-10, maxIterations: 80,
                            coupling: ThreadSegments(count: 1).coupling(0))
                    }
                }
            }
        }
        #expect(plain.converged && linked.converged)
        #expect(plain.residualHistory == linked.residualHistory)
        #expect(s1.map(\.bitPattern) == s2.map(\.bitPattern))
    }

    /// Pieces with corrections (``SequenceSolver/streamedCoupledSolve(inputs:steps:batch:initialState:segmentLength:coupling:)``):
    /// long segments of 256-step pieces (one correction round), and 20-step segments of
    /// 4-step pieces, where a correction runs through whole segments and rounds repeat.
    @Test(
        "pieces with corrected entering states equal the rollout",
        arguments: [(3, 3001, 256), (4, 80, 4)])
    func piecesEqualRollout(segments: Int, steps: Int, pieceLength: Int) throws {
        let gru = try RandomCells.paraGRU(Double.self, m: 2, d: 4, scale: 1, seed: 46)
        let lstm = try RandomCells.paraLSTM(Double.self, m: 2, d: 4, scale: 1, seed: 47)
        try checkPieces(gru, segments: segments, steps: steps, pieceLength: pieceLength)
        try checkPieces(lstm, segments: segments, steps: steps, pieceLength: pieceLength)
    }

    /// Any one-process method runs per piece: ELK, damped and quasi-Newton across segments;
    /// `.automatic` chooses from the contractivity of the first piece (projected first).
    @Test(
        "ELK, damped and quasi-Newton in pieces across segments equal the rollout",
        arguments: [
            SolverMethod.elk, .damped, .quasiNewton, .automatic,
        ])
    func otherMethodsInPieces(method: SolverMethod) throws {
        let gru = try RandomCells.paraGRU(Double.self, m: 2, d: 4, scale: 1, seed: 49)
        try checkPieces(gru, segments: 3, steps: 600, pieceLength: 64, method: method)
    }

    /// The phase record of a solve in pieces: every segment timed its pieces and counted its
    /// correction rounds and re-solved steps.
    @Test("a solve in pieces across segments records its phases")
    func piecesRecordPhases() throws {
        let gru = try RandomCells.paraGRU(Double.self, m: 2, d: 4, scale: 1, seed: 50)
        let timings = (0..<3).map { _ in CoupledPhaseTimings() }
        try checkPieces(gru, segments: 3, steps: 900, pieceLength: 128, timings: timings)
        for (s, t) in timings.enumerated() {
            #expect(t[.pieces] > 0, "segment \(s)")
            #expect(t.rounds >= 1 && t.rounds <= 2, "segment \(s): \(t.rounds) rounds")
            // Segment 0 starts from the true state: it never re-solves.
            #expect(s > 0 || t.resolvedSteps == 0)
        }
    }

    func checkPieces<Cell: RecurrentCell>(
        _ cell: Cell, segments: Int, steps: Int, pieceLength: Int, method: SolverMethod = .newton,
        timings: [CoupledPhaseTimings]? = nil
    ) throws where Cell.Scalar == Double {
        let batch = 2
        var rng = SeededGenerator(seed: 48)
        let x: [Double] = uniform(steps * batch * cell.inputSize, 1, &rng)
        let h0: [Double] = uniform(cell.stateRowSize(batch: batch), 0.5, &rng)
        let reference = try SequenceSolver(cell: cell, options: SolverOptions(method: .sequential, pool: .serial))
            .solve(inputs: x, steps: steps, batch: batch, initialState: h0).states
        let hub = ThreadSegments(count: segments)
        let results = hub.run { s -> Result<Solution<Double>, SolverError> in
            let mine = ChunkPlan.evenRange(index: s, of: segments, total: steps)
            let inputRow = batch * cell.inputSize
            let slice = Array(x[(mine.lowerBound * inputRow)..<(mine.upperBound * inputRow)])
            var options = SolverOptions(
                method: method, tolerance: 1e-10, segmentLength: pieceLength,
                pool: WorkerPool(threadCount: 2, grainSize: 1, choice: .allThreads))
            options.coupling = hub.coupling(s)
            options.coupledTimings = timings?[s]
            do throws(SolverError) {
                return .success(
                    try SequenceSolver(cell: cell, options: options)
                        .solve(inputs: slice, steps: mine.count, batch: batch, initialState: h0))
            } catch {
                return .failure(error)
            }
        }
        let solutions = try results.map { try $0.get() }
        for (s, solution) in solutions.enumerated() {
            #expect(solution.converged, "segment \(s): \(solution.decision)")
            #expect(solution.finalResidual <= 1e-10)
        }
        let error = zip(solutions.flatMap { $0.states }, reference).map { abs($0 - $1) }.max() ?? .nan
        #expect(
            error <= 1e-9,
            "\(Cell.self) R = \(segments), pieces of \(pieceLength): max error \(error); \(solutions[0].decision)")
    }

    /// Solves `cell` over T = 2049, B = 1 split into `segments`, each on its own thread with a
    /// 3-thread pool (2–4 chunks per segment), and compares with the rollout.
    func check<Cell: RecurrentCell>(_ cell: Cell, segments: Int, forceChecks: Bool) throws
    where Cell.Scalar == Double {
        let (steps, batch) = (2049, 1)
        var rng = SeededGenerator(seed: 45)
        let x: [Double] = uniform(steps * batch * cell.inputSize, 1, &rng)
        let h0: [Double] = uniform(cell.stateRowSize(batch: batch), 0.5, &rng)
        let reference = try SequenceSolver(cell: cell, options: SolverOptions(method: .sequential, pool: .serial))
            .solve(inputs: x, steps: steps, batch: batch, initialState: h0).states
        let row = cell.stateRowSize(batch: batch)
        let hub = ThreadSegments(count: segments)
        let results = hub.run { s -> (states: [Double], attempt: SolveAttempt) in
            let mine = ChunkPlan.evenRange(index: s, of: segments, total: steps)
            let inputRow = batch * cell.inputSize
            let slice = Array(x[(mine.lowerBound * inputRow)..<(mine.upperBound * inputRow)])
            let options = SolverOptions(
                method: .newton, tolerance: 1e-10,
                pool: WorkerPool(
                    threadCount: 3, grainSize: 1, choice: .allThreads))
            let solver = SequenceSolver(cell: cell, options: options)
            var projections = [Double](repeating: .nan, count: mine.count * cell.projectionRowSize(batch: batch))
            var states = [Double](repeating: .nan, count: mine.count * row)
            let attempt = slice.withUnsafeBufferPointer { x in
                projections.withUnsafeMutableBufferPointer { u in
                    states.withUnsafeMutableBufferPointer { h in
                        h0.withUnsafeBufferPointer { h0 in
                            solver.coupledFusedNewton(
                                steps: mine.count, batch: batch, inputs: x.baseAddress!, projections: u.baseAddress!,
                                initial: h0.baseAddress!, states: h.baseAddress!, tolerance: 1e-10,
                                maxIterations: 80, coupling: hub.coupling(s),
                                checkThreshold: forceChecks ? .infinity : nil)
                        }
                    }
                }
            }
            return (states, attempt)
        }
        let states = results.flatMap { $0.states }
        for (s, result) in results.enumerated() {
            #expect(result.attempt.converged, "segment \(s): \(result.attempt.outcome)")
            // Every segment saw the same global residuals.
            #expect(result.attempt.residualHistory == results[0].attempt.residualHistory)
        }
        let error = zip(states, reference).map { abs($0 - $1) }.max() ?? .nan
        #expect(error <= 1e-9, "\(Cell.self) R = \(segments), checks \(forceChecks): max error \(error)")
    }
}

/// Collectives among threads of one process, one thread per segment: every call is a
/// barrier at which each segment posts its bytes and reads everyone's.
final class ThreadSegments: @unchecked Sendable {
    let count: Int
    private let condition = NSCondition()
    private var posted: [[UInt8]]
    private var completed: [[UInt8]] = []
    private var arrived = 0
    private var generation = 0

    init(count: Int) {
        self.count = count
        posted = Array(repeating: [], count: count)
    }

    func coupling(_ segment: Int) -> ThreadCoupling { ThreadCoupling(segment: segment, hub: self) }

    /// Runs `body(segment)` on `count` threads and returns the results in segment order.
    func run<T: Sendable>(_ body: @escaping @Sendable (Int) -> T) -> [T] {
        let box = ResultBox<T>(count: count)
        let done = DispatchGroup()
        for s in 0..<count {
            done.enter()
            let thread = Thread {
                box.set(s, body(s))
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        done.wait()
        return box.values
    }

    /// Posts `bytes` for `segment`; returns every segment's once all have posted.
    func exchange(_ segment: Int, _ bytes: [UInt8]) -> [[UInt8]] {
        condition.lock()
        defer { condition.unlock() }
        let round = generation
        posted[segment] = bytes
        arrived += 1
        if arrived == count {
            completed = posted
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == round { condition.wait() }
        }
        return completed
    }

    func exchange<S>(_ segment: Int, _ values: UnsafePointer<S>, count: Int) -> [[S]] {
        let bytes = Array(UnsafeRawBufferPointer(start: values, count: count * MemoryLayout<S>.stride))
        return exchange(segment, bytes).map { b in
            b.withUnsafeBytes { Array($0.bindMemory(to: S.self)) }
        }
    }
}

/// ``SegmentCoupling`` over ``ThreadSegments``: what the fused passes call (residual, sum,
/// boundary shift, the exclusive scan of segment maps, composed serially here).
struct ThreadCoupling: SegmentCoupling {
    let segment: Int
    let hub: ThreadSegments
    var segments: Int { hub.count }

    func maxResidual(_ local: Double) -> Double {
        let all = withUnsafePointer(to: local) { hub.exchange(segment, $0, count: 1) }.map { $0[0] }
        return all.contains { $0.isNaN } ? .nan : all.max()!
    }

    func sum(_ local: Int) -> Int {
        withUnsafePointer(to: local) { hub.exchange(segment, $0, count: 1) }.reduce(0) { $0 + $1[0] }
    }

    func allAgree(_ flag: Bool) -> Bool { sum(flag ? 0 : 1) == 0 }

    func shiftBoundary<S: ScanScalar>(last: UnsafePointer<S>, previous: UnsafeMutablePointer<S>, count: Int) {
        let all = hub.exchange(segment, last, count: count)
        if segment > 0 { previous.update(from: all[segment - 1], count: count) }
    }

    /// The maps of segments 0…r−1 applied one after the other to `initial` (no composition).
    func enterSegment<S: ScanScalar>(
        summary: UnsafePointer<S>, blocks: Int, blockSize k: Int, initial: UnsafePointer<S>,
        entry: UnsafeMutablePointer<S>
    ) {
        let all = hub.exchange(segment, summary, count: AffineRows.summaryCount(blocks: blocks, blockSize: k))
        var state = Array(UnsafeBufferPointer(start: initial, count: k * blocks))
        for map in all[0..<segment] {
            // x ↦ P x + Q, P as [k][k][blocks], Q as [k][blocks].
            var next = Array(map[(k * k * blocks)...])
            for r in 0..<k {
                for c in 0..<k {
                    for j in 0..<blocks {
                        next[r * blocks + j] += map[(r * k + c) * blocks + j] * state[c * blocks + j]
                    }
                }
            }
            state = next
        }
        entry.update(from: state, count: k * blocks)
    }

    func receiveFromPrevious<S: ScanScalar>(into row: UnsafeMutablePointer<S>, count: Int) {
        preconditionFailure("ThreadCoupling serves the fused Newton passes only")
    }

    func sendToNext<S: ScanScalar>(_ row: UnsafePointer<S>, count: Int) {
        preconditionFailure("ThreadCoupling serves the fused Newton passes only")
    }

    func scan<S: ScanScalar>(
        structure: JacobianStructure, jacobians: UnsafePointer<S>, offsets: UnsafePointer<S>,
        steps: Int, batch: Int, stateSize: Int, initial: UnsafePointer<S>,
        output: UnsafeMutablePointer<S>, pool: WorkerPool
    ) {
        preconditionFailure("ThreadCoupling serves the fused Newton passes only")
    }
}

/// Results written by several threads, one slot each.
final class ResultBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [T?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: T) {
        lock.lock()
        slots[index] = value
        lock.unlock()
    }

    var values: [T] {
        lock.lock()
        defer { lock.unlock() }
        return slots.map { $0! }
    }
}
