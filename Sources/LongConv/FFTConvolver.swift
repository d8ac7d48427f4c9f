import ParallelScan

/// The spectra of a bank of per-channel kernels, ready to multiply: for each channel the
/// n/2+1 complex bins of rfft(k, n), already divided by n (the inverse FFT is unnormalised,
/// so folding 1/n here saves a pass over every output).
public struct KernelSpectrum<S: FFTScalar>: Sendable {
    /// The number of channels C.
    public let channels: Int
    /// The transform length n.
    public let fftLength: Int
    /// Whether it was built from a (k0, k1) bidirectional pair.
    public let bidirectional: Bool
    /// `[C][n/2+1][2]` interleaved (re, im), scaled by 1/n.
    public let values: [S]
    var stride: Int { 2 * (fftLength / 2 + 1) }
}

/// Gradients of a causal convolution y = K * u + D·u.
public struct ConvolutionGradients<S: FFTScalar>: Sendable {
    /// dL/du, `[B][C][L]`.
    public var input: [S]
    /// dL/dK, `[C][L]`.
    public var kernel: [S]
    /// dL/dD, `[C]` (zeros when no skip term was given).
    public var skip: [S]
    /// dL/dk1, `[C][L]`, for a bidirectional convolution (empty for a causal one; entry L−1,
    /// whose weight is never used, is 0).
    public var backwardKernel: [S]
}

/// FFT long convolution of many channels and batch entries at once, on FFTW.
///
/// Causal mode computes, for every batch entry b and channel c,
///   y[b,c,t] = Σ_{s=0}^{t} K[c, t−s]·u[b,c,s] + D[c]·u[b,c,t],  t = 0…L−1,
/// as irfft(rfft(u, n)·rfft(K, n), n)[0..<L] with n = ``fastFFTLength(atLeast:)``(2L−1), so the
/// circular convolution has no wrap-around.
///
/// Bidirectional (non-causal) mode takes two kernels k0 (lags ≥ 0) and k1 (lags < 0):
///   y_t = Σ_{s≤t} k0[t−s]·u_s + Σ_{s>t} k1[s−t−1]·u_s (+ D·u_t),
/// the S4/SGConv convention: lag 0 is counted once (in k0), and k1[L−1] is never used.
///
/// Layout: `u` and `y` are `[B][C][L]` (channel-major, each sequence contiguous), kernels
/// `[C][L]`, D `[C]`. Plans come from an ``FFTPlanCache`` (created once, under a lock) and are
/// executed in parallel on the ``WorkerPool`` with FFTW's new-array functions on `fftw_malloc`
/// scratch arrays; each (b, c) item is computed the same way whatever the thread count, so
/// results are bitwise independent of it.
public struct FFTConvolver<S: FFTScalar>: Sendable {
    /// The sequence length L.
    public let length: Int
    /// The padded transform length n ≥ 2L−1.
    public var fftLength: Int { plan.length }
    /// The cached FFTW plans of length n.
    public let plan: FFTPlan<S>
    /// The workers.
    public let pool: WorkerPool

    /// Creates a convolver for sequences of length `length`.
    /// - Throws: ``LongConvError/emptyLength`` when `length` < 1.
    public init(length: Int, cache: FFTPlanCache = .shared, pool: WorkerPool = WorkerPool()) throws(LongConvError) {
        if length < 1 { throw .emptyLength }
        self.length = length
        self.pool = pool
        plan = try cache.plan(length: fastFFTLength(atLeast: 2 * length - 1), scalar: S.self)
    }

    /// The spectra rfft(K_c, n)/n of causal kernels `kernel` `[C][L]`.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func spectrum(kernel: [S], channels: Int) throws(LongConvError) -> KernelSpectrum<S> {
        if channels < 1 { throw .noChannels }
        try checkShape("kernel", kernel.count, channels * length)
        return makeSpectrum(channels: channels, bidirectional: false) { c, real in
            kernel.withUnsafeBufferPointer { k in
                UnsafeMutableRawPointer(real).copyMemory(
                    from: k.baseAddress! + c * length, byteCount: length * MemoryLayout<S>.stride)
            }
        }
    }

    /// The spectra of bidirectional kernel pairs (k0 for lags 0…L−1 placed at 0…L−1, k1[j] for
    /// lag −(j+1) placed at n−1−j); both `[C][L]`, k1[L−1] unused.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func spectrum(forwardKernel k0: [S], backwardKernel k1: [S], channels: Int) throws(LongConvError)
        -> KernelSpectrum<S>
    {
        if channels < 1 { throw .noChannels }
        try checkShape("forwardKernel", k0.count, channels * length)
        try checkShape("backwardKernel", k1.count, channels * length)
        let n = fftLength
        let L = length
        return makeSpectrum(channels: channels, bidirectional: true) { c, real in
            k0.withUnsafeBufferPointer { a in
                UnsafeMutableRawPointer(real).copyMemory(
                    from: a.baseAddress! + c * L, byteCount: L * MemoryLayout<S>.stride)
            }
            // k1[j] (lag −(j+1)) goes to index n−1−j, j = 0…L−2.
            k1.withUnsafeBufferPointer { b in
                copyReversed(L - 1, b.baseAddress! + c * L, real + (n - L + 1))
            }
        }
    }

    private func makeSpectrum(
        channels: Int, bidirectional: Bool, fill: (Int, UnsafeMutablePointer<S>) -> Void
    ) -> KernelSpectrum<S> {
        let n = fftLength
        let stride = 2 * (n / 2 + 1)
        var values = [S](repeating: 0, count: channels * stride)
        let scale = 1 / S(n)
        values.withUnsafeMutableBufferPointer { vb in
            let out = UnsafeMutableSendable(vb.baseAddress!)
            forEachWithScratch(pool: pool, count: channels, n: n) { (c: Int, s: FFTScratch<S>) in
                s.zero(s.real, n)
                fill(c, s.real)
                plan.forward(s.real, s.c0)
                scaledCopy(stride, scale, s.c0, out.base + c * stride)
            }
        }
        return KernelSpectrum(channels: channels, fftLength: n, bidirectional: bidirectional, values: values)
    }

    /// y = K * u (+ D·u) for `u` `[B][C][L]` with precomputed kernel spectra.
    /// - Throws: shape mismatches (u must hold B·C·L, skip C values), batch < 1.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func convolve(_ u: [S], batch: Int, spectrum: KernelSpectrum<S>, skip: [S]? = nil) throws(LongConvError)
        -> [S]
    {
        if batch < 1 { throw .noChannels }
        let C = spectrum.channels
        let L = length
        let n = fftLength
        try checkShape("spectrum.fftLength", spectrum.fftLength, n)
        try checkShape("u", u.count, batch * C * L)
        if let skip { try checkShape("skip", skip.count, C) }
        var y = [S](repeating: 0, count: u.count)
        let bins = n / 2 + 1
        let stride = spectrum.stride
        u.withUnsafeBufferPointer { ub in
            spectrum.values.withUnsafeBufferPointer { kb in
                y.withUnsafeMutableBufferPointer { yb in
                    let out = UnsafeMutableSendable(yb.baseAddress!)
                    let (up, kp) = (ub.baseAddress!, kb.baseAddress!)
                    forEachWithScratch(pool: pool, count: batch * C, n: n) { (item: Int, s: FFTScratch<S>) in
                        let c = item % C
                        let ui = up + item * L
                        s.loadPadded(ui, count: L)
                        plan.forward(s.real, s.c0)
                        multiplySpectra(s.c0, kp + c * stride, bins: bins, conjugate: false)
                        plan.inverse(s.c0, s.real)
                        let yi = out.base + item * L
                        UnsafeMutableRawPointer(yi).copyMemory(from: s.real, byteCount: L * MemoryLayout<S>.stride)
                        if let skip { axpy(L, skip[c], ui, yi) }
                    }
                }
            }
        }
        return y
    }

    /// Causal y = K * u (+ D·u): `u` `[B][C][L]`, `kernel` `[C][L]`, `skip` `[C]`.
    public func convolve(_ u: [S], batch: Int, channels: Int, kernel: [S], skip: [S]? = nil) throws(LongConvError)
        -> [S]
    {
        try convolve(u, batch: batch, spectrum: spectrum(kernel: kernel, channels: channels), skip: skip)
    }

    /// Bidirectional y_t = Σ_{s≤t} k0[t−s]u_s + Σ_{s>t} k1[s−t−1]u_s (+ D·u_t).
    public func convolveBidirectional(
        _ u: [S], batch: Int, channels: Int, forwardKernel k0: [S], backwardKernel k1: [S], skip: [S]? = nil
    ) throws(LongConvError) -> [S] {
        try convolve(
            u, batch: batch,
            spectrum: spectrum(forwardKernel: k0, backwardKernel: k1, channels: channels), skip: skip)
    }

    /// Gradients of a causal convolution from dL/dy.
    ///
    /// The adjoint of a causal convolution is a correlation:
    ///   dL/du[b,c,s] = Σ_{t≥s} K[c,t−s]·g[b,c,t] + D[c]·g[b,c,s]    (irfft(conj(K̂)·Ĝ))
    ///   dL/dK[c,ℓ]   = Σ_b Σ_{t≥ℓ} g[b,c,t]·u[b,c,t−ℓ]              (irfft(Σ_b conj(Û)·Ĝ))
    ///   dL/dD[c]     = Σ_b Σ_t g[b,c,t]·u[b,c,t].
    /// With n ≥ 2L−1 the circular correlations do not wrap into 0…L−1.
    ///
    /// With `backwardKernel` k1 the convolution is the bidirectional one; then dL/du uses the
    /// conjugate of the bidirectional spectrum, and with r = irfft(Σ_b conj(Û)·Ĝ)
    /// dL/dk0[j] = r[j] = Σ_t g_t u_{t−j} and dL/dk1[j] = r[n−1−j] = Σ_t g_t u_{t+j+1}.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward(
        gradOutput g: [S], input u: [S], batch: Int, channels C: Int, kernel: [S],
        backwardKernel: [S]? = nil, skip: [S]? = nil
    ) throws(LongConvError) -> ConvolutionGradients<S> {
        if batch < 1 || C < 1 { throw .noChannels }
        let L = length
        let n = fftLength
        let bins = n / 2 + 1
        try checkShape("gradOutput", g.count, batch * C * L)
        try checkShape("input", u.count, batch * C * L)
        if let skip { try checkShape("skip", skip.count, C) }
        let spec: KernelSpectrum<S>
        if let backwardKernel {
            spec = try spectrum(forwardKernel: kernel, backwardKernel: backwardKernel, channels: C)
        } else {
            spec = try spectrum(kernel: kernel, channels: C)
        }
        let bidirectional = backwardKernel != nil
        var du = [S](repeating: 0, count: u.count)
        var dk = [S](repeating: 0, count: C * L)
        var dk1 = [S](repeating: 0, count: bidirectional ? C * L : 0)
        var dd = [S](repeating: 0, count: C)
        let scale = 1 / S(n)
        u.withUnsafeBufferPointer { ub in
            g.withUnsafeBufferPointer { gb in
                spec.values.withUnsafeBufferPointer { kb in
                    let (up, gp, kp) = (ub.baseAddress!, gb.baseAddress!, kb.baseAddress!)
                    du.withUnsafeMutableBufferPointer { db in
                        let out = UnsafeMutableSendable(db.baseAddress!)
                        forEachWithScratch(pool: pool, count: batch * C, n: n) { (item: Int, s: FFTScratch<S>) in
                            let c = item % C
                            s.loadPadded(gp + item * L, count: L)
                            plan.forward(s.real, s.c0)
                            multiplySpectra(s.c0, kp + c * spec.stride, bins: bins, conjugate: true)
                            plan.inverse(s.c0, s.real)
                            let di = out.base + item * L
                            UnsafeMutableRawPointer(di).copyMemory(from: s.real, byteCount: L * MemoryLayout<S>.stride)
                            if let skip { axpy(L, skip[c], gp + item * L, di) }
                        }
                    }
                    dk.withUnsafeMutableBufferPointer { kbOut in
                        dk1.withUnsafeMutableBufferPointer { k1Out in
                            dd.withUnsafeMutableBufferPointer { ddb in
                                let outK = UnsafeMutableSendable(kbOut.baseAddress!)
                                let outD = UnsafeMutableSendable(ddb.baseAddress!)
                                let outK1 = bidirectional ? k1Out.baseAddress.map { UnsafeMutableSendable($0) } : nil
                                forEachWithScratch(pool: pool, count: C, n: n) { (c: Int, s: FFTScratch<S>) in
                                    s.zero(s.c2, 2 * bins)
                                    var dot = 0.0
                                    for b in 0..<batch {
                                        let item = b * C + c
                                        s.loadPadded(gp + item * L, count: L)
                                        plan.forward(s.real, s.c0)
                                        s.loadPadded(up + item * L, count: L)
                                        plan.forward(s.real, s.c1)
                                        accumulateConjugateProduct(s.c2, s.c1, s.c0, bins: bins)
                                        dot += dotInDouble(L, gp + item * L, up + item * L)
                                    }
                                    plan.inverse(s.c2, s.real)
                                    scaledCopy(L, scale, s.real, outK.base + c * L)
                                    if let outK1, L > 1 {
                                        // dk1[j] = r[n−1−j], j = 0…L−2.
                                        copyReversed(L - 1, s.real + (n - L + 1), outK1.base + c * L)
                                        for j in 0..<(L - 1) { outK1.base[c * L + j] *= scale }
                                    }
                                    outD.base[c] = skip == nil ? 0 : S(dot)
                                }
                            }
                        }
                    }
                }
            }
        }
        return ConvolutionGradients(input: du, kernel: dk, skip: dd, backwardKernel: dk1)
    }
}

/// Direct O(L²) convolutions: the reference and the baseline for short sequences.
///
/// The inner loop is an axpy over contiguous memory (y[j…] += K[j]·u[0…]), which the compiler
/// vectorises; items (b, c) run in parallel on the pool.
public enum DirectConvolution {
    /// Causal y[b,c,t] = Σ_{s≤t} K[c,t−s]u[b,c,s] (+ D[c]u[b,c,t]); layouts as in ``FFTConvolver``.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func causal<S: FFTScalar>(
        _ u: [S], batch: Int, channels: Int, length: Int, kernel: [S], skip: [S]? = nil,
        pool: WorkerPool = .serial
    ) throws(LongConvError) -> [S] {
        try run(u, batch: batch, channels: channels, length: length, k0: kernel, k1: nil, skip: skip, pool: pool)
    }

    /// Bidirectional y_t = Σ_{s≤t} k0[t−s]u_s + Σ_{s>t} k1[s−t−1]u_s (+ D·u_t).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func bidirectional<S: FFTScalar>(
        _ u: [S], batch: Int, channels: Int, length: Int, forwardKernel k0: [S], backwardKernel k1: [S],
        skip: [S]? = nil, pool: WorkerPool = .serial
    ) throws(LongConvError) -> [S] {
        try checkShape("backwardKernel", k1.count, channels * length)
        return try run(u, batch: batch, channels: channels, length: length, k0: k0, k1: k1, skip: skip, pool: pool)
    }

    static func run<S: FFTScalar>(
        _ u: [S], batch: Int, channels C: Int, length L: Int, k0: [S], k1: [S]?, skip: [S]?, pool: WorkerPool
    ) throws(LongConvError) -> [S] {
        if L < 1 { throw .emptyLength }
        if batch < 1 || C < 1 { throw .noChannels }
        try checkShape("u", u.count, batch * C * L)
        try checkShape("kernel", k0.count, C * L)
        if let skip { try checkShape("skip", skip.count, C) }
        var y = [S](repeating: 0, count: u.count)
        u.withUnsafeBufferPointer { ub in
            k0.withUnsafeBufferPointer { kb in
                y.withUnsafeMutableBufferPointer { yb in
                    let out = UnsafeMutableSendable(yb.baseAddress!)
                    let (up, kp) = (ub.baseAddress!, kb.baseAddress!)
                    pool.forEach(batch * C) { item in
                        let c = item % C
                        let ui = up + item * L
                        let yi = out.base + item * L
                        let kc = kp + c * L
                        for j in 0..<L { axpy(L - j, kc[j], ui, yi + j) }
                        if let k1 {
                            k1.withUnsafeBufferPointer { k1b in
                                let k1c = k1b.baseAddress! + c * L
                                for j in 0..<(L - 1) { axpy(L - 1 - j, k1c[j], ui + j + 1, yi) }
                            }
                        }
                        if let skip { axpy(L, skip[c], ui, yi) }
                    }
                }
            }
        }
        return y
    }
}
