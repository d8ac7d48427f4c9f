import ParallelScan

extension ParaGRU: DifferentiableCell {
    public var recurrentParameterLayout: [(name: String, count: Int)] { [("A", 3 * hiddenSize)] }

    /// ParaGRU's VJP. With g_a = λ z (1 − c²), g_z = λ (c − h) z(1 − z), g_r = g_a A_h h r(1 − r):
    /// ∂L/∂u = (g_z, g_r, g_a); ∂L/∂A_z += g_z h, ∂L/∂A_r += g_r h, ∂L/∂A_h += g_a h r.
    ///
    /// Per step and sequence, the hidden units in SIMD8 octets then quads, the parameter
    /// gradients summed in vector accumulators (in step, then sequence order) and added once at
    /// the end.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vectorJacobianProducts(_ arguments: VJPArguments<Scalar>) {
        let d = hiddenSize
        let batch = arguments.batch
        let lanes = batch * d
        let sums = UnsafeMutablePointer<Scalar>.allocate(capacity: 3 * d)
        sums.initialize(repeating: 0, count: 3 * d)
        defer { sums.deallocate() }
        recurrentGains.withUnsafeBufferPointer { gains in
            let gains = gains.baseAddress!
            for t in arguments.steps {
                let (prev, u, du, lambda) = arguments.rows(at: t, stateRow: lanes, projectionRow: 3 * lanes)
                for b in 0..<batch {
                    let l = b * d
                    forEachLaneGroup(
                        d,
                        octet: { j in
                            Self.vjpLanes(
                                SIMD8<Scalar>.self, 8, gains: gains + j, hidden: d, h: prev + l + j, u: u + l + j,
                                lanes: lanes, lambda: lambda + l + j, du: du + l + j, sums: sums + j)
                        },
                        quad: { j, k in
                            Self.vjpLanes(
                                SIMD4<Scalar>.self, k, gains: gains + j, hidden: d, h: prev + l + j, u: u + l + j,
                                lanes: lanes, lambda: lambda + l + j, du: du + l + j, sums: sums + j)
                        })
                }
            }
        }
        for i in 0..<(3 * d) { arguments.parameterGradients[i] += sums[i] }
    }

    /// The VJP of `k` hidden units of one sequence at one step. `gains` holds A_z, A_r, A_h
    /// (`hidden` apart), `u`/`du` the three projections (`lanes` apart), `sums` the three
    /// parameter-gradient sums (`hidden` apart); every pointer at the first unit.
    @inline(__always)
    static func vjpLanes<V: SIMD>(
        _: V.Type, _ k: Int, gains: UnsafePointer<Scalar>, hidden d: Int, h hp: UnsafePointer<Scalar>,
        u: UnsafePointer<Scalar>, lanes: Int, lambda lp: UnsafePointer<Scalar>, du: UnsafeMutablePointer<Scalar>,
        sums: UnsafeMutablePointer<Scalar>
    ) where V.Scalar == Scalar {
        let az: V = loadLanes(gains, k, as: V.self)
        let ar: V = loadLanes(gains + d, k, as: V.self)
        let ah: V = loadLanes(gains + 2 * d, k, as: V.self)
        let h: V = loadLanes(hp, k, as: V.self)
        let lambda: V = loadLanes(lp, k, as: V.self)
        let z: V = Scalar.sigmoid(az * h + loadLanes(u, k, as: V.self))
        let r: V = Scalar.sigmoid(ar * h + loadLanes(u + lanes, k, as: V.self))
        let c: V = Scalar.tanh(ah * (h * r) + loadLanes(u + 2 * lanes, k, as: V.self))
        let one = V(repeating: 1)
        let ga: V = lambda * z * (one - c * c)
        let gz: V = lambda * (c - h) * z * (one - z)
        let gr: V = ga * ah * h * r * (one - r)
        storeLanes(gz, du, k)
        storeLanes(gr, du + lanes, k)
        storeLanes(ga, du + 2 * lanes, k)
        let sz: V = loadLanes(UnsafePointer(sums), k, as: V.self) + gz * h
        let sr: V = loadLanes(UnsafePointer(sums + d), k, as: V.self) + gr * h
        let sh: V = loadLanes(UnsafePointer(sums + 2 * d), k, as: V.self) + ga * h * r
        storeLanes(sz, sums, k)
        storeLanes(sr, sums + d, k)
        storeLanes(sh, sums + 2 * d, k)
    }
}
