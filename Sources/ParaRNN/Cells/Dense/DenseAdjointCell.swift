import ParallelScan

/// A dense cell with its own fused BPTT kernel (GRU, LSTM, Elman): the cell writes only the
/// kernel, and its ``DifferentiableCell/fusedBackward(_:pool:)`` comes from here — the shared
/// driver `DenseAdjointWork.backward` (workers over the batch entries,
/// each running the kernel backwards in t, then ∂L/∂W_hh and ∂L/∂b_hh by GEMMs over chunks of
/// t).
///
/// The kernel's ``DenseAdjointWork`` is made only inside the package, so the kernel is not
/// something to call from outside it.
///
///     extension GRU: DenseAdjointCell {
///         public func adjointKernel(_ work: DenseAdjointWork<Scalar>) { … }
///     }
public protocol DenseAdjointCell: DenseRecurrence, DifferentiableCell {
    /// The fused BPTT of the work's batch entries (`DenseAdjointWork.run`
    /// drives it).
    func adjointKernel(_ work: DenseAdjointWork<Scalar>)
}

extension DenseAdjointCell {
    /// The fused BPTT: the shared driver with the cell's ``adjointKernel(_:)``; always true.
    /// Both run specialised per precision (the driver and every kernel carry `@_specialize`),
    /// so this generic entry adds one call per worker.
    public func fusedBackward(_ arguments: FusedBackwardArguments<Scalar>, pool: WorkerPool) -> Bool {
        DenseAdjointWork.backward(arguments, shape: DenseGradientShape(self), pool: pool) { adjointKernel($0) }
        return true
    }
}
