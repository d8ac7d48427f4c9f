import ParallelScan

/// Gradients of a scalar loss through a grid propagation: every gate and x, `[H][W][d]`.
public typealias GridGradients<S: ScanScalar> = PropagationGradients<GridGates<S>, S>

extension GridGates {
    /// Reverse (adjoint) wavefront: gradients with respect to all gates and the input, given
    /// g = ∂L/∂y.
    ///
    /// Runs the forward recurrence once (keeping R and D), then visits the nodes in reverse
    /// row-major order. With λ^R_{ij} = ∂L/∂R_{ij}, λ^D_{ij} = ∂L/∂D_{ij} (zero for edges
    /// leaving the grid), node (i, j) sets the adjoints of its incoming edges
    ///
    ///     λ^R_{i,j−1} = M^l g_{ij} + T^{rl} λ^R_{ij} + T^{dl} λ^D_{ij}
    ///     λ^D_{i−1,j} = M^u g_{ij} + T^{ru} λ^R_{ij} + T^{du} λ^D_{ij}
    ///
    /// and its gate gradients ∂L/∂M^l = ⟨g, R_{i,j−1}⟩, ∂L/∂T^{rl} = ⟨λ^R_{ij}, R_{i,j−1}⟩,
    /// ∂L/∂T^{ru} = ⟨λ^R_{ij}, D_{i−1,j}⟩, ∂L/∂S^r = ⟨λ^R_{ij}, x_{ij}⟩ (likewise for the down
    /// edge and M^u), ∂L/∂D^{direct} = ⟨g, x⟩, ∂L/∂x = D^{direct} g + S^r λ^R + S^d λ^D.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func adjoint(input: [S], stateSize d: Int, outputGradient: [S])
        throws(PLSTMError) -> GridGradients<S>
    {
        try check()
        if d < 1 { throw .invalidStateSize(d) }
        let H = height
        let W = width
        let N = H * W
        try checkCount("input", input.count, N * d)
        try checkCount("outputGradient", outputGradient.count, N * d)
        var R = [S](repeating: 0, count: N * d)
        var Dn = R
        var lR = R
        var lD = R
        var dx = R
        var gr = try GridGates(height: H, width: W)
        // Forward, keeping the states.
        for i in 0..<H {
            for j in 0..<W {
                let k = i * W + j
                for l in 0..<d {
                    let a: S = j > 0 ? R[(k - 1) * d + l] : 0
                    let b: S = i > 0 ? Dn[(k - W) * d + l] : 0
                    let xv = input[k * d + l]
                    R[k * d + l] = sourceRight[k] * xv + rightFromLeft[k] * a + rightFromUp[k] * b
                    Dn[k * d + l] = sourceDown[k] * xv + downFromLeft[k] * a + downFromUp[k] * b
                }
            }
        }
        R.withUnsafeBufferPointer { R in
            Dn.withUnsafeBufferPointer { Dn in
                lR.withUnsafeMutableBufferPointer { lR in
                    lD.withUnsafeMutableBufferPointer { lD in
                        input.withUnsafeBufferPointer { x in
                            outputGradient.withUnsafeBufferPointer { g in
                                dx.withUnsafeMutableBufferPointer { dx in
                                    for k in stride(from: N - 1, through: 0, by: -1) {
                                        let i = k / W
                                        let j = k % W
                                        var s0: S = 0
                                        var s1: S = 0
                                        var s2: S = 0
                                        var s3: S = 0
                                        var s4: S = 0
                                        var s5: S = 0
                                        var s6: S = 0
                                        var s7: S = 0
                                        var s8: S = 0
                                        for l in 0..<d {
                                            let a: S = j > 0 ? R[(k - 1) * d + l] : 0
                                            let b: S = i > 0 ? Dn[(k - W) * d + l] : 0
                                            let gv = g[k * d + l]
                                            let xv = x[k * d + l]
                                            let lr = lR[k * d + l]
                                            let ld = lD[k * d + l]
                                            s0 += gv * a  // markLeft
                                            s1 += gv * b  // markUp
                                            s2 += lr * a  // rightFromLeft
                                            s3 += lr * b  // rightFromUp
                                            s4 += ld * a  // downFromLeft
                                            s5 += ld * b  // downFromUp
                                            s6 += lr * xv  // sourceRight
                                            s7 += ld * xv  // sourceDown
                                            s8 += gv * xv  // direct
                                            dx[k * d + l] =
                                                direct[k] * gv + sourceRight[k] * lr
                                                + sourceDown[k] * ld
                                            if j > 0 {
                                                lR[(k - 1) * d + l] =
                                                    markLeft[k] * gv + rightFromLeft[k] * lr
                                                    + downFromLeft[k] * ld
                                            }
                                            if i > 0 {
                                                lD[(k - W) * d + l] =
                                                    markUp[k] * gv + rightFromUp[k] * lr
                                                    + downFromUp[k] * ld
                                            }
                                        }
                                        gr.markLeft[k] = s0
                                        gr.markUp[k] = s1
                                        gr.rightFromLeft[k] = s2
                                        gr.rightFromUp[k] = s3
                                        gr.downFromLeft[k] = s4
                                        gr.downFromUp[k] = s5
                                        gr.sourceRight[k] = s6
                                        gr.sourceDown[k] = s7
                                        gr.direct[k] = s8
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return GridGradients(gates: gr, input: dx)
    }
}
