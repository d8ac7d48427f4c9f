import ParallelScan

/// The sizes of a layer's input side: G gates of d units on m inputs, over T steps of B
/// sequences, with ∂L/∂u laid out `[T][G][B][d]` (the projections' layout).
struct InputGradientShape {
    let gates: Int, hidden: Int, inputs: Int, steps: Int, batch: Int

    /// ∂L/∂u of step t, gate v, entry b, at unit 0.
    @inline(__always)
    func plane<Scalar>(_ du: UnsafePointer<Scalar>, _ t: Int, _ v: Int, _ b: Int) -> UnsafePointer<Scalar> {
        du + ((t * gates + v) * batch + b) * hidden
    }
}

/// The input side of a layer's gradients for few inputs (1 ≤ m ≤
/// ``InputProjection/maximumDirectInputs``), in one pass over ∂L/∂u instead of three small
/// BLAS calls per (gate, batch entry), each of which packs a strided `[T][d]` plane:
///
///     ∂L/∂W_ih[r][i] += Σ_{t,b} du_{t,b}[r] x_{t,b}[i],   ∂L/∂b_ih[r] += Σ_{t,b} du_{t,b}[r],
///     ∂L/∂x_{t,b}[i] += Σ_r W_ih[r][i] du_{t,b}[r]
///
/// (r = v·d + j runs over the G·d projections). Per row (t, b) and input i, SIMD8 lanes of
/// du are multiplied into ∂L/∂W_ihᵀ (`[m][G·d]`, in L1) and into a dot-product accumulator
/// with W_ihᵀ. Each weight and bias entry is summed over the rows in (t, b) order. For d = 8
/// (G ≤ 4) the same sums run in register passes instead
/// (``accumulateNarrowInputGradients(_:projectionGradients:inputs:transposedWeights:transposedWeightGradients:biasGradients:inputGradients:)``).
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func accumulateFewInputGradients<Scalar: ScanScalar>(
    _ shape: InputGradientShape, projectionGradients du: UnsafePointer<Scalar>, inputs x: UnsafePointer<Scalar>,
    weights w: UnsafePointer<Scalar>, weightGradients dW: UnsafeMutablePointer<Scalar>,
    biasGradients dB: UnsafeMutablePointer<Scalar>, inputGradients dX: UnsafeMutablePointer<Scalar>
) {
    typealias V = SIMD8<Scalar>
    let (g, d, m) = (shape.gates, shape.hidden, shape.inputs)
    let gd = g * d
    // W_ihᵀ and the ∂L/∂W_ihᵀ accumulators, `[m][G·d]` each.
    let scratch = ScratchBuffers<Scalar>(counts: [m * gd, m * gd])
    defer { scratch.deallocate() }
    let (wT, dWT) = (scratch[0], scratch[1])
    for r in 0..<gd {
        for i in 0..<m { wT[i * gd + r] = w[r * m + i] }
    }
    zeroFill(dWT, count: m * gd)
    @inline(__always) func load(_ p: UnsafePointer<Scalar>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    @inline(__always) func store(_ v: V, _ p: UnsafeMutablePointer<Scalar>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }
    let narrow = accumulateNarrowInputGradients(
        shape, projectionGradients: du, inputs: x, transposedWeights: wT, transposedWeightGradients: dWT,
        biasGradients: dB, inputGradients: dX)
    if !narrow {
        for t in 0..<shape.steps {
            for b in 0..<shape.batch {
                let xr = x + (t * shape.batch + b) * m
                for v in 0..<g {
                    let plane = shape.plane(du, t, v, b)
                    let bias = dB + v * d
                    var j = 0
                    while j + 8 <= d {
                        store(load(bias + j) + load(plane + j), bias + j)
                        j += 8
                    }
                    while j < d {
                        bias[j] += plane[j]
                        j += 1
                    }
                }
                for i in 0..<m {
                    let xi = xr[i]
                    let xv = V(repeating: xi)
                    var dot = V(repeating: 0)
                    var tail: Scalar = 0
                    for v in 0..<g {
                        let plane = shape.plane(du, t, v, b)
                        let weights = UnsafePointer(wT + i * gd + v * d)
                        let gradient = dWT + i * gd + v * d
                        var j = 0
                        while j + 8 <= d {
                            let lanes = load(plane + j)
                            store(multiplyAdd(lanes, xv, load(gradient + j)), gradient + j)
                            dot = multiplyAdd(lanes, load(weights + j), dot)
                            j += 8
                        }
                        while j < d {
                            gradient[j] = multiplyAdd(plane[j], xi, gradient[j])
                            tail = multiplyAdd(plane[j], weights[j], tail)
                            j += 1
                        }
                    }
                    dX[(t * shape.batch + b) * m + i] += dot.sum() + tail
                }
            }
        }
    }
    for r in 0..<gd {
        for i in 0..<m { dW[r * m + i] += dWT[i * gd + r] }
    }
}
