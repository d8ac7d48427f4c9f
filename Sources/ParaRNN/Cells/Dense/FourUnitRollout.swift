import ParallelScan

// The rollout of one sequence of a GRU or LSTM with d = 4 hidden units, in registers.
//
// With d = 4 a step is a short chain of dependent operations — W_hh h (4 multiply-adds per
// output), two or three exponentials, a division — and the general kernel
// (`DenseRecurrentPack.rollout`) spends as long again around it: the product and the gate math
// are separate calls, g goes through memory between them, h is reloaded and broadcast from the
// state row, and the constants are reloaded every step. Here the packed W_hh (16 columns × 4
// rows, two 8-column bands), b_hh and h stay in registers for the whole sequence, and the gates
// that share a formula share one 8-lane vector:
//
//     GRU:  [r, z] = σ([u_r, u_z] + [g_r, g_z]),  n = tanh(u_n + r·g_n),  h' = z·(h − n) + n
//     LSTM: [i, f] = σ(·),  [g, o] = s/(1 + e^(−s·x)) − (s − 1)  with s = [2, 2, 2, 2, 1, 1, 1, 1]
//
// — the second LSTM line is tanh (2σ(2x) − 1) on the g lanes and σ on the o lanes, each lane
// the same operations as the general kernel's (multiplying by −1 and subtracting 0 are exact).
// Every output's sum g = b + Σ_k h_k·W_k runs in the same order with the same fused
// multiply-adds, so the states are bitwise those of the general kernel.
//
// For example:
//
// // one batch entry b of a d = 4 GRU, io over full-batch buffers
// gru.fourUnitRollout(io, entry: b)

/// bias + Σ_k h_k·w_k, one fused multiply-add per k in order k = 0…3 (the packed product's order).
@inline(__always)
private func broadcastSum<Scalar: CellMath, V: SIMD>(
    _ bias: V, _ h: SIMD4<Scalar>, _ w0: V, _ w1: V, _ w2: V, _ w3: V
) -> V where V.Scalar == Scalar {
    var a = multiplyAdd(V(repeating: h[0]), w0, bias)
    a = multiplyAdd(V(repeating: h[1]), w1, a)
    a = multiplyAdd(V(repeating: h[2]), w2, a)
    return multiplyAdd(V(repeating: h[3]), w3, a)
}

@inline(__always)
private func load<V: SIMD>(_ p: UnsafePointer<V.Scalar>, as _: V.Type = V.self) -> V {
    UnsafeRawPointer(p).loadUnaligned(as: V.self)
}

@inline(__always)
private func store<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<V.Scalar>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
}

extension DenseRecurrentPack {
    /// Whether the pack is a d = 4 cell's with two 8-column bands (GRU: 12 columns padded to 16;
    /// LSTM: 16), the layout ``GRU/fourUnitRollout(_:entry:)`` reads.
    var isFourUnitPack: Bool { hidden == 4 && stride == 16 }

    /// Splits a fused rollout of `entries`: with a d = 4 pack, whole groups of four go to
    /// `grouped` (the packed product of four sequences) and the rest one by one to `single`
    /// (``GRU/fourUnitRollout(_:entry:)``); otherwise, or when the rollout records its products
    /// (which only the packed products write), all of them go to `grouped`.
    @inline(__always)
    func splitForFourUnits(
        _ entries: Range<Int>, recording: Bool, grouped: (Range<Int>) -> Void, single: (Int) -> Void
    ) {
        guard isFourUnitPack, !recording else { return grouped(entries) }
        let end = entries.lowerBound + entries.count / 4 * 4
        if end > entries.lowerBound { grouped(entries.lowerBound..<end) }
        for b in end..<entries.upperBound { single(b) }
    }
}

extension GRU {
    /// The d = 4 rollout of batch entry `b` (see the file's comment).
    func fourUnitRollout(_ io: DenseRolloutBuffers<Scalar>, entry b: Int) {
        typealias V4 = SIMD4<Scalar>
        typealias V8 = SIMD8<Scalar>
        let lanes = io.batch * 4
        packedRecurrence.withPointers { w, bias in
            // Band 0 (columns r, z) at w, row k at w + 8k; band 1 (n, padding) at w + 32.
            let (a0, a1, a2, a3): (V8, V8, V8, V8) = (load(w), load(w + 8), load(w + 16), load(w + 24))
            let (n0, n1, n2, n3): (V4, V4, V4, V4) = (load(w + 32), load(w + 40), load(w + 48), load(w + 56))
            let (biasRZ, biasN): (V8, V4) = (load(bias), load(bias + 8))
            var h: V4 = load(io.previous + b * 4)
            for t in io.steps {
                let gRZ = broadcastSum(biasRZ, h, a0, a1, a2, a3)
                let gN = broadcastSum(biasN, h, n0, n1, n2, n3)
                let u = io.projections + t * 3 * lanes + b * 4
                let rz: V8 = Scalar.sigmoid(V8(lowHalf: load(u), highHalf: load(u + lanes)) + gRZ)
                let n: V4 = Scalar.tanh(gateMultiplyAdd(rz.lowHalf, gN, load(u + 2 * lanes)))
                h = gateMultiplyAdd(rz.highHalf, h - n, n)
                store(h, io.states + t * lanes + b * 4)
            }
        }
    }
}

extension LSTM {
    /// The d = 4 rollout of batch entry `b` (see the file's comment): state [c, h].
    func fourUnitRollout(_ io: DenseRolloutBuffers<Scalar>, entry b: Int) {
        typealias V4 = SIMD4<Scalar>
        typealias V8 = SIMD8<Scalar>
        let lanes = io.batch * 4
        let row = io.batch * 8
        // Lanes g (tanh = 2σ(2x) − 1) then o (σ): the scale s, −s and s − 1.
        let scale = V8(2, 2, 2, 2, 1, 1, 1, 1)
        let (negatedScale, shift) = (-scale, scale - 1)
        packedRecurrence.withPointers { w, bias in
            // Band 0 (columns i, f) at w, row k at w + 8k; band 1 (g, o) at w + 32.
            let (a0, a1, a2, a3): (V8, V8, V8, V8) = (load(w), load(w + 8), load(w + 16), load(w + 24))
            let (b0, b1, b2, b3): (V8, V8, V8, V8) = (load(w + 32), load(w + 40), load(w + 48), load(w + 56))
            let (biasIF, biasGO): (V8, V8) = (load(bias), load(bias + 8))
            let start: V8 = load(io.previous + b * 8)
            var (c, h) = (start.lowHalf, start.highHalf)
            for t in io.steps {
                let gIF = broadcastSum(biasIF, h, a0, a1, a2, a3)
                let gGO = broadcastSum(biasGO, h, b0, b1, b2, b3)
                let u = io.projections + t * 4 * lanes + b * 4
                let gates: V8 = Scalar.sigmoid(V8(lowHalf: load(u), highHalf: load(u + lanes)) + gIF)
                let x = V8(lowHalf: load(u + 2 * lanes), highHalf: load(u + 3 * lanes)) + gGO
                let go = scale / (1 + Scalar.cellExp(negatedScale * x)) - shift
                c = gateMultiplyAdd(gates.highHalf, c, gates.lowHalf * go.lowHalf)
                h = go.highHalf * Scalar.tanh(c)
                store(V8(lowHalf: c, highHalf: h), io.states + t * row + b * 8)
            }
        }
    }
}
