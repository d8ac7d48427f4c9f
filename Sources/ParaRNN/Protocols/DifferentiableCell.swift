import ParallelScan

/// A cell whose step can be differentiated in reverse mode (vector–Jacobian products).
///
/// For a loss L of the states, the adjoint λ_t = ∂L/∂s_t + J_{t+1}ᵀ λ_{t+1} is a reverse affine
/// scan; given λ_t, the cell's VJP gives ∂L/∂u_t = (∂f/∂u)ᵀ λ_t for the projections and
/// accumulates ∂L/∂θ += (∂f/∂θ)ᵀ λ_t for its recurrent parameters. Input weights and biases get
/// their gradients from ∂L/∂u by GEMMs (the projection is shared by all cells).
public protocol DifferentiableCell<Scalar>: RecurrentCell {
    /// Names and sizes of the recurrent parameters, in the order of the gradient buffer.
    var recurrentParameterLayout: [(name: String, count: Int)] { get }

    /// For every t in `steps`: writes ∂L/∂u_t (`[T][G][B][d]` like the projections) and adds
    /// (∂f/∂θ)ᵀ λ_t into `parameterGradients` (laid out by ``recurrentParameterLayout``).
    /// s_{t−1} is `previous` for the first step of the range and `states[t−1]` after it (see
    /// ``VJPArguments``).
    func vectorJacobianProducts(_ arguments: VJPArguments<Scalar>)

    /// Backpropagation through time fused into the cell's own kernels, if it has them: fills
    /// ∂L/∂u, ∂L/∂θ and ∂L/∂s_{−1} without forming Jacobians or scanning, and returns true;
    /// returns false (writing nothing) when the cell has none, and the solver takes the
    /// Jacobian + adjoint-scan + VJP path. The dense cells (GRU, LSTM, Elman) have one.
    func fusedBackward(_ arguments: FusedBackwardArguments<Scalar>, pool: WorkerPool) -> Bool
}

extension DifferentiableCell {
    /// Total number of recurrent parameters.
    public var recurrentParameterCount: Int { recurrentParameterLayout.reduce(0) { $0 + $1.count } }

    public func fusedBackward(_ arguments: FusedBackwardArguments<Scalar>, pool: WorkerPool) -> Bool { false }
}
