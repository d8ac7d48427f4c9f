import ParallelScan

/// The fused sequential rollout of the dense cells (GRU, LSTM, Elman): per step and sequence,
/// the recurrent product g = W_hh h + b_hh and the gate math in one pass over cache-resident,
/// SIMD-packed weights — no per-step allocation, BLAS call or temporary row.
///
/// W_hh (`[G·d][d]`, PyTorch layout) is packed once per cell as its transpose, padded to
/// P = G·d rounded up to 8 columns and cut into column bands (64, then 32, then 8 columns in
/// Float; 32 and 8 in Double), each band stored as its own contiguous panel `[d][width]`:
///
///     g[band] = b_hh[band] + Σ_k h[k] · panel[k][0..<width]
///
/// is a run of broadcast-multiply-adds into a register tile of up to 8 SIMD8 accumulators
/// (64 outputs in Float), reading the panel front to back — a sequential stream the hardware
/// prefetcher follows even when W_hh lives in L2 (d = 256: 768 KiB for a GRU). For d = 64 GRU
/// that is 12 288 multiply-adds per step in 1 536 vector FMAs.
///
/// Sequences of a batch are independent, so a rollout may cover any subset of the batch
/// entries (`entries`), with every pointer addressing full-batch buffers: the solver splits a
/// batch across workers this way (``RecurrentCell/rollout(steps:batch:entries:previous:projections:states:)``).
///
/// ```swift
/// let pack = DenseRecurrentPack(weights: cell.recurrentWeights, bias: cell.recurrentBias,
///                               outputs: 3 * d, hidden: d)
/// pack.withPointers { w, bias in
///     DenseRecurrentPack<Float>.product(h: h, hidden: d, weights: w, stride: pack.stride,
///                                       bias: bias, into: g)
/// }
/// ```
struct DenseRecurrentPack<Scalar: CellMath>: Sendable {
    /// d: the length of h.
    let hidden: Int
    /// G·d: the number of recurrent pre-activations.
    let outputs: Int
    /// ``outputs`` rounded up to a multiple of 8: the padded output count.
    let stride: Int
    /// Wᵀ in column-band panels (see ``bands(stride:)``), zero padded: `stride · d` values,
    /// starting on a cache line so that no vector load of a panel straddles two lines.
    let transposed: LineAlignedScalars<Scalar>
    /// b_hh, `[stride]`, zero padded, line aligned.
    let bias: LineAlignedScalars<Scalar>

    init(weights: [Scalar], bias: [Scalar], outputs: Int, hidden: Int) {
        let stride = (outputs + 7) / 8 * 8
        (self.hidden, self.outputs, self.stride) = (hidden, outputs, stride)
        transposed = LineAlignedScalars(count: hidden * stride) { packed in
            packed.initialize(repeating: 0, count: hidden * stride)
            for (o, width) in Self.bands(stride: stride) {
                for k in 0..<hidden {
                    for c in 0..<width where o + c < outputs {
                        packed[o * hidden + k * width + c] = weights[(o + c) * hidden + k]
                    }
                }
            }
        }
        self.bias = LineAlignedScalars(count: stride) { padded in
            padded.initialize(repeating: 0, count: stride)
            for row in 0..<outputs { padded[row] = bias[row] }
        }
    }

    /// The column bands of a packed matrix with `stride` columns, in order: (first column,
    /// width). The band of first column o is stored at offset o·d, row k at o·d + k·width.
    /// Eight SIMD8 accumulators keep both FMA pipes busy (4-cycle latency) in Float; a Double
    /// SIMD8 is two registers already, so Double tiles by four.
    @inline(__always)
    static func bands(stride: Int) -> [(Int, Int)] {
        var result: [(Int, Int)] = []
        forEachBand(stride: stride) { result.append(($0, $1)) }
        return result
    }

    @inline(__always)
    static func forEachBand(stride: Int, descending: Bool = false, _ body: (Int, Int) -> Void) {
        let wide = MemoryLayout<Scalar>.size == 4 ? 8 : 4
        let vectors = stride / 8
        let bands8 = wide == 8 ? vectors / 8 : 0
        let bands4 = (vectors - 8 * bands8) / 4
        let end8 = 64 * bands8
        let end4 = end8 + 32 * bands4
        if descending {
            var o = stride - 8
            while o >= end4 {
                body(o, 8)
                o -= 8
            }
            o = end4 - 32
            while o >= end8 {
                body(o, 32)
                o -= 32
            }
            o = end8 - 64
            while o >= 0 {
                body(o, 64)
                o -= 64
            }
        } else {
            var o = 0
            while o < end8 {
                body(o, 64)
                o += 64
            }
            while o < end4 {
                body(o, 32)
                o += 32
            }
            while o < stride {
                body(o, 8)
                o += 8
            }
        }
    }

    /// Runs `body` with the packed weights and bias.
    @inline(__always)
    func withPointers<R>(_ body: (UnsafePointer<Scalar>, UnsafePointer<Scalar>) -> R) -> R {
        withExtendedLifetime((transposed, bias)) { body(transposed.base, bias.base) }
    }

    /// g[0..<stride] = bias + Σ_k h[k] · Wᵀ[k][0..<stride] (`w` packed as ``transposed``).
    ///
    /// `descending` walks the bands from the last to the first: a rollout alternates the
    /// direction every step, so the panels it read last are still in L1 when the next step
    /// starts (W_hh of a d = 64 GRU is 48 KiB, more than a 32 KiB L1 holds, and a cyclic walk
    /// would miss on every band). Each output's sum is the same in either order.
    @inline(__always)
    static func product(
        h: UnsafePointer<Scalar>, hidden d: Int, weights w: UnsafePointer<Scalar>, stride: Int,
        bias: UnsafePointer<Scalar>, into g: UnsafeMutablePointer<Scalar>, descending: Bool = false
    ) {
        typealias V = SIMD8<Scalar>
        @inline(__always) func load(_ p: UnsafePointer<Scalar>) -> V {
            UnsafeRawPointer(p).loadUnaligned(as: V.self)
        }
        @inline(__always) func store(_ v: V, _ p: UnsafeMutablePointer<Scalar>) {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
        }
        forEachBand(stride: stride, descending: descending) { o, width in
            var row = w + o * d
            switch width {
            case 64:
                band64(h: h, hidden: d, panel: row, bias: bias + o, into: g + o) { _ in }
            case 32:
                var a0 = load(bias + o)
                var a1 = load(bias + o + 8)
                var a2 = load(bias + o + 16)
                var a3 = load(bias + o + 24)
                for k in 0..<d {
                    let x = V(repeating: h[k])
                    a0 = multiplyAdd(x, load(row), a0)
                    a1 = multiplyAdd(x, load(row + 8), a1)
                    a2 = multiplyAdd(x, load(row + 16), a2)
                    a3 = multiplyAdd(x, load(row + 24), a3)
                    row += 32
                }
                store(a0, g + o)
                store(a1, g + o + 8)
                store(a2, g + o + 16)
                store(a3, g + o + 24)
            default:
                // One chain in k, like every other tile and ``product4``: a sequence's result
                // does not depend on how a batch is grouped.
                var a0 = load(bias + o)
                for k in 0..<d {
                    a0 = multiplyAdd(V(repeating: h[k]), load(row), a0)
                    row += 8
                }
                store(a0, g + o)
            }
        }
    }

    /// The product of four sequences at once, g_i = bias + Wᵀ h_i (i = 0…3, g_i at
    /// g + i·stride): each weight vector is loaded once for the four, in register tiles of
    /// 2 SIMD8 vectors × 4 sequences, so a batch is not bound by weight loads as four single
    /// products would be.
    @inline(__always)
    static func product4(
        h: (UnsafePointer<Scalar>, UnsafePointer<Scalar>, UnsafePointer<Scalar>, UnsafePointer<Scalar>),
        hidden d: Int, weights w: UnsafePointer<Scalar>, stride: Int, bias: UnsafePointer<Scalar>,
        into g: UnsafeMutablePointer<Scalar>, descending: Bool = false
    ) {
        typealias V = SIMD8<Scalar>
        @inline(__always) func load(_ p: UnsafePointer<Scalar>) -> V {
            UnsafeRawPointer(p).loadUnaligned(as: V.self)
        }
        @inline(__always) func store(_ v: V, _ p: UnsafeMutablePointer<Scalar>) {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
        }
        let (h0, h1, h2, h3) = h
        forEachBand(stride: stride, descending: descending) { o, width in
            var j = 0
            while j + 16 <= width {
                let c = o + j
                var a00 = load(bias + c)
                var a01 = load(bias + c + 8)
                var (a10, a11, a20, a21, a30, a31) = (a00, a01, a00, a01, a00, a01)
                var row = w + o * d + j
                for k in 0..<d {
                    let w0 = load(row)
                    let w1 = load(row + 8)
                    let x0 = V(repeating: h0[k])
                    let x1 = V(repeating: h1[k])
                    a00 = multiplyAdd(x0, w0, a00)
                    a01 = multiplyAdd(x0, w1, a01)
                    a10 = multiplyAdd(x1, w0, a10)
                    a11 = multiplyAdd(x1, w1, a11)
                    let x2 = V(repeating: h2[k])
                    let x3 = V(repeating: h3[k])
                    a20 = multiplyAdd(x2, w0, a20)
                    a21 = multiplyAdd(x2, w1, a21)
                    a30 = multiplyAdd(x3, w0, a30)
                    a31 = multiplyAdd(x3, w1, a31)
                    row += width
                }
                store(a00, g + c)
                store(a01, g + c + 8)
                store(a10, g + stride + c)
                store(a11, g + stride + c + 8)
                store(a20, g + 2 * stride + c)
                store(a21, g + 2 * stride + c + 8)
                store(a30, g + 3 * stride + c)
                store(a31, g + 3 * stride + c + 8)
                j += 16
            }
            if j < width {
                let c = o + j
                var a0 = load(bias + c)
                var (a1, a2, a3) = (a0, a0, a0)
                var row = w + o * d + j
                for k in 0..<d {
                    let w0 = load(row)
                    a0 = multiplyAdd(V(repeating: h0[k]), w0, a0)
                    a1 = multiplyAdd(V(repeating: h1[k]), w0, a1)
                    a2 = multiplyAdd(V(repeating: h2[k]), w0, a2)
                    a3 = multiplyAdd(V(repeating: h3[k]), w0, a3)
                    row += width
                }
                store(a0, g + c)
                store(a1, g + stride + c)
                store(a2, g + 2 * stride + c)
                store(a3, g + 3 * stride + c)
            }
        }
    }

    /// The products g_i = bias + Wᵀ h(i) for `count` ≤ 4 sequences (g_i at g + i·stride): one
    /// ``product4(h:hidden:weights:stride:bias:into:descending:)`` for four, single products
    /// otherwise.
    @inline(__always)
    static func products(
        count: Int, h: (Int) -> UnsafePointer<Scalar>, hidden d: Int, weights w: UnsafePointer<Scalar>,
        stride: Int, bias: UnsafePointer<Scalar>, into g: UnsafeMutablePointer<Scalar>, descending: Bool
    ) {
        if count == 4 {
            product4(
                h: (h(0), h(1), h(2), h(3)), hidden: d, weights: w, stride: stride, bias: bias, into: g,
                descending: descending)
        } else {
            for i in 0..<count {
                product(
                    h: h(i), hidden: d, weights: w, stride: stride, bias: bias, into: g + i * stride,
                    descending: descending)
            }
        }
    }

    /// Drives a fused rollout of `entries`: sequences in groups of four (the last group
    /// smaller), and per step the group's recurrent products g_b = W_hh h_b + b_hh
    /// (``product4(h:hidden:weights:stride:bias:into:descending:)`` for a full group), then
    /// `gates(t, b, g_b)` for each sequence of the group, which writes its state at step t.
    /// h_b is the last d values of each state entry of `stateSize` values. With a tape, g_b is
    /// computed in place there (`tape + (t·B + b)·stride`), so the tape holds it as the gates
    /// leave it.
    @inline(__always)
    func rollout(
        _ io: DenseRolloutBuffers<Scalar>, entries: Range<Int>, stateSize n: Int,
        gates: (Int, Int, UnsafeMutablePointer<Scalar>) -> Void
    ) {
        rollout(
            io, entries: entries, stateSize: n, pipelining: false, projections: { _, _ in io.projections },
            uStride: 0, activation: { _ in .none }, secondPass: { _, _, _ in }, gates: gates)
    }

    /// ``rollout(_:entries:stateSize:gates:)`` for a cell whose `gates` run in two passes: with
    /// `pipelining` and ``pipelinesGates``, a single sequence's step (a group of one) is
    /// ``pipelinedStep(h:weights:bias:into:descending:u:uStride:activation:)`` (the first pass,
    /// gate v's `activation(v)` of u + g with u_v at `projections(t, b) + v·uStride`, inside the
    /// product), then `secondPass(t, b, g_b)`; bitwise the same states as `gates`.
    @inline(__always)
    func rollout(
        _ io: DenseRolloutBuffers<Scalar>, entries: Range<Int>, stateSize n: Int, pipelining: Bool,
        projections: (Int, Int) -> UnsafePointer<Scalar>, uStride: Int, activation: (Int) -> GateActivation,
        secondPass: (Int, Int, UnsafeMutablePointer<Scalar>) -> Void,
        gates: (Int, Int, UnsafeMutablePointer<Scalar>) -> Void
    ) {
        let d = hidden
        let stride = self.stride
        let pipelined = pipelining && pipelinesGates
        let scratch = ScratchBuffers<Scalar>(counts: [4 * stride])
        defer { scratch.deallocate() }
        let work = scratch[0]
        withPointers { w, bias in
            var b = entries.lowerBound
            while b < entries.upperBound {
                let count = min(4, entries.upperBound - b)
                for t in io.steps {
                    // The tape keeps g as the gates leave it (the two-pass gates,
                    // ``GRU/stagedGates(_:u:uStride:g:h:out:)``, write their activations over
                    // it): with one, the group's rows of it are the step's scratch.
                    let g = io.tape.map { $0 + (t * io.batch + b) * stride } ?? work
                    if pipelined && count == 1 {
                        pipelinedStep(
                            h: io.previousEntry(t, b, stateSize: n) + (n - d), weights: w, bias: bias, into: g,
                            descending: t & 1 == 1, u: projections(t, b), uStride: uStride, activation: activation)
                        secondPass(t, b, g)
                    } else {
                        Self.products(
                            count: count, h: { io.previousEntry(t, b + $0, stateSize: n) + (n - d) }, hidden: d,
                            weights: w, stride: stride, bias: bias, into: g, descending: t & 1 == 1)
                        for i in 0..<count { gates(t, b + i, g + i * stride) }
                    }
                }
                b += count
            }
        }
    }
}

/// Runs `body(i, k)` over `0..<count` in quads: i = 0, 4, 8, … with k = 4 lanes, and one last
/// partial quad (k < 4) for the tail, so that each gate formula is written once, in SIMD4.
@inline(__always)
func forEachQuad(_ count: Int, _ body: (Int, Int) -> Void) {
    var i = 0
    while i + 4 <= count {
        body(i, 4)
        i += 4
    }
    if i < count { body(i, count - i) }
}

/// Runs the gate math over `0..<count` lanes: whole octets (`octet(i)`, SIMD8: one AVX register
/// of Float) while eight lanes remain, then quads and a last partial quad (`quad(i, k)`,
/// SIMD4, k ≤ 4). A cell writes its gate formula once as a generic function of the vector
/// type and passes it twice; every lane's arithmetic is the same in either width.
@inline(__always)
func forEachLaneGroup(_ count: Int, octet: (Int) -> Void, quad: (Int, Int) -> Void) {
    var i = 0
    while i + 8 <= count {
        octet(i)
        i += 8
    }
    while i < count {
        quad(i, min(4, count - i))
        i += 4
    }
}

/// `k` ≤ V.scalarCount scalars at `p` as a vector V (the rest zero): the vector load when k
/// fills it.
@inline(__always)
func loadLanes<V: SIMD>(_ p: UnsafePointer<V.Scalar>, _ k: Int, as _: V.Type) -> V where V.Scalar: ScanScalar {
    if k == V.scalarCount { return UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    var v = V(repeating: 0)
    for lane in 0..<k { v[lane] = p[lane] }
    return v
}

/// Stores the first `k` ≤ V.scalarCount lanes of `v` at `p`.
@inline(__always)
func storeLanes<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<V.Scalar>, _ k: Int) where V.Scalar: ScanScalar {
    if k == V.scalarCount {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
        return
    }
    for lane in 0..<k { p[lane] = v[lane] }
}

/// Where one dense-cell rollout reads and writes: full-batch buffers, one batch entry at a time.
struct DenseRolloutBuffers<Scalar> {
    let steps: Range<Int>
    let batch: Int
    let previous: UnsafePointer<Scalar>
    let projections: UnsafePointer<Scalar>
    let states: UnsafeMutablePointer<Scalar>
    /// Where the products g_{t,b} go, `[T][B][stride]` (``LinearizeArguments/recurrentTape``), or nil.
    var tape: UnsafeMutablePointer<Scalar>? = nil

    /// The state row entry of sequence `b` before step `t` (`previous` before the range).
    @inline(__always)
    func previousEntry(_ t: Int, _ b: Int, stateSize n: Int) -> UnsafePointer<Scalar> {
        t == steps.lowerBound
            ? previous + b * n : UnsafePointer(states + (t - 1) * batch * n + b * n)
    }
}

extension GRU {
    /// The fused rollout of batch entries `entries` (see `DenseRecurrentPack`):
    /// r, z, n and h' per step from one packed recurrent product, the gates in two passes
    /// (``stagedGates(_:u:uStride:g:h:out:)``). With d = 4, entries beyond
    /// whole groups of four run in registers (``fourUnitRollout(_:entry:)``, bitwise the same).
    func fusedRollout(_ io: DenseRolloutBuffers<Scalar>, entries: Range<Int>) {
        packedRecurrence.splitForFourUnits(entries, recording: io.tape != nil) {
            packedRollout(io, entries: $0)
        } single: {
            fourUnitRollout(io, entry: $0)
        }
    }

    private func packedRollout(_ io: DenseRolloutBuffers<Scalar>, entries: Range<Int>) {
        let d = hiddenSize
        let lanes = io.batch * d
        @inline(__always) func u(_ t: Int, _ b: Int) -> UnsafePointer<Scalar> { io.projections + t * 3 * lanes + b * d }
        packedRecurrence.rollout(
            io, entries: entries, stateSize: d, pipelining: true, projections: u, uStride: lanes,
            activation: { $0 < 2 ? .sigmoid : .none },
            secondPass: { t, b, g in
                Self.candidates(
                    d, u: u(t, b) + 2 * lanes, g: UnsafePointer(g), h: io.previousEntry(t, b, stateSize: d),
                    out: io.states + t * lanes + b * d)
            }
        ) { t, b, g in
            Self.stagedGates(
                d, u: u(t, b), uStride: lanes, g: g, h: io.previousEntry(t, b, stateSize: d),
                out: io.states + t * lanes + b * d)
        }
    }
}

extension LSTM {
    /// The fused rollout of batch entries `entries` (see `DenseRecurrentPack`): gates i, f,
    /// g, o, then c' and h' per step from one packed recurrent product, in two passes
    /// (``stagedGates(_:u:uStride:g:c:h:cOut:hOut:)``). With d = 4, entries
    /// beyond whole groups of four run in registers (``fourUnitRollout(_:entry:)``, bitwise the
    /// same).
    func fusedRollout(_ io: DenseRolloutBuffers<Scalar>, entries: Range<Int>) {
        packedRecurrence.splitForFourUnits(entries, recording: io.tape != nil) {
            packedRollout(io, entries: $0)
        } single: {
            fourUnitRollout(io, entry: $0)
        }
    }

    private func packedRollout(_ io: DenseRolloutBuffers<Scalar>, entries: Range<Int>) {
        let d = hiddenSize
        let n = 2 * d
        let lanes = io.batch * d
        let row = io.batch * n
        @inline(__always) func u(_ t: Int, _ b: Int) -> UnsafePointer<Scalar> { io.projections + t * 4 * lanes + b * d }
        packedRecurrence.rollout(
            io, entries: entries, stateSize: n, pipelining: true, projections: u, uStride: lanes,
            activation: { $0 == 2 ? .tanh : .sigmoid },
            secondPass: { t, b, g in
                let out = io.states + t * row + b * n
                Self.cellUpdates(
                    d, gates: UnsafePointer(g), c: io.previousEntry(t, b, stateSize: n), cOut: out, hOut: out + d)
            }
        ) { t, b, g in
            let s = io.previousEntry(t, b, stateSize: n)
            let out = io.states + t * row + b * n
            Self.stagedGates(d, u: u(t, b), uStride: lanes, g: g, c: s, h: s + d, cOut: out, hOut: out + d)
        }
    }
}

extension ElmanRNN {
    /// The fused rollout of batch entries `entries` (see `DenseRecurrentPack`):
    /// h' = φ(u + W_hh h + b_hh).
    func fusedRollout(_ io: DenseRolloutBuffers<Scalar>, entries: Range<Int>) {
        let d = hiddenSize
        let lanes = io.batch * d
        packedRecurrence.rollout(io, entries: entries, stateSize: d) { t, b, g in
            let u = io.projections + t * lanes + b * d
            let out = io.states + t * lanes + b * d
            let g = UnsafePointer(g)
            forEachLaneGroup(
                d,
                octet: { i in self.gates(SIMD8<Scalar>.self, 8, u: u + i, g: g + i, out: out + i) },
                quad: { i, k in self.gates(SIMD4<Scalar>.self, k, u: u + i, g: g + i, out: out + i) })
        }
    }
}

extension GRU {
    /// One step's gate math for `k` lanes of hidden units (V holds at least k):
    /// r = σ(u_r + g_r), z = σ(u_z + g_z), n = tanh(u_n + r·g_n), h' = z·(h − n) + n. Gates are
    /// `uStride` apart in `u` and `gStride` apart in `g`; every pointer is at the first lane.
    @inline(__always)
    static func gates<V: SIMD>(
        _: V.Type, _ k: Int, u: UnsafePointer<Scalar>, uStride: Int, g: UnsafePointer<Scalar>, gStride: Int,
        h: UnsafePointer<Scalar>, out: UnsafeMutablePointer<Scalar>
    ) where V.Scalar == Scalar {
        let r: V = Scalar.sigmoid(loadLanes(u, k, as: V.self) + loadLanes(g, k, as: V.self))
        let z: V = Scalar.sigmoid(loadLanes(u + uStride, k, as: V.self) + loadLanes(g + gStride, k, as: V.self))
        let gn: V = loadLanes(g + 2 * gStride, k, as: V.self)
        let n: V = Scalar.tanh(gateMultiplyAdd(r, gn, loadLanes(u + 2 * uStride, k, as: V.self)))
        let previous: V = loadLanes(h, k, as: V.self)
        storeLanes(gateMultiplyAdd(z, previous - n, n), out, k)
    }

    /// One step's gate math for `count` hidden units: ``gates(_:_:u:uStride:g:gStride:h:out:)``
    /// over SIMD8 octets, then quads: a split-step worker's units. (The fused rollout runs its
    /// gates in two passes instead, ``stagedGates(_:u:uStride:g:h:out:)``, bitwise the same.)
    @inline(__always)
    static func stepGates(
        _ count: Int, u: UnsafePointer<Scalar>, uStride: Int, g: UnsafePointer<Scalar>, gStride: Int,
        h: UnsafePointer<Scalar>, out: UnsafeMutablePointer<Scalar>
    ) {
        var i = 0
        while i + 8 <= count {
            gates(
                SIMD8<Scalar>.self, 8, u: u + i, uStride: uStride, g: g + i, gStride: gStride, h: h + i,
                out: out + i)
            i += 8
        }
        while i < count {
            gates(
                SIMD4<Scalar>.self, min(4, count - i), u: u + i, uStride: uStride, g: g + i, gStride: gStride, h: h + i,
                out: out + i)
            i += 4
        }
    }
}

extension LSTM {
    /// One step's gate math for `k` lanes of hidden units: i, f, g, o from u + g (gates
    /// `uStride` / `gStride` apart), c' = f·c + i·g, h' = o·tanh(c').
    @inline(__always)
    static func gates<V: SIMD>(
        _: V.Type, _ k: Int, u: UnsafePointer<Scalar>, uStride: Int, g: UnsafePointer<Scalar>, gStride: Int,
        c: UnsafePointer<Scalar>, h: UnsafePointer<Scalar>, cOut: UnsafeMutablePointer<Scalar>,
        hOut: UnsafeMutablePointer<Scalar>
    ) where V.Scalar == Scalar {
        let ig: V = Scalar.sigmoid(loadLanes(u, k, as: V.self) + loadLanes(g, k, as: V.self))
        let fg: V = Scalar.sigmoid(loadLanes(u + uStride, k, as: V.self) + loadLanes(g + gStride, k, as: V.self))
        let gg: V = Scalar.tanh(loadLanes(u + 2 * uStride, k, as: V.self) + loadLanes(g + 2 * gStride, k, as: V.self))
        let og: V = Scalar.sigmoid(
            loadLanes(u + 3 * uStride, k, as: V.self) + loadLanes(g + 3 * gStride, k, as: V.self))
        let cNew: V = gateMultiplyAdd(fg, loadLanes(c, k, as: V.self), ig * gg)
        storeLanes(cNew, cOut, k)
        storeLanes(og * Scalar.tanh(cNew), hOut, k)
    }

    /// One step's gate math for `count` hidden units (octets, then quads); see
    /// ``GRU/stepGates(_:u:uStride:g:gStride:h:out:)``.
    @inline(__always)
    static func stepGates(
        _ count: Int, u: UnsafePointer<Scalar>, uStride: Int, g: UnsafePointer<Scalar>, gStride: Int,
        c: UnsafePointer<Scalar>, h: UnsafePointer<Scalar>, cOut: UnsafeMutablePointer<Scalar>,
        hOut: UnsafeMutablePointer<Scalar>
    ) {
        var j = 0
        while j + 8 <= count {
            gates(
                SIMD8<Scalar>.self, 8, u: u + j, uStride: uStride, g: g + j, gStride: gStride, c: c + j, h: h + j,
                cOut: cOut + j, hOut: hOut + j)
            j += 8
        }
        while j < count {
            gates(
                SIMD4<Scalar>.self, min(4, count - j), u: u + j, uStride: uStride, g: g + j, gStride: gStride, c: c + j,
                h: h + j,
                cOut: cOut + j, hOut: hOut + j)
            j += 4
        }
    }
}

extension ElmanRNN {
    /// One step's h' = φ(u + g) for `k` lanes.
    @inline(__always)
    func gates<V: SIMD>(
        _: V.Type, _ k: Int, u: UnsafePointer<Scalar>, g: UnsafePointer<Scalar>, out: UnsafeMutablePointer<Scalar>
    ) where V.Scalar == Scalar {
        let a: V = loadLanes(u, k, as: V.self) + loadLanes(g, k, as: V.self)
        storeLanes(activate(a), out, k)
    }

    /// One step's h' for `count` hidden units (octets, then quads).
    @inline(__always)
    func stepGates(
        _ count: Int, u: UnsafePointer<Scalar>, g: UnsafePointer<Scalar>, out: UnsafeMutablePointer<Scalar>
    ) {
        var i = 0
        while i + 8 <= count {
            gates(SIMD8<Scalar>.self, 8, u: u + i, g: g + i, out: out + i)
            i += 8
        }
        while i < count {
            gates(SIMD4<Scalar>.self, min(4, count - i), u: u + i, g: g + i, out: out + i)
            i += 4
        }
    }
}

extension DenseRolloutBuffers {
    /// The buffers of an in-place linearisation (`values` is `states`).
    init(_ arguments: LinearizeArguments<Scalar>) {
        self.init(
            steps: arguments.steps, batch: arguments.batch, previous: arguments.previous,
            projections: arguments.projections, states: arguments.values, tape: arguments.recurrentTape)
    }
}
