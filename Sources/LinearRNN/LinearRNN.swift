import ParallelScan

/// LinearRNN — linear recurrences evaluated by parallel scans over time.
///
/// Layers (each generic over `Float`/`Double` via ParallelScan's `ScanScalar`, batched,
/// multi-channel, with `forward` and `backward`):
/// - ``DiagonalLinearRNN``: h_t = a ⊙ h_{t−1} + B x_t, y_t = C h_t + D x_t.
/// - ``LRU``: complex-diagonal λ = exp(−e^ν + iθ), γ = sqrt(1 − |λ|²), y_t = Re(C h_t) + D x_t.
/// - ``S5``: continuous-time complex diagonal Λ, per-step Δ_t, ZOH discretisation.
/// - ``SelectiveSSM``: Mamba-style a_t = exp(−softplus(δ_t) A) with input-dependent δ_t, gated.
/// - ``Aaren``: softmax attention of a learned query over every prefix, by a log-sum-exp scan.
/// - ``MLSTM``: xLSTM's matrix-memory LSTM (heads, exponential input gate, normaliser,
///   stabiliser), in step, chunkwise (TFLA) and quadratic forms (``GatedForm``).
/// - ``Retention``: RetNet / ViR retention (fixed per-head decay, no normaliser), same engine.
///   These two use `[T][batch][heads][D]` layouts and return a ``GatedTrace``.
///
/// Conventions shared by every layer:
/// - Arrays are flat and time-major: `[T][batch][features]`. h_{−1} = 0.
/// - `forward` returns a ``LinearRNNTrace``; with `keepStates: true` (the default) it holds the
///   states `backward` needs. `backward` returns the gradients of the scalar loss
///   L = Σ_t ⟨G_t, y_t⟩ for the given `outputGradient` G, with respect to the inputs and every
///   parameter, via the adjoint recurrence run as a reverse-time scan.
/// - The `pool` (ParallelScan's `WorkerPool`) fixes the chunk plan: results are reproducible for
///   a given thread count, and agree with the sequential loop up to rounding of a different
///   bracketing (products of decays |a| ≤ 1 are formed chunk-wise).
/// - Errors are ``LinearRNNError``: empty sequences, non-positive sizes, wrong array lengths,
///   invalid values.
///
/// Implementation: real and complex diagonal layers run a fused three-phase chunked scan
/// (``FusedDiagonalScan``) built on ParallelScan's `ChunkPlan` and `WorkerPool`, which computes
/// each step's coefficients inside the parallel chunks (input projections, exp, softplus, ZOH)
/// instead of materialising `[T][lanes]` coefficient arrays — the work that makes parallel
/// chunks pay on a memory-bandwidth-bound machine. Aaren runs ParallelScan's generic
/// `AssociativeScan.inclusive` forward and `AffineScan.diagonal` (reverse) for its adjoint.
public enum LinearRNNModule {
    /// The layer names, for reports.
    public static let layers = ["diagonal", "lru", "s5", "selective", "aaren", "mlstm", "retention"]
}
