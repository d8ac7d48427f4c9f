import ParallelScan

// One step of a single sequence's fused GRU / LSTM rollout with the first pass of the two-pass
// gates (`StagedGates.swift`) folded into the recurrent product.
//
// With d a multiple of 64 (Float), every 64-wide band of the packed product g = W_hh h + b_hh
// is a whole slice of one gate. The step walks the bands as ``DenseRecurrentPack/product(h:hidden:weights:stride:bias:into:descending:)``
// does (alternating direction), and while it multiplies band j it applies the previous band's
// elementwise activation, g ← σ(u + g) or tanh(u + g), one SIMD8 octet per d/8 values of k:
//
//     band j:  a_c ← a_c + h[k] · panel_j[k][c]      (8 accumulators, 4-cycle FMA chains)
//              every d/8 k: g[band j−1, octet] ← act(u + g[band j−1, octet])
//
// The product is bound by FMA latency and by the part of W_hh that L1 cannot keep (48 KiB for
// a d = 64 GRU against 32 KiB of L1), so its FMA ports idle part of the time; the activations'
// exp polynomial and division run in those gaps instead of after the product. The last band's
// activation, if any, follows the product, then the cell's second pass (GRU: n and h', LSTM: c'
// and h'). Each lane's operations are those of the two-pass gates in the same order, so states
// and the recorded tape are bitwise the same; only the instruction schedule changes.
//
// The GRU's candidate band has no elementwise first pass, so on the descending steps (n, z, r)
// σ(r) still follows the product; the LSTM's four gates all overlap but the last one walked.
//
// In a C model of the d = 64 GRU step on the 2-core EPYC VM (min of 40 runs of 2·10⁴ steps,
// alternating): 0.47 µs per step against 0.51 µs for product then gates. In `pararnn solve`
// (B = 1, one thread, CPU time per step, min of 10 alternating runs against the two-pass
// gates after the product): GRU d = 64 0.76 → 0.61 µs, LSTM d = 64 1.15 → 1.01 µs.

/// The elementwise activation a gate's pre-activations u + g take in the first pass of the
/// two-pass gates.
enum GateActivation {
    case sigmoid
    case tanh
    /// Nothing elementwise (the GRU's candidate, whose tanh needs r first).
    case none
}

extension DenseRecurrentPack {
    /// Whether ``pipelinedStep(h:weights:bias:into:descending:u:uStride:activation:)`` applies:
    /// Float, and every 64-wide band a whole slice of one gate (d a multiple of 64).
    var pipelinesGates: Bool {
        MemoryLayout<Scalar>.size == 4 && hidden % 64 == 0 && stride == outputs
    }

    /// g = W_hh h + b_hh for one sequence with the first-pass activations of the two-pass gates
    /// applied over g (gate v's lanes, v = o / d, take `activation(v)` of u_v + g_v, with u_v at
    /// `u + v·uStride`), interleaved with the bands' products as the file's comment describes.
    /// Requires ``pipelinesGates``.
    @inline(__always)
    func pipelinedStep(
        h: UnsafePointer<Scalar>, weights w: UnsafePointer<Scalar>, bias: UnsafePointer<Scalar>,
        into g: UnsafeMutablePointer<Scalar>, descending: Bool, u: UnsafePointer<Scalar>, uStride: Int,
        activation: (Int) -> GateActivation
    ) {
        let d = hidden
        let bands = stride / 64
        /// The first pass over octet `i` of a band whose gate takes `kind`, its u and g at
        /// `uBand` and `gBand`.
        @inline(__always) func activate(
            _ kind: GateActivation, _ uBand: UnsafePointer<Scalar>, _ gBand: UnsafeMutablePointer<Scalar>, _ i: Int
        ) {
            let gi = gBand + 8 * i
            let x = loadLanes(uBand + 8 * i, 8, as: SIMD8<Scalar>.self) + loadLanes(gi, 8, as: SIMD8<Scalar>.self)
            switch kind {
            case .sigmoid: storeLanes(Scalar.sigmoid(x), gi, 8)
            case .tanh: storeLanes(Scalar.tanh(x), gi, 8)
            case .none: break
            }
        }
        // The band whose activation is pending: its kind and where its u and g start.
        var kind = GateActivation.none
        var uBand = u
        var gBand = g
        for j in 0..<bands {
            let o = 64 * (descending ? bands - 1 - j : j)
            let (pendingKind, pendingU, pendingG) = (kind, uBand, gBand)
            if pendingKind == .none {
                Self.band64(h: h, hidden: d, panel: w + o * d, bias: bias + o, into: g + o) { _ in }
            } else {
                Self.band64(h: h, hidden: d, panel: w + o * d, bias: bias + o, into: g + o) { i in
                    activate(pendingKind, pendingU, pendingG, i)
                }
            }
            (kind, uBand, gBand) = (activation(o / d), u + (o / d) * uStride + o % d, g + o)
        }
        if kind != .none {
            for i in 0..<8 { activate(kind, uBand, gBand, i) }
        }
    }

    /// One 64-wide band of the product, g[0..<64] = bias + Σ_k h[k] · panel[k][0..<64] (one chain
    /// in k per output, as every tile of ``product(h:hidden:weights:stride:bias:into:descending:)``,
    /// whose 64-wide bands are this with no side work), calling `side(i)` for i = 0…7 after each
    /// eighth of the k range.
    @inline(__always)
    static func band64(
        h: UnsafePointer<Scalar>, hidden d: Int, panel: UnsafePointer<Scalar>, bias: UnsafePointer<Scalar>,
        into g: UnsafeMutablePointer<Scalar>, side: (Int) -> Void
    ) {
        typealias V = SIMD8<Scalar>
        @inline(__always) func load(_ p: UnsafePointer<Scalar>) -> V {
            UnsafeRawPointer(p).loadUnaligned(as: V.self)
        }
        @inline(__always) func store(_ v: V, _ p: UnsafeMutablePointer<Scalar>) {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
        }
        var a0 = load(bias)
        var a1 = load(bias + 8)
        var a2 = load(bias + 16)
        var a3 = load(bias + 24)
        var a4 = load(bias + 32)
        var a5 = load(bias + 40)
        var a6 = load(bias + 48)
        var a7 = load(bias + 56)
        var row = panel
        var k = 0
        for i in 0..<8 {
            let end = (i + 1) * d / 8
            while k < end {
                let x = V(repeating: h[k])
                a0 = multiplyAdd(x, load(row), a0)
                a1 = multiplyAdd(x, load(row + 8), a1)
                a2 = multiplyAdd(x, load(row + 16), a2)
                a3 = multiplyAdd(x, load(row + 24), a3)
                a4 = multiplyAdd(x, load(row + 32), a4)
                a5 = multiplyAdd(x, load(row + 40), a5)
                a6 = multiplyAdd(x, load(row + 48), a6)
                a7 = multiplyAdd(x, load(row + 56), a7)
                row += 64
                k += 1
            }
            side(i)
        }
        store(a0, g)
        store(a1, g + 8)
        store(a2, g + 16)
        store(a3, g + 24)
        store(a4, g + 32)
        store(a5, g + 40)
        store(a6, g + 48)
        store(a7, g + 56)
    }
}
