import ParallelScan

/// ParaRNN's LSTM with diagonal recurrent weights, coupled input–forget gate and peepholes.
/// Each channel has a 2-value state (c, h), so the Jacobian is 2×2-block-diagonal and a Newton
/// step is a 2×2-block affine scan.
///
/// With u^f, u^o, u^c the input projections (rows f, o, c), diagonal gains A (rows f, o, c) and
/// peepholes C (rows f, o):
///
///     f  = σ(A_f ⊙ h + u^f + C_f ⊙ c)
///     ĉ  = tanh(A_c ⊙ h + u^c)
///     c' = f ⊙ c + (1 − f) ⊙ ĉ
///     o  = σ(A_o ⊙ h + u^o + C_o ⊙ c')
///     h' = o ⊙ tanh(c')
///
/// Jacobian block per channel, with f̃ = f(1−f), õ = o(1−o), τ = tanh(c'):
///
///     ∂c'/∂c = f + (c − ĉ)·f̃·C_f
///     ∂c'/∂h = (c − ĉ)·f̃·A_f + (1 − f)(1 − ĉ²)·A_c
///     ∂h'/∂c = g·∂c'/∂c,            g = õ·C_o·τ + o(1 − τ²)
///     ∂h'/∂h = õ·A_o·τ + g·∂c'/∂h
///
/// State row `[2][B][d]` (plane c, then plane h); projection row `[3][B][d]`; Jacobian row
/// `[2][2][B·d]`. The output is h.
public struct ParaLSTM<Scalar: CellMath>: KernelCell, DiagonalRecurrence {
    /// Diagonal recurrent gains A `[3][d]`, input weights W `[3d][m]` and bias `[3d]`, rows
    /// (f, o, c).
    public let gains: DiagonalGains<Scalar>
    /// Peephole gains C, `[2][d]`, rows (f on c_{t−1}, o on c_t).
    public let peepholes: [Scalar]

    public var stateSize: Int { 2 * hiddenSize }
    public var gateCount: Int { 3 }
    public var structure: JacobianStructure { .blockDiagonal(2) }
    public var fusesNewtonOffsets: Bool { true }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func linearize(_ arguments: LinearizeArguments<Scalar>) { kernel(arguments) }

    /// Creates a ParaLSTM from dense input weights W `[3d][m]` (rows f, o, c) and bias `[3d]`.
    public init(
        inputSize m: Int, hiddenSize d: Int, recurrentGains: [Scalar], peepholes: [Scalar],
        inputWeights: [Scalar], inputBias: [Scalar]
    ) throws(CellError) {
        gains = try DiagonalGains(
            inputSize: m, hiddenSize: d, gates: 3, recurrentGains: recurrentGains, inputWeights: inputWeights,
            inputBias: inputBias)
        try checkParameter("C", peepholes, [2, d])
        self.peepholes = peepholes
    }

    /// Creates a ParaLSTM from ParaRNN's tensors `A` `[3, d]`, `B` `[H, m/H, 3, d/H]`,
    /// `C` `[2, d]`, `b` `[3, d]`.
    public init(
        inputSize m: Int, hiddenSize d: Int, heads: Int, A: [Scalar], B: [Scalar], C: [Scalar],
        b: [Scalar]
    ) throws(CellError) {
        let w = try headProjectionToDense(B, inputSize: m, hiddenSize: d, heads: heads, gates: 3)
        try self.init(
            inputSize: m, hiddenSize: d, recurrentGains: A, peepholes: C, inputWeights: w,
            inputBias: b)
    }

    public func step<T: CellNumber>(state s: [T], projection u: [T]) -> [T] where T.Base == Scalar {
        let d = hiddenSize
        var next = [T](repeating: T(0), count: 2 * d)
        for j in 0..<d {
            let (c, h) = (s[j], s[d + j])
            let f = T.sigmoid(T(recurrentGains[j]) * h + u[j] + T(peepholes[j]) * c)
            let candidate = T.tanh(T(recurrentGains[2 * d + j]) * h + u[2 * d + j])
            let cNext = f * c + (T(1) - f) * candidate
            let o = T.sigmoid(T(recurrentGains[d + j]) * h + u[d + j] + T(peepholes[d + j]) * cNext)
            next[j] = cNext
            next[d + j] = o * T.tanh(cNext)
        }
        return next
    }

    /// The vectorised kernel, reached through ``CellMath`` so it runs specialised per precision.
    func kernel(_ arguments: LinearizeArguments<Scalar>) {
        let (steps, batch, previous, states) = (arguments.steps, arguments.batch, arguments.previous, arguments.states)
        let (projections, values, jacobians, request) = (
            arguments.projections, arguments.values, arguments.jacobians, arguments.request
        )
        let d = hiddenSize
        let lanes = batch * d
        // Parameter tiles over a block: [f gain, o gain, c gain, f peephole, o peephole].
        let fused = arguments.fusedResidual != nil && jacobians != nil && request == .structured
        let blocks = RowBlocks<Scalar>(
            lanes: lanes, statePlanes: 2, gatePlanes: 3,
            jacobianPlanes: jacobians == nil ? 0 : (request == .diagonalOnly ? 2 : 4),
            gathersCurrentStates: fused)
        let inPlace = arguments.inPlace
        // Parameters tiled over a row's lanes (rollout) or over a block of rows.
        let e = inPlace ? lanes : blocks.capacity
        let tiles = UnsafeMutablePointer<Scalar>.allocate(capacity: 5 * e)
        defer { tiles.deallocate() }
        recurrentGains.withUnsafeBufferPointer { gains in
            peepholes.withUnsafeBufferPointer { peep in
                for v in 0..<5 {
                    let source = v < 3 ? gains.baseAddress! + v * d : peep.baseAddress! + (v - 3) * d
                    repeatPattern(source, count: d, into: tiles + v * e, total: e)
                }
            }
        }
        let af = tiles
        let ao = tiles + e
        let ac = tiles + 2 * e
        let cf = tiles + 3 * e
        let co = tiles + 4 * e
        if inPlace {
            // The rollout: one step after another, each step's lanes in SIMD4 vectors (see
            // ParaGRU); lanes beyond a multiple of 4 run scalar.
            let row = 2 * lanes
            let vectorLanes = lanes / 4 * 4
            if lanes >= 32 {
                // Wide rows: short loops over the lanes (vectorised by the compiler), through
                // scratch for the gates (see ParaGRU).
                let gates = UnsafeMutablePointer<Scalar>.allocate(capacity: 2 * lanes)
                defer { gates.deallocate() }
                let fs = gates
                let cs = gates + lanes
                for t in steps {
                    let cp = t == steps.lowerBound ? previous : states + (t - 1) * row
                    let hp = cp + lanes
                    let uf = projections + t * 3 * lanes
                    let uo = uf + lanes
                    let uc = uf + 2 * lanes
                    let oc = values + t * row
                    let oh = oc + lanes
                    for l in 0..<lanes {
                        let c = cp[l]
                        let h = hp[l]
                        fs[l] = Scalar.sigmoid(af[l] * h + uf[l] + cf[l] * c)
                        cs[l] = Scalar.tanh(ac[l] * h + uc[l])
                    }
                    for l in 0..<lanes {
                        let f = fs[l]
                        let cNext = f * cp[l] + (1 - f) * cs[l]
                        fs[l] = Scalar.sigmoid(ao[l] * hp[l] + uo[l] + co[l] * cNext)
                        cs[l] = cNext
                    }
                    for l in 0..<lanes {
                        let cNext = cs[l]
                        oc[l] = cNext
                        oh[l] = fs[l] * Scalar.tanh(cNext)
                    }
                }
                return
            }
            for t in steps {
                let cp = t == steps.lowerBound ? previous : states + (t - 1) * row
                let hp = cp + lanes
                let uf = projections + t * 3 * lanes
                let uo = uf + lanes
                let uc = uf + 2 * lanes
                let oc = values + t * row
                let oh = oc + lanes
                var l = 0
                while l < vectorLanes {
                    let c = loadVector(cp + l)
                    let h = loadVector(hp + l)
                    let f = Scalar.sigmoid(loadVector(af + l) * h + loadVector(uf + l) + loadVector(cf + l) * c)
                    let candidate = Scalar.tanh(loadVector(ac + l) * h + loadVector(uc + l))
                    let cNext = f * c + (1 - f) * candidate
                    let o = Scalar.sigmoid(loadVector(ao + l) * h + loadVector(uo + l) + loadVector(co + l) * cNext)
                    storeVector(cNext, oc + l)
                    storeVector(o * Scalar.tanh(cNext), oh + l)
                    l += 4
                }
                while l < lanes {
                    let c = cp[l]
                    let h = hp[l]
                    let f = Scalar.sigmoid(af[l] * h + uf[l] + cf[l] * c)
                    let candidate = Scalar.tanh(ac[l] * h + uc[l])
                    let cNext = f * c + (1 - f) * candidate
                    let o = Scalar.sigmoid(ao[l] * h + uo[l] + co[l] * cNext)
                    oc[l] = cNext
                    oh[l] = o * Scalar.tanh(cNext)
                    l += 1
                }
            }
            return
        }
        let structured = request == .structured
        let withJacobian = jacobians != nil
        blocks.run(
            steps: steps, previous: previous, states: states, projections: projections,
            values: values, jacobians: jacobians
        ) { scratch, n in
            let cp = scratch
            let hp = scratch + e
            let uf = scratch + 2 * e
            let uo = scratch + 3 * e
            let uc = scratch + 4 * e
            let oc = scratch + 5 * e
            let oh = scratch + 6 * e
            let j0 = scratch + 7 * e
            let j1 = scratch + 8 * e
            let j2 = scratch + 9 * e
            let j3 = scratch + 10 * e
            // Short branch-free loops instead of one long one per element: each vectorises,
            // and with short dependency chains the core overlaps many elements (a long body,
            // exp → divide → exp → divide, leaves it waiting on latency). The gates overwrite
            // their projections (f → uf, ĉ → uc, o → uo), c' goes to oc and tanh(c') to `tau`.
            func gates(tau: UnsafeMutablePointer<Scalar>) {
                for i in 0..<n {
                    let c = cp[i]
                    let h = hp[i]
                    uf[i] = Scalar.sigmoid(af[i] * h + uf[i] + cf[i] * c)
                    uc[i] = Scalar.tanh(ac[i] * h + uc[i])
                }
                for i in 0..<n {
                    let f = uf[i]
                    let cNext = f * cp[i] + (1 - f) * uc[i]
                    oc[i] = cNext
                    uo[i] = Scalar.sigmoid(ao[i] * hp[i] + uo[i] + co[i] * cNext)
                }
                for i in 0..<n { tau[i] = Scalar.tanh(oc[i]) }
            }
            @inline(__always)
            func jacobian(_ i: Int, tau: Scalar) -> (dcdc: Scalar, dcdh: Scalar, dhdc: Scalar, dhdh: Scalar) {
                ParaLSTM.derivatives(
                    c: cp[i], f: uf[i], candidate: uc[i], o: uo[i], tau: tau, af: af[i], ao: ao[i],
                    ac: ac[i], cf: cf[i], co: co[i])
            }
            if fused {
                // Newton's offsets b = f − J·s_{t−1} (written as the values) and the residual.
                let cs = scratch + blocks.currentBase
                let hs = cs + e
                let residuals = cs + 2 * e
                gates(tau: j3)
                for i in 0..<n {
                    let c = cp[i]
                    let h = hp[i]
                    let cNext = oc[i]
                    let tau = j3[i]
                    let x = jacobian(i, tau: tau)
                    let hNext = uo[i] * tau
                    let rc = abs(cs[i] - cNext) / max(1, abs(cNext))
                    let rh = abs(hs[i] - hNext) / max(1, abs(hNext))
                    residuals[i] = max(rc, rh) + (rc - rc) + (rh - rh)  // NaN survives
                    oc[i] = cNext - (x.dcdc * c + x.dcdh * h)
                    oh[i] = hNext - (x.dhdc * c + x.dhdh * h)
                    j0[i] = x.dcdc
                    j1[i] = x.dcdh
                    j2[i] = x.dhdc
                    j3[i] = x.dhdh
                }
                let total = arguments.fusedResidual!
                total.pointee = combineResiduals(total.pointee, maximumResidual(residuals, count: n))
            } else if !withJacobian {
                gates(tau: oh)
                for i in 0..<n { oh[i] = uo[i] * oh[i] }
            } else {
                // τ in the last plane the request writes (∂h'/∂h: j3 structured, j1 diagonal).
                let taus = structured ? j3 : j1
                gates(tau: taus)
                for i in 0..<n {
                    let tau = taus[i]
                    let x = jacobian(i, tau: tau)
                    oh[i] = uo[i] * tau
                    j0[i] = x.dcdc
                    if structured {
                        j1[i] = x.dcdh
                        j2[i] = x.dhdc
                    }
                    taus[i] = x.dhdh
                }
            }
        }
    }

    /// One channel's step and Jacobian block (see the type's documentation).
    @inline(__always)
    static func element(
        _ c: Scalar, _ h: Scalar, _ uf: Scalar, _ uo: Scalar, _ uc: Scalar, _ af: Scalar,
        _ ao: Scalar, _ ac: Scalar, _ cf: Scalar, _ co: Scalar
    ) -> (c: Scalar, h: Scalar, dcdc: Scalar, dcdh: Scalar, dhdc: Scalar, dhdh: Scalar) {
        let f = Scalar.sigmoid(af * h + uf + cf * c)
        let candidate = Scalar.tanh(ac * h + uc)
        let cNext = f * c + (1 - f) * candidate
        let o = Scalar.sigmoid(ao * h + uo + co * cNext)
        let tau = Scalar.tanh(cNext)
        let x = derivatives(c: c, f: f, candidate: candidate, o: o, tau: tau, af: af, ao: ao, ac: ac, cf: cf, co: co)
        return (cNext, o * tau, x.dcdc, x.dcdh, x.dhdc, x.dhdh)
    }

    /// The Jacobian block from the gate values (see the type's documentation).
    @inline(__always)
    static func derivatives(
        c: Scalar, f: Scalar, candidate: Scalar, o: Scalar, tau: Scalar, af: Scalar, ao: Scalar,
        ac: Scalar, cf: Scalar, co: Scalar
    ) -> (dcdc: Scalar, dcdh: Scalar, dhdc: Scalar, dhdh: Scalar) {
        let fTilde = f * (1 - f)
        let oTilde = o * (1 - o)
        let gap = c - candidate
        let dcdc: Scalar = f + gap * fTilde * cf
        let dcdh: Scalar = gap * fTilde * af + (1 - f) * (1 - candidate * candidate) * ac
        let g: Scalar = oTilde * co * tau + o * (1 - tau * tau)
        let dhdh: Scalar = oTilde * ao * tau + g * dcdh
        return (dcdc, dcdh, g * dcdc, dhdh)
    }
}
