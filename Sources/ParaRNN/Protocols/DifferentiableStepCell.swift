/// A ``GenericStepCell`` whose recurrent parameters θ are lifted into the step as well, so that
/// its vector–Jacobian products come from dual numbers too: a cell written as one generic step
/// function can be solved, differentiated and trained with no hand-written derivative.
///
/// For every step and sequence, ∂L/∂u_i = Σ_r λ_r ∂f_r/∂u_i and ∂L/∂θ_k += Σ_r λ_r ∂f_r/∂θ_k,
/// each column by one dual-number evaluation of `step` (G·d + |θ| evaluations per step and
/// sequence: fine for small cells and for checking hand-written kernels, slow for large ones).
///
///     struct Leaky<Scalar: CellMath>: DifferentiableStepCell {
///         var recurrentParameters: [Scalar] { gains }            // θ = a, [d]
///         func step<T: CellNumber>(state h: [T], projection u: [T], parameters a: [T]) -> [T]
///             where T.Base == Scalar { (0..<h.count).map { T.tanh(a[$0] * h[$0] + u[$0]) } }
///         …
///     }
public protocol DifferentiableStepCell: GenericStepCell, DifferentiableCell {
    /// θ, flat in ``DifferentiableCell/recurrentParameterLayout`` order.
    var recurrentParameters: [Scalar] { get }
    /// f(s, u; θ) for one sequence (see ``GenericStepCell/step(state:projection:)``).
    func step<T: CellNumber>(state: [T], projection: [T], parameters: [T]) -> [T] where T.Base == Scalar
}

extension DifferentiableStepCell {
    public func step<T: CellNumber>(state: [T], projection: [T]) -> [T] where T.Base == Scalar {
        step(state: state, projection: projection, parameters: recurrentParameters.map { T($0) })
    }

    public func vectorJacobianProducts(_ arguments: VJPArguments<Scalar>) {
        let (steps, batch, previous, states) = (arguments.steps, arguments.batch, arguments.previous, arguments.states)
        let (projections, adjoints) = (arguments.projections, arguments.adjoints)
        let (projectionGradients, parameterGradients) = (arguments.projectionGradients, arguments.parameterGradients)
        let n = stateSize
        let d = hiddenSize
        let gd = gateCount * d
        let row = stateRowSize(batch: batch)
        let urow = projectionRowSize(batch: batch)
        let layout = StateLayout(structure: structure, stateSize: n, hiddenSize: d, batch: batch)
        let theta = recurrentParameters.map { Dual($0) }
        for t in steps {
            let prev = t == steps.lowerBound ? previous : states + (t - 1) * row
            for b in 0..<batch {
                let s = (0..<n).map { Dual(prev[layout.index(entry: b, value: $0)]) }
                func uIndex(_ i: Int) -> Int { t * urow + ((i / d) * batch + b) * d + i % d }
                let u = (0..<gd).map { Dual(projections[uIndex($0)]) }
                let lambda = (0..<n).map { adjoints[t * row + layout.index(entry: b, value: $0)] }
                func pullback(_ out: [Dual<Scalar>]) -> Scalar {
                    var sum: Scalar = 0
                    for r in 0..<n { sum += lambda[r] * out[r].tangent }
                    return sum
                }
                for i in 0..<gd {
                    var seeded = u
                    seeded[i].tangent = 1
                    projectionGradients[uIndex(i)] = pullback(step(state: s, projection: seeded, parameters: theta))
                }
                for k in 0..<theta.count {
                    var seeded = theta
                    seeded[k].tangent = 1
                    parameterGradients[k] += pullback(step(state: s, projection: u, parameters: seeded))
                }
            }
        }
    }
}
