import ComplexModule
import ParallelScan
import RealModule

/// An S4D layer: y = K * u + D·u per channel, K the ``S4DKernel`` of length L.
///
/// ``forward(_:batch:)`` uses the FFT convolver; ``recurrentForward(_:batch:initialState:)`` runs
/// the equivalent complex diagonal recurrence x_k = Ā x_{k−1} + B̄ u_k, y_k = 2·Re Σ_n C_n x_{k,n} + D u_k
/// sequentially in time (Double state), parallel over (batch, channel).
public struct S4DLayer<S: FFTScalar>: Sendable {
    /// The kernel parameters.
    public var kernel: S4DKernel
    /// D, `[H]`.
    public var skip: [S]
    /// The convolver (length L, plans, pool).
    public let convolver: FFTConvolver<S>
    /// L.
    public var length: Int { convolver.length }

    /// Creates a layer for sequences of length `length`.
    public init(
        kernel: S4DKernel, skip: [S], length: Int, cache: FFTPlanCache = .shared, pool: WorkerPool = WorkerPool()
    ) throws(LongConvError) {
        try checkShape("skip", skip.count, kernel.channels)
        self.kernel = kernel
        self.skip = skip
        convolver = try FFTConvolver(length: length, cache: cache, pool: pool)
    }

    /// The kernel `[H][L]` in precision S.
    public func kernelValues() throws(LongConvError) -> [S] {
        S._convert(try kernel.kernel(length: length))
    }

    /// y = K * u + D·u for `u` `[B][H][L]`.
    public func forward(_ u: [S], batch: Int) throws(LongConvError) -> [S] {
        try convolver.convolve(u, batch: batch, channels: kernel.channels, kernel: kernelValues(), skip: skip)
    }

    /// The recurrent form; `initialState` `[B][H][N/2]` (zeros when nil). Returns y `[B][H][L]`
    /// and the final state x_L (for chunked processing: the next chunk starts from it).
    public func recurrentForward(
        _ u: [S], batch: Int, initialState: [Complex<Double>]? = nil
    ) throws(LongConvError) -> (output: [S], state: [Complex<Double>]) {
        let H = kernel.channels
        let L = length
        let m = kernel.modes
        if batch < 1 { throw .noChannels }
        try checkShape("u", u.count, batch * H * L)
        if let initialState { try checkShape("initialState", initialState.count, batch * H * m) }
        var ab = [Double](repeating: 0, count: 4 * H * m)  // Ā re, im, 2C̄B̄... per (h, n)
        var cc = [Double](repeating: 0, count: 2 * H * m)
        for h in 0..<H {
            for n in 0..<m {
                let (aBar, bBar) = kernel.discretized(channel: h, mode: n)
                let i = h * m + n
                ab[4 * i] = aBar.real
                ab[4 * i + 1] = aBar.imaginary
                ab[4 * i + 2] = bBar.real
                ab[4 * i + 3] = bBar.imaginary
                cc[2 * i] = 2 * kernel.c[i].real
                cc[2 * i + 1] = 2 * kernel.c[i].imaginary
            }
        }
        var y = [S](repeating: 0, count: u.count)
        var state = [Double](repeating: 0, count: 2 * batch * H * m)
        if let initialState {
            for (i, z) in initialState.enumerated() {
                state[2 * i] = z.real
                state[2 * i + 1] = z.imaginary
            }
        }
        u.withSendablePointer { ub in
            y.withMutableSendablePointer { yo in
                state.withMutableSendablePointer { so in
                    ab.withSendablePointer { abp in
                        cc.withSendablePointer { ccp in
                            convolver.pool.forEach(batch * H) { item in
                                let h = item % H
                                let ui = ub.base + item * L
                                let yi = yo.base + item * L
                                let x = so.base + 2 * item * m
                                let coef = abp.base + 4 * h * m
                                let cv = ccp.base + 2 * h * m
                                let d = Double(skip[h])
                                for t in 0..<L {
                                    let ut = Double(ui[t])
                                    var acc = d * ut
                                    for n in 0..<m {
                                        let ar = coef[4 * n]
                                        let ai = coef[4 * n + 1]
                                        let xr = x[2 * n]
                                        let xi = x[2 * n + 1]
                                        let nr = ar * xr - ai * xi + coef[4 * n + 2] * ut
                                        let ni = ar * xi + ai * xr + coef[4 * n + 3] * ut
                                        x[2 * n] = nr
                                        x[2 * n + 1] = ni
                                        acc += cv[2 * n] * nr - cv[2 * n + 1] * ni
                                    }
                                    yi[t] = S(acc)
                                }
                            }
                        }
                    }
                }
            }
        }
        let final = (0..<(batch * H * m)).map { Complex(state[2 * $0], state[2 * $0 + 1]) }
        return (y, final)
    }

    /// Gradients from dL/dy: dL/du, dL/dD through the convolution (its adjoint is a correlation)
    /// and the S4D parameter gradients through the Vandermonde kernel.
    public func backward(
        gradOutput: [S], input u: [S], batch: Int
    ) throws(LongConvError) -> (input: [S], skip: [S], kernel: S4DGradients) {
        let g = try convolver.backward(
            gradOutput: gradOutput, input: u, batch: batch, channels: kernel.channels,
            kernel: kernelValues(), skip: skip)
        let pk = try kernel.kernelGradient(length: length, gradKernel: g.kernel.map { Double($0) })
        return (g.input, g.skip, pk)
    }
}

/// An SGConv layer: y = K * u + D·u with the normalised ``SGConvKernel``.
public struct SGConvLayer<S: FFTScalar>: Sendable {
    /// The kernel parameters (its length is the layer's L).
    public var kernel: SGConvKernel
    /// D, `[H]`.
    public var skip: [S]
    /// The convolver.
    public let convolver: FFTConvolver<S>

    /// Creates a layer; L is `kernel.length`.
    public init(kernel: SGConvKernel, skip: [S], cache: FFTPlanCache = .shared, pool: WorkerPool = WorkerPool())
        throws(LongConvError)
    {
        try checkShape("skip", skip.count, kernel.channels)
        self.kernel = kernel
        self.skip = skip
        convolver = try FFTConvolver(length: kernel.length, cache: cache, pool: pool)
    }

    /// y = K * u + D·u for `u` `[B][H][L]`.
    public func forward(_ u: [S], batch: Int) throws(LongConvError) -> [S] {
        try convolver.convolve(
            u, batch: batch, channels: kernel.channels, kernel: S._convert(kernel.kernel()), skip: skip)
    }
}
