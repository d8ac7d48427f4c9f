/// The tensors of a ParaRNN-style cell with a diagonal recurrence, validated once: recurrent
/// gains `[G][d]` (one row per gate), dense input weights W `[G·d][m]` and bias b `[G·d]`.
/// ParaGRU, ParaLSTM and ParaSLSTM hold one and get their sizes and tensors from it
/// (``DiagonalRecurrence``).
///
///     let g = try DiagonalGains<Float>(inputSize: 2, hiddenSize: 4, gates: 3,
///                                      recurrentGains: a, inputWeights: w, inputBias: b)
public struct DiagonalGains<Scalar: CellMath>: Sendable {
    /// m.
    public let inputSize: Int
    /// d: channels, each its own scalar recurrence.
    public let hiddenSize: Int
    /// The gains, `[G][d]` row-major.
    public let recurrentGains: [Scalar]
    /// W, `[G·d][m]`.
    public let inputWeights: [Scalar]
    /// b, `[G·d]`.
    public let inputBias: [Scalar]

    /// Validates the shapes (the gains are named `gainsName` in errors: "A", or "R" for the sLSTM).
    public init(
        inputSize m: Int, hiddenSize d: Int, gates g: Int, gainsName: String = "A", recurrentGains: [Scalar],
        inputWeights: [Scalar], inputBias: [Scalar]
    ) throws(CellError) {
        if d <= 0 || m < 0 { throw .invalidShape("hidden size \(d) and input size \(m) must be positive") }
        try checkParameter(gainsName, recurrentGains, [g, d])
        try checkParameter("W", inputWeights, [g * d, m])
        try checkParameter("b", inputBias, [g * d])
        (inputSize, hiddenSize) = (m, d)
        (self.recurrentGains, self.inputWeights, self.inputBias) = (recurrentGains, inputWeights, inputBias)
    }
}

/// A cell whose recurrence is diagonal per channel and whose tensors are ``DiagonalGains``.
public protocol DiagonalRecurrence: RecurrentCell {
    /// The gains, input weights and bias.
    var gains: DiagonalGains<Scalar> { get }
}

extension DiagonalRecurrence {
    public var inputSize: Int { gains.inputSize }
    public var hiddenSize: Int { gains.hiddenSize }
    /// The diagonal recurrent gains, `[G][d]`.
    public var recurrentGains: [Scalar] { gains.recurrentGains }
    public var inputWeights: [Scalar] { gains.inputWeights }
    public var inputBias: [Scalar] { gains.inputBias }
}
