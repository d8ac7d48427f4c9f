import ParallelScan

/// ParaRNN's GRU with diagonal recurrent weights: every channel is its own scalar recurrence,
/// so the Jacobian is diagonal and a Newton step is a diagonal affine scan.
///
/// With u^z, u^r, u^h the input projections (u = W x_t + b, rows z, r, h) and A_z, A_r, A_h the
/// diagonal recurrent gains:
///
///     z  = σ(A_z ⊙ h + u^z)
///     r  = σ(A_r ⊙ h + u^r)
///     ĥ  = tanh(A_h ⊙ (h ⊙ r) + u^h)
///     h' = z ⊙ ĥ + (1 − z) ⊙ h            (z weights the new candidate)
///
///     ∂h'/∂h = (1 − z) + (ĥ − h)·z(1 − z)·A_z + z·(1 − ĥ²)·A_h·(r + h·r(1 − r)·A_r)
///
/// State row `[B][d]`; projection row `[3][B][d]`.
public struct ParaGRU<Scalar: CellMath>: KernelCell, DiagonalGainCell {
    /// Diagonal recurrent gains A `[3][d]`, rows (z, r, h); W `[3d][m]`, b `[3d]` (rows z, r, h).
    public let gains: DiagonalGains<Scalar>

    public var stateSize: Int { hiddenSize }
    public var gateCount: Int { 3 }
    public var structure: JacobianStructure { .diagonal }
    public var fusesNewtonOffsets: Bool { true }
    public var evaluatesFromZeroState: Bool { true }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func linearize(_ arguments: LinearizeArguments<Scalar>) { kernel(arguments) }

    /// A ParaGRU with these tensors; the dense and head-block initialisers
    /// (``DiagonalGainCell``) validate them first.
    public init(gains: DiagonalGains<Scalar>) { self.gains = gains }

    public func step<T: CellNumber>(state h: [T], projection u: [T]) -> [T] where T.Base == Scalar {
        let d = hiddenSize
        return (0..<d).map { j in
            let az = T(recurrentGains[j])
            let ar = T(recurrentGains[d + j])
            let ah = T(recurrentGains[2 * d + j])
            let z = T.sigmoid(az * h[j] + u[j])
            let r = T.sigmoid(ar * h[j] + u[d + j])
            let candidate = T.tanh(ah * (h[j] * r) + u[2 * d + j])
            return z * candidate + (T(1) - z) * h[j]
        }
    }

    /// The vectorised kernel, reached through ``CellMath`` so it runs specialised per precision.
    func kernel(_ arguments: LinearizeArguments<Scalar>) {
        let (steps, batch, previous, states) = (arguments.steps, arguments.batch, arguments.previous, arguments.states)
        // The Jacobian is diagonal, so `.structured` and `.diagonalOnly` requests are the same.
        let (projections, values, jacobians) = (arguments.projections, arguments.values, arguments.jacobians)
        let d = hiddenSize
        let lanes = batch * d
        if arguments.inPlace {
            // The rollout: one step after another, each step's lanes in SIMD4 vectors (the
            // chain through the steps is the cost, so a step must be short), gains tiled over
            // the lanes; lanes beyond a multiple of 4 run scalar.
            let tiles = UnsafeMutablePointer<Scalar>.allocate(capacity: 3 * lanes)
            defer { tiles.deallocate() }
            recurrentGains.withUnsafeBufferPointer { gains in
                for v in 0..<3 {
                    repeatPattern(gains.baseAddress! + v * d, count: d, into: tiles + v * lanes, total: lanes)
                }
            }
            let az = UnsafePointer(tiles)
            let ar = az + lanes
            let ah = az + 2 * lanes
            // Wide rows: short loops over the lanes (vectorised by the compiler, each with a
            // short dependency chain), through scratch for the gates; narrow rows in SIMD4.
            let wide = lanes >= 32
            let gates = UnsafeMutablePointer<Scalar>.allocate(capacity: wide ? 2 * lanes : 0)
            defer { gates.deallocate() }
            let zs = gates
            let rs = gates + lanes
            let vectorLanes = wide ? 0 : lanes / 4 * 4
            for t in steps {
                let prev = t == steps.lowerBound ? previous : states + (t - 1) * lanes
                let uz = projections + t * 3 * lanes
                let ur = uz + lanes
                let uh = uz + 2 * lanes
                let out = values + t * lanes
                if wide {
                    for l in 0..<lanes {
                        zs[l] = Scalar.sigmoid(az[l] * prev[l] + uz[l])
                        rs[l] = Scalar.sigmoid(ar[l] * prev[l] + ur[l])
                    }
                    for l in 0..<lanes { rs[l] = Scalar.tanh(ah[l] * (prev[l] * rs[l]) + uh[l]) }
                    for l in 0..<lanes {
                        let h = prev[l]
                        let z = zs[l]
                        out[l] = z * rs[l] + (1 - z) * h
                    }
                    continue
                }
                var l = 0
                while l < vectorLanes {
                    let h = loadVector(prev + l)
                    let z = Scalar.sigmoid(loadVector(az + l) * h + loadVector(uz + l))
                    let r = Scalar.sigmoid(loadVector(ar + l) * h + loadVector(ur + l))
                    let c = Scalar.tanh(loadVector(ah + l) * (h * r) + loadVector(uh + l))
                    storeVector(z * c + (1 - z) * h, out + l)
                    l += 4
                }
                while l < lanes {
                    let h = prev[l]
                    let z = Scalar.sigmoid(az[l] * h + uz[l])
                    let r = Scalar.sigmoid(ar[l] * h + ur[l])
                    let c = Scalar.tanh(ah[l] * (h * r) + uh[l])
                    out[l] = z * c + (1 - z) * h
                    l += 1
                }
            }
            return
        }
        // Linearisation: vectorise across time over blocks of rows. States, values and
        // Jacobians are `[T][lanes]`, contiguous across rows, so only the gate planes of the
        // projections (`[T][3][lanes]`) are gathered; the range's first row reads `previous`.
        let rowsPerBlock = max(1, 512 / lanes)
        let e = rowsPerBlock * lanes
        // Planes of e values: the gains a^z, a^r, a^h tiled, the gathered projections, residuals.
        let scratch = ScratchBuffers<Scalar>(counts: [Int](repeating: e, count: 7))
        defer { scratch.deallocate() }
        let (az, ar, ah, uz, ur, uh, residuals) = (
            scratch[0], scratch[1], scratch[2], scratch[3], scratch[4], scratch[5], scratch[6]
        )
        recurrentGains.withUnsafeBufferPointer { gains in
            for v in 0..<3 {
                repeatPattern(gains.baseAddress! + v * d, count: d, into: scratch[v], total: e)
            }
        }
        var t = steps.lowerBound
        while t < steps.upperBound {
            let rows = t == steps.lowerBound ? 1 : min(rowsPerBlock, steps.upperBound - t)
            let hp = t == steps.lowerBound ? previous : states + (t - 1) * lanes
            let u = projections + t * 3 * lanes
            for (v, plane) in [uz, ur, uh].enumerated() {
                copyRows(into: plane, stride: lanes, from: u + v * lanes, stride: 3 * lanes, rows: rows, lanes: lanes)
            }
            let n = rows * lanes
            let o = values + t * lanes
            if arguments.previousStatesAreZero {
                // f(0, u) = σ(u^z)·tanh(u^h): r does not matter when h = 0.
                for i in 0..<n { o[i] = Scalar.sigmoid(uz[i]) * Scalar.tanh(uh[i]) }
                t += rows
                continue
            }
            // Short branch-free loops instead of one long one per element: each vectorises, and
            // with a short dependency chain the core overlaps many elements (one long body,
            // exp → divide → exp → divide, leaves it waiting on latency). The gates overwrite
            // their projections in the scratch: z → uz, r → ur, ĥ → uh.
            func gates() {
                for i in 0..<n {
                    let h = hp[i]
                    uz[i] = Scalar.sigmoid(az[i] * h + uz[i])
                    ur[i] = Scalar.sigmoid(ar[i] * h + ur[i])
                }
                for i in 0..<n { uh[i] = Scalar.tanh(ah[i] * (hp[i] * ur[i]) + uh[i]) }
            }
            /// ∂h'/∂h from the gates.
            @inline(__always)
            func jacobian(_ i: Int) -> Scalar {
                let h = hp[i]
                let z = uz[i]
                let r = ur[i]
                let c = uh[i]
                let dz: Scalar = (c - h) * (z * (1 - z)) * az[i]
                let dr: Scalar = r + h * (r * (1 - r)) * ar[i]
                let dc: Scalar = z * (1 - c * c) * ah[i] * dr
                return (1 - z) + dz + dc
            }
            if let jacobians, let fused = arguments.fusedResidual {
                // Newton's offsets b = f − J·s_{t−1} and the residual of the current states.
                let jo = jacobians + t * lanes
                let hs = states + t * lanes
                gates()
                for i in 0..<n {
                    let h = hp[i]
                    let z = uz[i]
                    let c = uh[i]
                    let f = z * c + (1 - z) * h
                    let j = jacobian(i)
                    residuals[i] = abs(hs[i] - f) / max(1, abs(f))
                    jo[i] = j
                    o[i] = f - j * h
                }
                fused.pointee = combineResiduals(fused.pointee, maximumResidual(residuals, count: n))
            } else if let jacobians {
                let jo = jacobians + t * lanes
                gates()
                for i in 0..<n {
                    let h = hp[i]
                    let z = uz[i]
                    o[i] = z * uh[i] + (1 - z) * h
                    jo[i] = jacobian(i)
                }
            } else {
                gates()
                for i in 0..<n {
                    let z = uz[i]
                    o[i] = z * uh[i] + (1 - z) * hp[i]
                }
            }
            t += rows
        }
    }
}
