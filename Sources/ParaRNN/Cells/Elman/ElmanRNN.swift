import ParallelScan

/// The Elman RNN h' = φ(W_ih x + b_ih + W_hh h + b_hh), PyTorch `nn.RNN`: φ = tanh (the default)
/// or ReLU (`nn.RNN(nonlinearity="relu")`). Jacobian ∂h'_i/∂h_k = φ'_i W_hh[i,k] with
/// φ' = 1 − h'² (tanh) or [h' > 0] (ReLU).
///
///     let relu = try ElmanRNN<Float>(inputSize: 3, hiddenSize: 5, weightIH: wih, weightHH: whh,
///                                    biasIH: bih, biasHH: bhh, activation: .relu)
public struct ElmanRNN<Scalar: CellMath>: KernelCell, DenseRecurrence {
    public let weights: DenseWeights<Scalar>
    public var stateSize: Int { hiddenSize }

    /// The nonlinearity φ.
    public enum Activation: String, Sendable { case tanh, relu }
    public let activation: Activation

    /// Creates an Elman RNN from `weight_ih` `[d][m]`, `weight_hh` `[d][d]`, `bias_ih`, `bias_hh`.
    public init(
        inputSize m: Int, hiddenSize d: Int, weightIH: [Scalar], weightHH: [Scalar],
        biasIH: [Scalar], biasHH: [Scalar], activation: Activation = .tanh
    ) throws(CellError) {
        self.activation = activation
        weights = try DenseWeights(
            inputSize: m, hiddenSize: d, gates: 1, weightIH: weightIH, weightHH: weightHH,
            biasIH: biasIH, biasHH: biasHH)
    }

    init(weights: DenseWeights<Scalar>, activation: Activation) {
        (self.weights, self.activation) = (weights, activation)
    }

    public func with(weights: DenseWeights<Scalar>) -> ElmanRNN { ElmanRNN(weights: weights, activation: activation) }

    public func step<T: CellNumber>(state h: [T], projection u: [T]) -> [T] where T.Base == Scalar {
        let d = hiddenSize
        return (0..<d).map { i in
            var acc = u[i] + T(recurrentBias[i])
            for k in 0..<d { acc = acc + T(recurrentWeights[i * d + k]) * h[k] }
            return activation == .tanh ? T.tanh(acc) : (acc.value > 0 ? acc : T(0))
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func linearize(_ arguments: LinearizeArguments<Scalar>) {
        let (d, jacobians) = (hiddenSize, arguments.jacobians)
        let lanes = arguments.batch * d
        recurrentWeights.withUnsafeBufferPointer { w in
            denseLinearize(arguments, rollout: fusedRollout) { t, b, gt in
                let u = arguments.projections + t * lanes + b * d
                let out = arguments.values + t * lanes + b * d
                for i in 0..<d {
                    let h = activate(u[i] + gt[i])
                    out[i] = h
                    guard let jacobians else { continue }
                    let slope = self.slope(h)
                    if arguments.request == .diagonalOnly {
                        jacobians[t * lanes + b * d + i] = slope * w[i * d + i]
                    } else {
                        let jr = jacobians + t * lanes * d + (b * d + i) * d
                        for k in 0..<d { jr[k] = slope * w[i * d + k] }
                    }
                }
            }
        }
    }

    /// φ(a): tanh, or a where a > 0 and 0 elsewhere (ReLU).
    @inline(__always)
    func activate(_ a: Scalar) -> Scalar { activation == .tanh ? Scalar.tanh(a) : (a > 0 ? a : 0) }

    /// φ(a) lane-wise.
    @inline(__always)
    func activate<V: SIMD>(_ a: V) -> V where V.Scalar == Scalar {
        activation == .tanh ? Scalar.tanh(a) : blend(V(repeating: 0), a, a .> 0)
    }

    /// φ' from the output h' = φ(a): 1 − h'² (tanh) or [h' > 0] (ReLU).
    @inline(__always)
    func slope(_ h: Scalar) -> Scalar { activation == .tanh ? 1 - h * h : (h > 0 ? 1 : 0) }

    /// φ' lane-wise.
    @inline(__always)
    func slope(_ h: SIMD4<Scalar>) -> SIMD4<Scalar> {
        activation == .tanh ? 1 - h * h : blend(SIMD4(repeating: 0), SIMD4(repeating: 1), h .> 0)
    }

}
