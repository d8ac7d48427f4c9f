/// Wall time of the phases of a solve in pieces across segments
/// (``SequenceSolver/streamedCoupledSolve(inputs:steps:batch:initialState:segmentLength:coupling:)``),
/// summed over the layers that share it: where a distributed solve spends its time besides the
/// one-process work.
///
/// - ``Phase/pieces``: the speculative solve of the segment's steps, piece after piece;
/// - ``Phase/guess``: f(0, u) at the segment's last step and its shift to the next segment;
/// - ``Phase/exchange``: per correction round the end-state shift and the agreement on whether
///   any end state moved (time here is mostly waiting for the slowest segment);
/// - ``Phase/correction``: re-solving the first pieces from a corrected entering state;
/// - ``Phase/collectives``: the global residual, the convergence agreement and the step count;
/// - ``Phase/finiteCheck``: the finite-state guard over the segment's states.
///
/// ```swift
/// var options = SolverOptions(method: .newton, segmentLength: 4096)
/// options.coupling = coupling
/// let timings = CoupledPhaseTimings()
/// options.coupledTimings = timings
/// _ = try SequenceSolver(cell: cell, options: options).solve(inputs: x, steps: n, batch: 1)
/// timings.seconds[.pieces]   // e.g. 0.095
/// ```
package final class CoupledPhaseTimings: @unchecked Sendable {
    package enum Phase: Int, CaseIterable, Sendable {
        case pieces, guess, exchange, correction, collectives, finiteCheck

        package var name: String {
            switch self {
            case .pieces: "local pieces"
            case .guess: "guess exchange"
            case .exchange: "round exchanges"
            case .correction: "correction"
            case .collectives: "residual/agreement collectives"
            case .finiteCheck: "finite check"
            }
        }
    }

    /// Seconds per phase, summed over calls.
    package private(set) var seconds = [Double](repeating: 0, count: Phase.allCases.count)
    /// Correction rounds run and steps re-solved by this segment, summed over calls.
    package var rounds = 0
    package var resolvedSteps = 0

    package init() {}

    /// Adds the time since `start` to `phase` and returns now (the next phase's start).
    @discardableResult
    package func add(_ phase: Phase, since start: ContinuousClock.Instant) -> ContinuousClock.Instant {
        let now = ContinuousClock.now
        let d = (now - start).components
        seconds[phase.rawValue] += Double(d.seconds) + Double(d.attoseconds) * 1e-18
        return now
    }

    package subscript(_ phase: Phase) -> Double { seconds[phase.rawValue] }
}
