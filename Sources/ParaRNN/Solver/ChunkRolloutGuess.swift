import ParallelScan

/// Where plain fused Newton (``SolverMethod/newton`` for cells with diagonal or small-block
/// Jacobians) starts its iterations.
///
/// - ``zeroState``: ParaRNN's guess s⁽⁰⁾_t = f(0, u_t), every step from a zero state, then
///   Newton steps until the residual meets the tolerance.
/// - ``chunkRollouts``: the sequence is cut into the passes' chunks (a few per worker); each
///   worker rolls its chunks out exactly, step after step, and each chunk c > 0 starts from the
///   state reached by rolling out the L steps before it from a zero state (a burn-in,
///   L = ``burnIn(chunkLength:)``). Every step inside a chunk is then f of its predecessor by
///   construction, as in the sequential rollout; only the first step of each chunk can miss,
///   by ‖f(s_{t₀−1}) − s_{t₀}‖, which the first pass measures ("the seams"). A recurrence that
///   contracts, ‖∂f/∂s‖ ≤ ρ < 1 along its trajectory, forgets the burn-in's start as ρ^L, so
///   the seams usually meet the tolerance at once and the solve is certified after that one
///   pass, with no Newton step. Otherwise Newton linearises at this iterate and goes on
///   exactly as from any guess; its error sits at the seams, and quadratic convergence removes
///   it in one or two steps.
///
///       var options = SolverOptions(method: .newton)
///       options.newtonGuess = .zeroState   // ParaRNN's guess, e.g. to compare iterations
///
/// The seam residual is the iteration-0 entry of the attempt's residual history; the attempt's
/// outcome says when the guess alone was certified.
public enum NewtonGuess: String, Sendable, Codable, CaseIterable {
    case zeroState
    case chunkRollouts

    /// L, the steps rolled out before a chunk of `chunkLength` steps to forget the zero state
    /// it starts from: a quarter of the chunk, at most 256 (contractive cells forget within
    /// tens of steps; 256 costs 1.6 % of a 16,000-step chunk).
    public static func burnIn(chunkLength: Int) -> Int { min(256, chunkLength / 4) }

    /// The shortest chunk the rollout guess is used for (shorter chunks would spend a large
    /// share of their work on the burn-in): 64 steps, a burn-in of 16.
    public static let shortestChunk = 64
}
