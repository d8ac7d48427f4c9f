import ParallelScan

/// Gradients of a scalar loss L through a pLSTM propagation (``DAGGradients`` on a ``DAG``,
/// ``GridGradients`` on a grid): ∂L/∂(every gate), shaped like the propagation's `Gates`, and
/// ∂L/∂x, shaped like the input.
///
/// ```swift
/// let grads = try gates.adjoint(input: x, stateSize: d, outputGradient: g)  // GridGradients<Float>
/// let dMarkLeft = grads.gates.markLeft, dx = grads.input
/// ```
public struct PropagationGradients<Gates: Sendable, S: ScanScalar>: Sendable {
    /// ∂L/∂(gates), shaped like the gates.
    public var gates: Gates
    /// ∂L/∂x, shaped like the input.
    public var input: [S]
}
