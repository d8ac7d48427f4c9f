import ParallelScan

/// The result of a forward pass.
///
/// `output` is `[T][batch][outputs]` (time-major). `states` holds the hidden states the backward
/// pass needs, in the layer's documented layout; it is empty when the forward pass ran with
/// `keepStates: false` (inference), and such a trace cannot be passed to `backward`.
public struct LinearRNNTrace<S: ScanScalar>: Sendable {
    /// Sequence length T.
    public let steps: Int
    /// Batch size.
    public let batch: Int
    /// `[T][batch][outputs]`.
    public let output: [S]
    /// Hidden states (layer-specific layout), or empty.
    public let states: [S]
    /// The sequences packed end to end along T that the forward pass restarted at (nil: one
    /// sequence); the backward pass keeps its adjoint inside them.
    public var boundaries: SequenceBoundaries? = nil

    public init(steps: Int, batch: Int, output: [S], states: [S]) {
        self.steps = steps
        self.batch = batch
        self.output = output
        self.states = states
    }
}
