import ModelIO
import ParaRNN
import ParallelScan

/// A stack of layers solved one time segment after another: segment k of every layer starts
/// from the exact end state of segment k − 1 of that layer, and within a segment the layers
/// are solved in order (layer l + 1 reads layer l's h of the same steps). Each segment is
/// certified on its own (residual ≤ tolerance, or the fallback chain); the stack's evidence is
/// the worst segment.
///
/// For T = n₁ + n₂ + … the states equal those of one solve over all T: the recurrence
/// s_t = f(s_{t−1}, x_t) only needs s_{t−1}, which is the previous segment's last row.
///
/// ```swift
/// let stack = StreamingStack(layers: cells, steps: T, batch: 1, options: options, initialStates: nil)
/// let h = try stack.solve(segment: x, steps: 4096, offset: 0)   // [4096][B][outputSize]
/// ```
/// Bidirectional layers cannot be streamed (the reverse direction starts at step T − 1).
final class StreamingStack<S: CellMath> {
    let layers: [AnyLayer<S>]
    let steps: Int
    let batch: Int
    /// The options each segment is solved with (method resolved per layer over all T).
    private var layerOptions: [SolverOptions]
    /// The end state row of each layer: the start of its next segment.
    private var states: [[S]]
    private(set) var tallies: [Tally]

    /// What one layer's segments did, summed up.
    struct Tally {
        var method: SolverMethod
        var decision: String
        var attempts: [SolveAttempt] = []
        /// Newton iterations of each segment (all attempts).
        var segmentIterations: [Int] = []
        var worstResidual = 0.0
        var converged = true
        var nonFiniteState: NonFiniteState?
        var tolerance: Double
    }

    /// - Parameters:
    ///   - steps: T, the whole sequence (the `.automatic` method is chosen for it).
    ///   - initialStates: one state row per layer (`[B][stateSize]`); zeros if `nil`.
    init(layers: [AnyLayer<S>], steps: Int, batch: Int, options: SolverOptions, initialStates: [[S]]?) {
        precondition(
            layers.allSatisfy { $0.directions == 1 }, "StreamingStack: bidirectional layers cannot be streamed")
        self.layers = layers
        self.steps = steps
        self.batch = batch
        states = layers.enumerated().map { l, layer in
            initialStates?[l] ?? [S](repeating: 0, count: batch * layer.stateSize)
        }
        let tolerance = options.tolerance ?? (S.self == Float.self ? 1e-5 : 1e-10)
        layerOptions = []
        tallies = []
        for layer in layers {
            let (method, decision) = layer.chooseMethod(steps: steps, batch: batch, options: options)
            var o = options
            o.method = method
            o.segmentLength = nil
            o.progress = nil
            o.tolerance = tolerance
            // Layer 1's rows were checked as they were read (``SegmentReader``); a later layer's
            // (the previous layer's output) are checked by its solver.
            o.inputsCheckedFinite = layerOptions.isEmpty
            layerOptions.append(o)
            tallies.append(Tally(method: method, decision: decision, tolerance: tolerance))
        }
    }

    /// Solves steps `offset ..< offset + count` of every layer from `x` (`[count][B][m]`);
    /// returns the last layer's h, `[count][B][outputSize]`. Stops at a layer whose states
    /// are not finite (its tally says where, in global steps) and returns `nil`.
    /// `sideWork` is offered to every layer's parallel passes (the first to reach one runs
    /// each job; see ``SideWork``); jobs may be left unclaimed.
    func solve(
        segment x: [S], steps count: Int, offset: Int, sideWork: [SideWork] = []
    ) throws(SolverError) -> [S]? {
        var input = x
        for (l, layer) in layers.enumerated() {
            var options = layerOptions[l]
            options.sideWork = sideWork
            let result = try layer.solve(
                inputs: input, steps: count, batch: batch, options: options,
                initialStates: [states[l]])
            let solution = result.solution
            // In place: a copy of the tally would copy its arrays once per segment.
            tallies[l].attempts += solution.attempts
            tallies[l].segmentIterations.append(solution.iterations)
            tallies[l].method = solution.method
            let worst = tallies[l].worstResidual
            tallies[l].worstResidual =
                solution.finalResidual.isNaN || worst.isNaN
                ? .nan : max(worst, solution.finalResidual)
            tallies[l].converged = tallies[l].converged && solution.converged
            if var bad = solution.nonFiniteState {
                bad.step += offset
                tallies[l].nonFiniteState = bad
                return nil
            }
            let row = batch * layer.stateSize
            states[l] = Array(solution.states[((count - 1) * row)..<(count * row)])
            input = result.hidden
        }
        return input
    }

    /// The evidence as a ``StackSolution`` (without states: they were written as they came).
    var solution: StackSolution<S> {
        var solutions: [Solution<S>] = []
        var labels: [String] = []
        for (l, tally) in tallies.enumerated() where l == 0 || tallies[l - 1].nonFiniteState == nil {
            if l > 0, tallies[l].segmentIterations.isEmpty { break }
            solutions.append(
                Solution(
                    states: [], steps: steps, batch: batch, method: tally.method, attempts: tally.attempts,
                    converged: tally.converged, finalResidual: tally.nonFiniteState == nil ? tally.worstResidual : .nan,
                    tolerance: tally.tolerance, decision: tally.decision, segments: tally.segmentIterations.count,
                    nonFiniteState: tally.nonFiniteState))
            labels.append("layer \(l + 1)")
        }
        return StackSolution(hidden: [], layers: solutions, labels: labels)
    }
}
