// The gate math of one step of the fused GRU and LSTM rollouts in two passes over the hidden
// units instead of one.
//
// Written unit by unit, a step's gate math is a chain per SIMD octet: the GRU's
// r = σ(u_r + g_r) feeds n = tanh(u_n + r·g_n), which feeds h' — two exponentials and two
// divisions in a row, about 130 cycles — and the out-of-order window holds only two or three
// octets' chains at once, so a d = 64 step spent ≈ 0.17 µs in gates that are ≈ 0.05 µs of
// arithmetic. In two passes the first holds only independent work (every unit's σ or tanh of
// u + g, written back over g in the step's scratch row) and the second only the short tails
// (GRU: n and h'; LSTM: c' and h'). Each lane's operations are exactly those of the one-pass
// functions (``GRU/gates(_:_:u:uStride:g:gStride:h:out:)``,
// ``LSTM/gates(_:_:u:uStride:g:gStride:c:h:cOut:hOut:)``), so the states are bitwise the same.
//
// Below ``stagedGateMinimumUnits`` units (one octet, or a quad: nothing to overlap) the functions
// run the one-pass gates: on the 16-core Xeon the two passes read 0.74–0.80× at d = 4, B = 16.
//
// For example, one GRU step of `d` units, `g` the step's `[3][d]` recurrent pre-activations:
//
// GRU<Float>.stagedGates(d, u: u, uStride: lanes, g: g, h: h, out: out)

/// The fewest hidden units for which the fused rollout runs its gates in two passes: two octets.
let stagedGateMinimumUnits = 16

/// g ← σ(u + g) over `count` lanes (octets, then quads).
@inline(__always)
private func sigmoidOfSum<Scalar: CellMath>(_ count: Int, u: UnsafePointer<Scalar>, g: UnsafeMutablePointer<Scalar>) {
    forEachLaneGroup(
        count,
        octet: { i in
            let x = loadLanes(u + i, 8, as: SIMD8<Scalar>.self) + loadLanes(g + i, 8, as: SIMD8<Scalar>.self)
            storeLanes(Scalar.sigmoid(x), g + i, 8)
        },
        quad: { i, k in
            let x = loadLanes(u + i, k, as: SIMD4<Scalar>.self) + loadLanes(g + i, k, as: SIMD4<Scalar>.self)
            storeLanes(Scalar.sigmoid(x), g + i, k)
        })
}

/// g ← tanh(u + g) over `count` lanes (octets, then quads).
@inline(__always)
private func tanhOfSum<Scalar: CellMath>(_ count: Int, u: UnsafePointer<Scalar>, g: UnsafeMutablePointer<Scalar>) {
    forEachLaneGroup(
        count,
        octet: { i in
            let x = loadLanes(u + i, 8, as: SIMD8<Scalar>.self) + loadLanes(g + i, 8, as: SIMD8<Scalar>.self)
            storeLanes(Scalar.tanh(x), g + i, 8)
        },
        quad: { i, k in
            let x = loadLanes(u + i, k, as: SIMD4<Scalar>.self) + loadLanes(g + i, k, as: SIMD4<Scalar>.self)
            storeLanes(Scalar.tanh(x), g + i, k)
        })
}

extension GRU {
    /// One step's gate math for `d` hidden units in two passes (see the file's comment):
    /// r = σ(u_r + g_r) and z = σ(u_z + g_z) for every unit, written over g_r and g_z; then
    /// n = tanh(u_n + r·g_n) and h' = z·(h − n) + n. `u` holds the gates `uStride` apart, `g`
    /// (the step's scratch row, overwritten) `d` apart.
    @inline(__always)
    static func stagedGates(
        _ d: Int, u: UnsafePointer<Scalar>, uStride: Int, g: UnsafeMutablePointer<Scalar>, h: UnsafePointer<Scalar>,
        out: UnsafeMutablePointer<Scalar>
    ) {
        if d < stagedGateMinimumUnits {
            let g = UnsafePointer(g)
            forEachLaneGroup(
                d,
                octet: { i in
                    gates(
                        SIMD8<Scalar>.self, 8, u: u + i, uStride: uStride, g: g + i, gStride: d, h: h + i, out: out + i)
                },
                quad: { i, k in
                    gates(
                        SIMD4<Scalar>.self, k, u: u + i, uStride: uStride, g: g + i, gStride: d, h: h + i, out: out + i)
                })
            return
        }
        sigmoidOfSum(d, u: u, g: g)
        sigmoidOfSum(d, u: u + uStride, g: g + d)
        candidates(d, u: u + 2 * uStride, g: UnsafePointer(g), h: h, out: out)
    }

    /// The second pass over `d` units (``candidateGate(_:_:u:g:gStride:h:out:)`` in octets, then
    /// quads): r, z and g_n at g, g + d, g + 2d, `u` the candidate's projections u_n.
    @inline(__always)
    static func candidates(
        _ d: Int, u: UnsafePointer<Scalar>, g: UnsafePointer<Scalar>, h: UnsafePointer<Scalar>,
        out: UnsafeMutablePointer<Scalar>
    ) {
        forEachLaneGroup(
            d,
            octet: { i in
                Self.candidateGate(SIMD8<Scalar>.self, 8, u: u + i, g: g + i, gStride: d, h: h + i, out: out + i)
            },
            quad: { i, k in
                Self.candidateGate(SIMD4<Scalar>.self, k, u: u + i, g: g + i, gStride: d, h: h + i, out: out + i)
            })
    }

    /// The second pass for `k` lanes: n = tanh(u_n + r·g_n), h' = z·(h − n) + n, with r, z and
    /// g_n at g, g + gStride, g + 2·gStride.
    @inline(__always)
    static func candidateGate<V: SIMD>(
        _: V.Type, _ k: Int, u: UnsafePointer<Scalar>, g: UnsafePointer<Scalar>, gStride: Int, h: UnsafePointer<Scalar>,
        out: UnsafeMutablePointer<Scalar>
    ) where V.Scalar == Scalar {
        let r: V = loadLanes(g, k, as: V.self)
        let z: V = loadLanes(g + gStride, k, as: V.self)
        let n: V = Scalar.tanh(
            gateMultiplyAdd(r, loadLanes(g + 2 * gStride, k, as: V.self), loadLanes(u, k, as: V.self)))
        let previous: V = loadLanes(h, k, as: V.self)
        storeLanes(gateMultiplyAdd(z, previous - n, n), out, k)
    }
}

extension LSTM {
    /// One step's gate math for `d` hidden units in two passes (see the file's comment):
    /// i, f, o = σ(u + g) and g = tanh(u_g + g_g) for every unit, written over the scratch row
    /// `g` (gates `d` apart); then c' = f·c + i·g and h' = o·tanh(c'). `u` holds the gates
    /// `uStride` apart.
    @inline(__always)
    static func stagedGates(
        _ d: Int, u: UnsafePointer<Scalar>, uStride: Int, g: UnsafeMutablePointer<Scalar>, c: UnsafePointer<Scalar>,
        h: UnsafePointer<Scalar>, cOut: UnsafeMutablePointer<Scalar>, hOut: UnsafeMutablePointer<Scalar>
    ) {
        if d < stagedGateMinimumUnits {
            let g = UnsafePointer(g)
            forEachLaneGroup(
                d,
                octet: { j in
                    gates(
                        SIMD8<Scalar>.self, 8, u: u + j, uStride: uStride, g: g + j, gStride: d, c: c + j, h: h + j,
                        cOut: cOut + j, hOut: hOut + j)
                },
                quad: { j, k in
                    gates(
                        SIMD4<Scalar>.self, k, u: u + j, uStride: uStride, g: g + j, gStride: d, c: c + j, h: h + j,
                        cOut: cOut + j, hOut: hOut + j)
                })
            return
        }
        sigmoidOfSum(d, u: u, g: g)
        sigmoidOfSum(d, u: u + uStride, g: g + d)
        tanhOfSum(d, u: u + 2 * uStride, g: g + 2 * d)
        sigmoidOfSum(d, u: u + 3 * uStride, g: g + 3 * d)
        cellUpdates(d, gates: UnsafePointer(g), c: c, cOut: cOut, hOut: hOut)
    }

    /// The second pass over `d` units (``cellUpdate(_:_:gates:gStride:c:cOut:hOut:)`` in
    /// octets, then quads): the activations i, f, g, o at `gates` + 0, d, 2d, 3d.
    @inline(__always)
    static func cellUpdates(
        _ d: Int, gates: UnsafePointer<Scalar>, c: UnsafePointer<Scalar>, cOut: UnsafeMutablePointer<Scalar>,
        hOut: UnsafeMutablePointer<Scalar>
    ) {
        forEachLaneGroup(
            d,
            octet: { j in
                Self.cellUpdate(
                    SIMD8<Scalar>.self, 8, gates: gates + j, gStride: d, c: c + j, cOut: cOut + j, hOut: hOut + j)
            },
            quad: { j, k in
                Self.cellUpdate(
                    SIMD4<Scalar>.self, k, gates: gates + j, gStride: d, c: c + j, cOut: cOut + j, hOut: hOut + j)
            })
    }

    /// The second pass for `k` lanes: c' = f·c + i·g and h' = o·tanh(c'), with the
    /// activations i, f, g, o at `gates` + 0, 1, 2, 3 × gStride.
    @inline(__always)
    static func cellUpdate<V: SIMD>(
        _: V.Type, _ k: Int, gates: UnsafePointer<Scalar>, gStride: Int, c: UnsafePointer<Scalar>,
        cOut: UnsafeMutablePointer<Scalar>, hOut: UnsafeMutablePointer<Scalar>
    ) where V.Scalar == Scalar {
        let ig: V = loadLanes(gates, k, as: V.self)
        let fg: V = loadLanes(gates + gStride, k, as: V.self)
        let gg: V = loadLanes(gates + 2 * gStride, k, as: V.self)
        let og: V = loadLanes(gates + 3 * gStride, k, as: V.self)
        let cNew: V = gateMultiplyAdd(fg, loadLanes(c, k, as: V.self), ig * gg)
        storeLanes(cNew, cOut, k)
        storeLanes(og * Scalar.tanh(cNew), hOut, k)
    }
}
