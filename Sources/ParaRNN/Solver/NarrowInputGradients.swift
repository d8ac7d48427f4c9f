import ParallelScan

/// ``accumulateFewInputGradients(_:projectionGradients:inputs:weights:weightGradients:biasGradients:inputGradients:)``
/// for a narrow layer, d = 8 and G ≤ 4 (a d = 8 GRU, ParaGRU or LSTM): the same sums in the
/// same order, so the same values bit for bit, in passes whose accumulators stay in registers.
///
/// The one-pass kernel adds every row (t, b) into ∂L/∂W_ihᵀ and ∂L/∂b_ih in memory: with G·d ≤ 32
/// lanes each row is a handful of vectors, and every one is a load, add and store of the same
/// address as the row before, a chain through store-to-load forwarding (≈ 10 cycles a row). Here
///
///     ∂L/∂x_{t,b}[i] += (Σ_v du_{t,b,v} ⊙ W_ihᵀ[i][v]).sum()            one pass over the rows
///     ∂L/∂b_ih[v] += du_{t,b,v}   (v < G, in registers)                 one pass
///     ∂L/∂W_ihᵀ[i][v] += du_{t,b,v} · x_{t,b}[i]  (in registers)        one pass per input i
///
/// each accumulator an SIMD8 register summed over the rows in (t, b) order.
/// On the 2-core EPYC VM (perf, `-e cpu-clock`) the one-pass kernel took 13.7 % of a ParaGRU
/// d = 8 training step (batch 8, window 512, m = 2), these passes 6.6 % of the faster step; the
/// step went from ≈ 0.64 to 0.59 ms (`fit`, min of 5 alternating runs, two runs).
///
/// - Returns: false (nothing done) unless d = 8 and G ≤ 4.
@inline(__always)
func accumulateNarrowInputGradients<Scalar: ScanScalar>(
    _ shape: InputGradientShape, projectionGradients du: UnsafePointer<Scalar>, inputs x: UnsafePointer<Scalar>,
    transposedWeights wT: UnsafePointer<Scalar>, transposedWeightGradients dWT: UnsafeMutablePointer<Scalar>,
    biasGradients dB: UnsafeMutablePointer<Scalar>, inputGradients dX: UnsafeMutablePointer<Scalar>
) -> Bool {
    typealias V = SIMD8<Scalar>
    let (g, m) = (shape.gates, shape.inputs)
    guard shape.hidden == 8, g <= 4 else { return false }
    let gd = 8 * g
    @inline(__always) func load(_ p: UnsafePointer<Scalar>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    @inline(__always) func store(_ v: V, _ p: UnsafeMutablePointer<Scalar>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }
    let batch = shape.batch
    // Gate v of row (t, b) is at du + ((t·G + v)·B + b)·8: a step's rows start G·B·8 apart, a
    // gate's B·8 after the one before, an entry's 8 after the one before.
    let gateStride = batch &* 8
    let stepStride = g &* gateStride
    // ∂L/∂x: per row and input, the dot product over the gates in gate order, as the one-pass
    // kernel's (its scalar tail is empty for d = 8 and stays the + 0).
    for t in 0..<shape.steps {
        let step = du + t &* stepStride
        for b in 0..<batch {
            let row = step + b &* 8
            let r = t &* batch &+ b
            for i in 0..<m {
                let weights = wT + i &* gd
                var dot = V(repeating: 0)
                for v in 0..<g { dot = multiplyAdd(load(row + v &* gateStride), load(weights + v &* 8), dot) }
                let tail: Scalar = 0
                dX[r &* m &+ i] += dot.sum() + tail
            }
        }
    }
    /// One pass over the rows: `a_v ← step(a_v, du_{t,b,v}, x_{t,b})` for the gates, the
    /// accumulators starting at `start` and ending at `end` (gate v at + 8·v).
    @inline(__always) func sweep(
        from start: UnsafePointer<Scalar>, to end: UnsafeMutablePointer<Scalar>,
        _ step: (V, V, UnsafePointer<Scalar>) -> V
    ) {
        var a0 = load(start)
        var a1 = g > 1 ? load(start + 8) : V()
        var a2 = g > 2 ? load(start + 16) : V()
        var a3 = g > 3 ? load(start + 24) : V()
        var xr = x
        for t in 0..<shape.steps {
            var row = du + t &* stepStride
            for _ in 0..<batch {
                a0 = step(a0, load(row), xr)
                if g > 1 { a1 = step(a1, load(row + gateStride), xr) }
                if g > 2 { a2 = step(a2, load(row + 2 &* gateStride), xr) }
                if g > 3 { a3 = step(a3, load(row + 3 &* gateStride), xr) }
                row += 8
                xr += m
            }
        }
        store(a0, end)
        if g > 1 { store(a1, end + 8) }
        if g > 2 { store(a2, end + 16) }
        if g > 3 { store(a3, end + 24) }
    }
    sweep(from: dB, to: dB) { a, lanes, _ in a + lanes }
    for i in 0..<m {
        sweep(from: dWT + i * gd, to: dWT + i * gd) { a, lanes, xr in multiplyAdd(lanes, V(repeating: xr[i]), a) }
    }
    return true
}
