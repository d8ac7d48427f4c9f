import Foundation
import ParallelScan

/// Gates of one pLSTM head on an H×W grid (edges to the right and down).
///
/// Node (i, j) (index i·W + j) writes the state R_{i,j} of its right edge and D_{i,j} of its
/// down edge; it reads R_{i,j−1} (its *left* incoming edge) and D_{i−1,j} (its *up* incoming
/// edge), which are zero outside the grid. With x_{ij}, R, D ∈ ℝ^d:
///
///     R_{ij} = S^r_{ij} x_{ij} + T^{rl}_{ij} R_{i,j−1} + T^{ru}_{ij} D_{i−1,j}
///     D_{ij} = S^d_{ij} x_{ij} + T^{dl}_{ij} R_{i,j−1} + T^{du}_{ij} D_{i−1,j}
///     y_{ij} = D^{direct}_{ij} x_{ij} + M^l_{ij} R_{i,j−1} + M^u_{ij} D_{i−1,j}
///
/// (T^{ab}: from incoming edge b ∈ {l = left, u = up} to outgoing edge a ∈ {r = right,
/// d = down}). This is the DAG propagation on ``DAG/grid(height:width:)`` (``dagGates()``);
/// gates of edges that leave the grid are ignored. Arrays are `[H][W]`, row-major.
public struct GridGates<S: ScanScalar>: Sendable, Equatable {
    /// H.
    public let height: Int
    /// W.
    public let width: Int
    /// S^r, S^d.
    public var sourceRight, sourceDown: [S]
    /// T^{rl}, T^{ru}, T^{dl}, T^{du}.
    public var rightFromLeft, rightFromUp, downFromLeft, downFromUp: [S]
    /// M^l, M^u.
    public var markLeft, markUp: [S]
    /// D^{direct}.
    public var direct: [S]

    /// All-zero gates for an H×W grid (also the shape of a gradient).
    public init(height: Int, width: Int) throws(PLSTMError) {
        if height < 1 || width < 1 { throw .invalidSize("grid \(height)×\(width)") }
        self.height = height
        self.width = width
        let z = [S](repeating: 0, count: height * width)
        (sourceRight, sourceDown, rightFromLeft, rightFromUp) = (z, z, z, z)
        (downFromLeft, downFromUp, markLeft, markUp, direct) = (z, z, z, z, z)
    }

    var all: [[S]] {
        [
            sourceRight, sourceDown, rightFromLeft, rightFromUp, downFromLeft, downFromUp,
            markLeft, markUp, direct,
        ]
    }

    func check() throws(PLSTMError) {
        let names = [
            "sourceRight", "sourceDown", "rightFromLeft", "rightFromUp", "downFromLeft",
            "downFromUp", "markLeft", "markUp", "direct",
        ]
        for (name, a) in zip(names, all) { try checkCount(name, a.count, height * width) }
    }

    /// P-mode grid gates (as in the paper's 2D P-mode): per node an orientation
    /// o = sigmoid(θ) ∈ (0, 1) and a magnitude a = tanh(τ) ∈ (−1, 1),
    ///
    ///     S^r = s·o,  S^d = s·(1 − o),
    ///     T^{rl} = T^{ru} = a·o,  T^{dl} = T^{du} = a·(1 − o),
    ///     M^l = M^u = m,  D^{direct} = δ,
    ///
    /// so each incoming edge's transitions sum to |T^{r·}| + |T^{d·}| = |a| < 1 (see
    /// ``PModeParameters`` for the resulting bound). All arrays `[H][W]`.
    public static func pMode(
        height: Int, width: Int, source s: [S], orientationLogits θ: [S],
        transitionLogits τ: [S], mark m: [S], direct δ: [S]
    ) throws(PLSTMError) -> GridGates<S> {
        var g = try GridGates(height: height, width: width)
        let n = height * width
        for (name, a) in [
            ("source", s), ("orientationLogits", θ), ("transitionLogits", τ),
            ("mark", m), ("direct", δ),
        ] {
            try checkCount(name, a.count, n)
        }
        for k in 0..<n {
            let o = S(1 / (1 + exp(-Double(θ[k]))))
            let a = S(tanh(Double(τ[k])))
            g.sourceRight[k] = s[k] * o
            g.sourceDown[k] = s[k] * (1 - o)
            g.rightFromLeft[k] = a * o
            g.rightFromUp[k] = a * o
            g.downFromLeft[k] = a * (1 - o)
            g.downFromUp[k] = a * (1 - o)
            g.markLeft[k] = m[k]
            g.markUp[k] = m[k]
            g.direct[k] = δ[k]
        }
        return g
    }

    /// D-mode grid gates: the grid's line graph pruned to a multitree by keeping a single
    /// corner turn (left → down, "chirality"): T^{ru} = 0, and
    ///
    ///     T^{rl} = tanh(τ_r),  T^{du} = tanh(τ_d),  T^{dl} = tanh(τ_c),
    ///
    /// with free sources and marks. A path then runs right along its row, turns down once, and
    /// runs down its column, so there is exactly one path between any two connected edges.
    public static func dMode(
        height: Int, width: Int, sourceRight: [S], sourceDown: [S], rightLogits: [S],
        downLogits: [S], turnLogits: [S], markLeft: [S], markUp: [S], direct: [S]
    ) throws(PLSTMError) -> GridGates<S> {
        var g = try GridGates(height: height, width: width)
        g.sourceRight = sourceRight
        g.sourceDown = sourceDown
        g.rightFromLeft = rightLogits.map { S(tanh(Double($0))) }
        g.downFromUp = downLogits.map { S(tanh(Double($0))) }
        g.downFromLeft = turnLogits.map { S(tanh(Double($0))) }
        g.markLeft = markLeft
        g.markUp = markUp
        g.direct = direct
        try g.check()
        return g
    }

    /// The same gates laid out for `DAG.grid(height:width:)` (same graph as `graph`).
    public func dagGates(_ graph: DAG) throws(PLSTMError) -> DAGGates<S> {
        try check()
        let w = width
        var g = DAGGates<S>(zerosFor: graph)
        for (e, edge) in graph.edges.enumerated() {
            let u = edge.from
            let v = edge.to
            let right = v == u + 1 && u % w + 1 < w && v / w == u / w
            if right {
                g.source[e] = sourceRight[u]
                g.mark[e] = markLeft[v]
            } else {
                g.source[e] = sourceDown[u]
                g.mark[e] = markUp[v]
            }
        }
        for arc in graph.lineGraph() {
            let v = arc.node
            let inRight = graph.edges[arc.from].from == v - 1 && v % w != 0
            let outRight = graph.edges[arc.to].to == v + 1 && (v + 1) % w != 0
            let k = graph.transitionIndex(from: arc.from, to: arc.to)!
            switch (inRight, outRight) {
            case (true, true): g.transition[k] = rightFromLeft[v]
            case (false, true): g.transition[k] = rightFromUp[v]
            case (true, false): g.transition[k] = downFromLeft[v]
            case (false, false): g.transition[k] = downFromUp[v]
            }
        }
        g.direct = direct
        return g
    }

    // MARK: evaluation

    /// Sequential wavefront evaluation: row by row, left to right (each row depends on the
    /// previous row's down states). O(H·W·d) work, no parallelism; the baseline.
    ///
    /// - Parameters:
    ///   - input: x, `[H][W][d]`.
    ///   - stateSize: d.
    /// - Returns: y, `[H][W][d]`.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func wavefront(input: [S], stateSize d: Int) throws(PLSTMError) -> [S] {
        try check()
        if d < 1 { throw .invalidStateSize(d) }
        try checkCount("input", input.count, height * width * d)
        // Every node's output is written by a sweep: no zero-filling pass.
        var y = [S](unsafeUninitializedCapacity: height * width * d) { _, count in count = height * width * d }
        let scratch = UnsafeMutablePointer<S>.allocate(capacity: (height + width) * d * 2)
        scratch.initialize(repeating: 0, count: (height + width) * d * 2)
        defer { scratch.deallocate() }
        withGatePointers { gp in
            input.withUnsafeBufferPointer { x in
                y.withUnsafeMutableBufferPointer { yb in
                    let leftIn = scratch
                    let topIn = scratch + height * d
                    let rightOut = topIn + width * d
                    let bottomOut = rightOut + height * d
                    gp.sweep(
                        rows: 0..<height, cols: 0..<width, lanes: d, leftIn: leftIn,
                        topIn: topIn, x: x.baseAddress!, rightOut: rightOut,
                        bottomOut: bottomOut, y: yb.baseAddress!)
                }
            }
        }
        return y
    }

    func withGatePointers<R>(_ body: (GridGatePointers<S>) -> R) -> R {
        sourceRight.withUnsafeBufferPointer { sr in
            sourceDown.withUnsafeBufferPointer { sd in
                rightFromLeft.withUnsafeBufferPointer { rl in
                    rightFromUp.withUnsafeBufferPointer { ru in
                        downFromLeft.withUnsafeBufferPointer { dl in
                            downFromUp.withUnsafeBufferPointer { du in
                                markLeft.withUnsafeBufferPointer { ml in
                                    markUp.withUnsafeBufferPointer { mu in
                                        direct.withUnsafeBufferPointer { dd in
                                            body(
                                                GridGatePointers(
                                                    width: width, sr: sr.baseAddress!,
                                                    sd: sd.baseAddress!, rl: rl.baseAddress!,
                                                    ru: ru.baseAddress!, dl: dl.baseAddress!,
                                                    du: du.baseAddress!, ml: ml.baseAddress!,
                                                    mu: mu.baseAddress!, dd: dd.baseAddress!))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Raw gate pointers for the grid kernels (shared read-only between workers).
struct GridGatePointers<S: ScanScalar>: @unchecked Sendable {
    let width: Int
    let sr, sd, rl, ru, dl, du, ml, mu, dd: UnsafePointer<S>

    /// Runs the grid recurrence over the block `rows × cols` with `lanes` lanes per state.
    ///
    /// Boundary inputs: `leftIn[r][lanes]` = R entering row r of the block from the left,
    /// `topIn[c][lanes]` = D entering column c from above. Outputs: `rightOut[r]` = R leaving
    /// the block's last column in row r, `bottomOut[c]` = D leaving its last row in column c.
    /// `x` (grid-wide `[H][W][lanes]`) adds the sources when given; `y` (grid-wide) receives the
    /// node outputs when given. `leftIn` may equal `rightOut` and `topIn` may equal `bottomOut`.
    @inline(__always)
    func sweep(
        rows: Range<Int>, cols: Range<Int>, lanes L: Int, leftIn: UnsafePointer<S>,
        topIn: UnsafePointer<S>, x: UnsafePointer<S>?, rightOut: UnsafeMutablePointer<S>,
        bottomOut: UnsafeMutablePointer<S>, y: UnsafeMutablePointer<S>?
    ) {
        let w = cols.count
        if UnsafePointer(bottomOut) != topIn { bottomOut.update(from: topIn, count: w * L) }
        for (r, i) in rows.enumerated() {
            let carry = rightOut + r * L
            if UnsafePointer(carry) != leftIn + r * L { carry.update(from: leftIn + r * L, count: L) }
            for (c, j) in cols.enumerated() {
                let k = i * width + j
                let down = bottomOut + c * L
                let trl = rl[k]
                let tru = ru[k]
                let tdl = dl[k]
                let tdu = du[k]
                if let y {
                    let yk = y + k * L
                    let xk = x! + k * L
                    let ml = self.ml[k]
                    let mu = self.mu[k]
                    let dv = dd[k]
                    for l in 0..<L { yk[l] = dv * xk[l] + ml * carry[l] + mu * down[l] }
                }
                if let x {
                    let xk = x + k * L
                    let s1 = sr[k]
                    let s2 = sd[k]
                    for l in 0..<L {
                        let a = carry[l]
                        let b = down[l]
                        let xv = xk[l]
                        carry[l] = s1 * xv + trl * a + tru * b
                        down[l] = s2 * xv + tdl * a + tdu * b
                    }
                } else {
                    for l in 0..<L {
                        let a = carry[l]
                        let b = down[l]
                        carry[l] = trl * a + tru * b
                        down[l] = tdl * a + tdu * b
                    }
                }
            }
        }
    }
}
