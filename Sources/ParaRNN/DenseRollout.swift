import ParallelScan

/// The fused sequential rollout of the dense cells (GRU, LSTM, Elman): per step and sequence,
/// the recurrent product g = W_hh h + b_hh and the gate math in one pass over cache-resident,
/// SIMD-packed weights — no per-step allocation, BLAS call or temporary row.
///
/// W_hh (`[G·d][d]`, PyTorch layout) is packed once per rollout as its transpose,
/// `[d][P]` with P = G·d rounded up to 8 and zero padding, so that
///
///     g[0..<P] = b_hh + Σ_k h[k] · Wᵀ[k][0..<P]
///
/// is a sequence of broadcast-multiply-adds over contiguous vectors, computed in register tiles
/// of up to 8 SIMD8 accumulators (64 outputs in Float) with the weights streamed from L1/L2.
/// For d = 64 GRU that is 12 288 multiply-adds per step in 1 536 vector FMAs.
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
    /// ``outputs`` rounded up to a multiple of 8: the packed row length.
    let stride: Int
    /// Wᵀ, `[d][stride]`, zero padded.
    let transposed: [Scalar]
    /// b_hh, `[stride]`, zero padded.
    let bias: [Scalar]

    init(weights: [Scalar], bias: [Scalar], outputs: Int, hidden: Int) {
        let stride = (outputs + 7) / 8 * 8
        var transposed = [Scalar](repeating: 0, count: hidden * stride)
        for row in 0..<outputs {
            for k in 0..<hidden { transposed[k * stride + row] = weights[row * hidden + k] }
        }
        var padded = [Scalar](repeating: 0, count: stride)
        for row in 0..<outputs { padded[row] = bias[row] }
        (self.hidden, self.outputs, self.stride) = (hidden, outputs, stride)
        self.transposed = transposed
        self.bias = padded
    }

    /// Runs `body` with the packed weights and bias.
    @inline(__always)
    func withPointers<R>(_ body: (UnsafePointer<Scalar>, UnsafePointer<Scalar>) -> R) -> R {
        transposed.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in body(w.baseAddress!, b.baseAddress!) }
        }
    }

    /// g[0..<stride] = bias + Σ_k h[k] · w[k][0..<stride] (`w` packed as ``transposed``).
    ///
    /// The outputs are computed in register tiles (8, then 4, then 1 SIMD8 vectors), each a
    /// column band of w. `descending` walks the bands from the last to the first: a rollout
    /// alternates the direction every step, so the bands it read last are still in L1 when the
    /// next step starts (W_hh of a d = 64 GRU is 48 KiB, more than a 32 KiB L1 holds, and a
    /// cyclic walk would miss on every band). Each output's sum is the same in either order.
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
        @inline(__always) func band8(_ o: Int) {
            var a0 = load(bias + o), a1 = load(bias + o + 8), a2 = load(bias + o + 16)
            var a3 = load(bias + o + 24), a4 = load(bias + o + 32), a5 = load(bias + o + 40)
            var a6 = load(bias + o + 48), a7 = load(bias + o + 56)
            var row = w + o
            for k in 0..<d {
                let x = V(repeating: h[k])
                a0 = multiplyAdd(x, load(row), a0)
                a1 = multiplyAdd(x, load(row + 8), a1)
                a2 = multiplyAdd(x, load(row + 16), a2)
                a3 = multiplyAdd(x, load(row + 24), a3)
                a4 = multiplyAdd(x, load(row + 32), a4)
                a5 = multiplyAdd(x, load(row + 40), a5)
                a6 = multiplyAdd(x, load(row + 48), a6)
                a7 = multiplyAdd(x, load(row + 56), a7)
                row += stride
            }
            store(a0, g + o); store(a1, g + o + 8); store(a2, g + o + 16); store(a3, g + o + 24)
            store(a4, g + o + 32); store(a5, g + o + 40); store(a6, g + o + 48); store(a7, g + o + 56)
        }
        @inline(__always) func band4(_ o: Int) {
            var a0 = load(bias + o), a1 = load(bias + o + 8)
            var a2 = load(bias + o + 16), a3 = load(bias + o + 24)
            var row = w + o
            for k in 0..<d {
                let x = V(repeating: h[k])
                a0 = multiplyAdd(x, load(row), a0)
                a1 = multiplyAdd(x, load(row + 8), a1)
                a2 = multiplyAdd(x, load(row + 16), a2)
                a3 = multiplyAdd(x, load(row + 24), a3)
                row += stride
            }
            store(a0, g + o); store(a1, g + o + 8); store(a2, g + o + 16); store(a3, g + o + 24)
        }
        @inline(__always) func band1(_ o: Int) {
            // Two partial sums over even and odd k halve the dependency chain.
            var a0 = load(bias + o), a1 = V(repeating: 0)
            var k = 0
            while k + 2 <= d {
                a0 = multiplyAdd(V(repeating: h[k]), load(w + k * stride + o), a0)
                a1 = multiplyAdd(V(repeating: h[k + 1]), load(w + (k + 1) * stride + o), a1)
                k += 2
            }
            if k < d { a0 = multiplyAdd(V(repeating: h[k]), load(w + k * stride + o), a0) }
            store(a0 + a1, g + o)
        }
        // Eight accumulators keep both FMA pipes busy (4-cycle latency) in Float; a Double
        // SIMD8 is two registers already, so it tiles by four.
        let wide = MemoryLayout<Scalar>.size == 4 ? 8 : 4
        let vectors = stride / 8
        let bands8 = wide == 8 ? vectors / 8 : 0
        let bands4 = (vectors - 8 * bands8) / 4
        let end8 = 64 * bands8, end4 = end8 + 32 * bands4
        if descending {
            var o = stride - 8
            while o >= end4 { band1(o); o -= 8 }
            o = end4 - 32
            while o >= end8 { band4(o); o -= 32 }
            o = end8 - 64
            while o >= 0 { band8(o); o -= 64 }
        } else {
            var o = 0
            while o < end8 { band8(o); o += 64 }
            while o < end4 { band4(o); o += 32 }
            while o < stride { band1(o); o += 8 }
        }
    }
}

/// Where one dense-cell rollout reads and writes: full-batch buffers, one batch entry at a time.
struct DenseRolloutBuffers<Scalar> {
    let steps: Range<Int>
    let batch: Int
    let previous: UnsafePointer<Scalar>
    let projections: UnsafePointer<Scalar>
    let states: UnsafeMutablePointer<Scalar>

    /// The state row entry of sequence `b` before step `t` (`previous` before the range).
    @inline(__always)
    func previousEntry(_ t: Int, _ b: Int, stateSize n: Int) -> UnsafePointer<Scalar> {
        t == steps.lowerBound
            ? previous + b * n : UnsafePointer(states + (t - 1) * batch * n + b * n)
    }
}

extension GRU {
    /// The fused rollout of batch entries `entries` (see ``DenseRecurrentPack``):
    /// r, z, n and h' per step from one packed recurrent product.
    func fusedRollout(_ io: DenseRolloutBuffers<Scalar>, entries: Range<Int>) {
        let d = hiddenSize, lanes = io.batch * d
        let pack = packedRecurrence
        let g = UnsafeMutablePointer<Scalar>.allocate(capacity: pack.stride)
        defer { g.deallocate() }
        pack.withPointers { w, bias in
            for b in entries {
                for t in io.steps {
                    let h = io.previousEntry(t, b, stateSize: d)
                    DenseRecurrentPack<Scalar>.product(
                        h: h, hidden: d, weights: w, stride: pack.stride, bias: bias, into: g,
                        descending: t & 1 == 1)
                    let u = io.projections + t * 3 * lanes + b * d
                    let out = io.states + t * lanes + b * d
                    var i = 0
                    while i + 4 <= d {
                        let r = Scalar.sigmoid(loadVector(u + i) + loadVector(g + i))
                        let z = Scalar.sigmoid(loadVector(u + lanes + i) + loadVector(g + d + i))
                        let n = Scalar.tanh(multiplyAdd(r, loadVector(g + 2 * d + i), loadVector(u + 2 * lanes + i)))
                        storeVector(multiplyAdd(z, loadVector(h + i) - n, n), out + i)
                        i += 4
                    }
                    while i < d {
                        let r = Scalar.sigmoid(u[i] + g[i])
                        let z = Scalar.sigmoid(u[lanes + i] + g[d + i])
                        let n = Scalar.tanh(multiplyAdd(r, g[2 * d + i], u[2 * lanes + i]))
                        out[i] = multiplyAdd(z, h[i] - n, n)
                        i += 1
                    }
                }
            }
        }
    }
}

extension LSTM {
    /// The fused rollout of batch entries `entries` (see ``DenseRecurrentPack``): gates i, f,
    /// g, o, then c' and h' per step from one packed recurrent product.
    func fusedRollout(_ io: DenseRolloutBuffers<Scalar>, entries: Range<Int>) {
        let d = hiddenSize, n = 2 * d, lanes = io.batch * d, row = io.batch * n
        let pack = packedRecurrence
        let g = UnsafeMutablePointer<Scalar>.allocate(capacity: pack.stride)
        defer { g.deallocate() }
        pack.withPointers { w, bias in
            for b in entries {
                for t in io.steps {
                    let s = io.previousEntry(t, b, stateSize: n)
                    DenseRecurrentPack<Scalar>.product(
                        h: s + d, hidden: d, weights: w, stride: pack.stride, bias: bias, into: g,
                        descending: t & 1 == 1)
                    let u = io.projections + t * 4 * lanes + b * d
                    let out = io.states + t * row + b * n
                    var j = 0
                    while j + 4 <= d {
                        let ig = Scalar.sigmoid(loadVector(u + j) + loadVector(g + j))
                        let fg = Scalar.sigmoid(loadVector(u + lanes + j) + loadVector(g + d + j))
                        let gg = Scalar.tanh(loadVector(u + 2 * lanes + j) + loadVector(g + 2 * d + j))
                        let og = Scalar.sigmoid(loadVector(u + 3 * lanes + j) + loadVector(g + 3 * d + j))
                        let c = multiplyAdd(fg, loadVector(s + j), ig * gg)
                        storeVector(c, out + j)
                        storeVector(og * Scalar.tanh(c), out + d + j)
                        j += 4
                    }
                    while j < d {
                        let ig = Scalar.sigmoid(u[j] + g[j])
                        let fg = Scalar.sigmoid(u[lanes + j] + g[d + j])
                        let gg = Scalar.tanh(u[2 * lanes + j] + g[2 * d + j])
                        let og = Scalar.sigmoid(u[3 * lanes + j] + g[3 * d + j])
                        let c = multiplyAdd(fg, s[j], ig * gg)
                        out[j] = c
                        out[d + j] = og * Scalar.tanh(c)
                        j += 1
                    }
                }
            }
        }
    }
}

extension ElmanRNN {
    /// The fused rollout of batch entries `entries` (see ``DenseRecurrentPack``):
    /// h' = tanh(u + W_hh h + b_hh).
    func fusedRollout(_ io: DenseRolloutBuffers<Scalar>, entries: Range<Int>) {
        let d = hiddenSize, lanes = io.batch * d
        let pack = packedRecurrence
        let g = UnsafeMutablePointer<Scalar>.allocate(capacity: pack.stride)
        defer { g.deallocate() }
        pack.withPointers { w, bias in
            for b in entries {
                for t in io.steps {
                    let h = io.previousEntry(t, b, stateSize: d)
                    DenseRecurrentPack<Scalar>.product(
                        h: h, hidden: d, weights: w, stride: pack.stride, bias: bias, into: g,
                        descending: t & 1 == 1)
                    let u = io.projections + t * lanes + b * d
                    let out = io.states + t * lanes + b * d
                    var i = 0
                    while i + 4 <= d {
                        storeVector(Scalar.tanh(loadVector(u + i) + loadVector(g + i)), out + i)
                        i += 4
                    }
                    while i < d {
                        out[i] = Scalar.tanh(u[i] + g[i])
                        i += 1
                    }
                }
            }
        }
    }
}

extension DenseRolloutBuffers {
    /// The buffers of an in-place linearisation (`values` is `states`).
    init(_ arguments: LinearizeArguments<Scalar>) {
        self.init(
            steps: arguments.steps, batch: arguments.batch, previous: arguments.previous,
            projections: arguments.projections, states: arguments.values)
    }
}
