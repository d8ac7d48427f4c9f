import Dispatch

/// Per-phase, per-worker time of the fused Newton passes (``NewtonEngine/iterateFused``), for
/// finding where parallel scaling is lost: a worker's busy time per phase, each pass's wall
/// time (from the fork to the last worker's return) and the serial carry propagation between
/// passes.
///
/// For pass p and worker w, busy(w) = Σ_phase time(w, phase); the pass's wall time minus the
/// slowest worker's busy time is fork/join overhead, and max_w busy / mean_w busy − 1 is the
/// load imbalance. Workers write only their own padded slot (no false sharing); the record is
/// read after the solve.
///
/// ```swift
/// var options = SolverOptions(method: .newton, pool: WorkerPool(threadCount: 4))
/// let timings = NewtonPhaseTimings()
/// options.phaseTimings = timings
/// _ = try SequenceSolver(cell: cell, options: options).solve(inputs: x, steps: T, batch: 1)
/// print(timings.summary)   // "solve 3.1 ms, linearise 9.8 ms, … busy max 4.2 ms, min 3.9 ms"
/// ```
package final class NewtonPhaseTimings: @unchecked Sendable {
    /// The parts of a fused pass, timed block by block in each worker.
    package enum Phase: Int, CaseIterable, Sendable {
        /// u_t = W x_t + b for the block (first pass, when the projection is fused).
        case project
        /// s_t = J_t s_{t−1} + b_t from the stored linearisation (or f(0, u) in the first pass).
        case solve
        /// F_t, J_t, b_t and the residual at the new states.
        case linearise
        /// Composing the block's (J, b) into the chunk summary.
        case reduce
        /// Values and residual only (a check pass).
        case check

        package var name: String {
            switch self {
            case .project: "project"
            case .solve: "solve"
            case .linearise: "linearise"
            case .reduce: "reduce"
            case .check: "check"
            }
        }
    }

    /// Slots per worker: one per phase, padded to a 64-byte line (8 doubles).
    static let stride = 8
    /// Workers with a slot (the largest chunk count seen).
    package private(set) var workers = 0
    /// Seconds per worker and phase, `[workers][stride]`.
    private var slots: UnsafeMutablePointer<Double>
    private var capacity: Int
    /// Fused passes timed.
    package private(set) var passes = 0
    /// Σ over passes of the pass's wall time (fork to join), seconds.
    package private(set) var passWall = 0.0
    /// Wall time of the first pass of each solve (it writes fresh buffers: page faults show
    /// here), seconds.
    package private(set) var firstPassWall = 0.0
    /// Serial carry propagation between passes, seconds.
    package private(set) var carry = 0.0
    /// Steps of the passes timed (for bytes per step and throughput).
    package private(set) var steps = 0
    /// Bytes each pass moves per step (see ``recordPass(wall:steps:bytesPerStep:)``), summed.
    package private(set) var bytes = 0.0

    package init() {
        capacity = 64
        slots = .allocate(capacity: capacity * Self.stride)
        slots.initialize(repeating: 0, count: capacity * Self.stride)
    }

    deinit { slots.deallocate() }

    /// Makes room for `count` workers (called before a pass forks; not concurrently).
    func prepare(workers count: Int) {
        if count > capacity {
            let grown = UnsafeMutablePointer<Double>.allocate(capacity: count * Self.stride)
            grown.initialize(repeating: 0, count: count * Self.stride)
            grown.update(from: slots, count: capacity * Self.stride)
            slots.deallocate()
            slots = grown
            capacity = count
        }
        workers = max(workers, count)
    }

    /// Adds `seconds` to worker `w`'s `phase` (only worker w calls this during a pass).
    @inline(__always)
    func add(_ seconds: Double, worker w: Int, phase: Phase) {
        slots[w * Self.stride + phase.rawValue] += seconds
    }

    /// Records one finished pass: its wall time and the bytes it moved.
    func recordPass(wall: Double, steps count: Int, bytesPerStep: Int, first: Bool) {
        if first { firstPassWall += wall }
        passes += 1
        passWall += wall
        steps = max(steps, count)
        bytes += Double(bytesPerStep * count)
    }

    /// Records the serial carry propagation after a pass.
    func recordCarry(_ seconds: Double) { carry += seconds }

    /// Worker `w`'s seconds in `phase`.
    package func seconds(worker w: Int, phase: Phase) -> Double { slots[w * Self.stride + phase.rawValue] }

    /// Σ over workers of the time in `phase`.
    package func total(_ phase: Phase) -> Double { (0..<workers).reduce(0) { $0 + seconds(worker: $1, phase: phase) } }

    /// Worker `w`'s busy time (all phases).
    package func busy(worker w: Int) -> Double { Phase.allCases.reduce(0) { $0 + seconds(worker: w, phase: $1) } }

    /// Bytes moved per step per pass, averaged over the passes.
    package var bytesPerStepPerPass: Double { passes == 0 || steps == 0 ? 0 : bytes / Double(passes * steps) }

    /// Achieved bytes per second over the passes' wall time.
    package var bytesPerSecond: Double { passWall > 0 ? bytes / passWall : 0 }

    /// One line: the phases (summed over workers), the wall time of the passes and the carry,
    /// the busy range over workers and the achieved bandwidth.
    package var summary: String {
        let ms = { (s: Double) in String(format: "%.2f", s * 1e3) }
        let phases = Phase.allCases.map { "\($0.name) \(ms(total($0)))" }.joined(separator: ", ")
        let busyTimes = (0..<workers).map { self.busy(worker: $0) }
        return
            "\(passes) passes: \(phases) ms (Σ workers); pass wall \(ms(passWall)) ms (first \(ms(firstPassWall)) ms), carry \(ms(carry)) ms; busy per worker "
            + busyTimes.map(ms).joined(separator: "/") + " ms; "
            + String(format: "%.0f B/step/pass, %.2f GB/s", bytesPerStepPerPass, bytesPerSecond * 1e-9)
    }

    /// The figures as bench notes (milliseconds; "busy max/min" over workers).
    package var notes: [String: Double] {
        var notes: [String: Double] = [:]
        for phase in Phase.allCases where total(phase) > 0 { notes["\(phase.name) ms"] = total(phase) * 1e3 }
        let busyTimes = (0..<workers).map { self.busy(worker: $0) }
        notes["passes"] = Double(passes)
        notes["pass wall ms"] = passWall * 1e3
        notes["first pass wall ms"] = firstPassWall * 1e3
        notes["carry ms"] = carry * 1e3
        notes["busy max ms"] = (busyTimes.max() ?? 0) * 1e3
        notes["busy min ms"] = (busyTimes.min() ?? 0) * 1e3
        for (w, seconds) in busyTimes.enumerated() { notes["busy w\(w) ms"] = seconds * 1e3 }
        notes["B/step/pass"] = bytesPerStepPerPass
        notes["GB/s"] = bytesPerSecond * 1e-9
        return notes
    }
}

/// Seconds since an arbitrary start (monotonic), for the phase timings.
@inline(__always)
func phaseClock() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }
