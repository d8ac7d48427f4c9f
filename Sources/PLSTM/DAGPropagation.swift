import ParallelScan

/// The Source, Transition, Mark and Direct gates of one pLSTM head on a ``DAG``.
///
/// pLSTM (Pöppel et al. 2025) uses **scalar gates per line-graph element** and a **vector state
/// per edge**: in the model the node input is a key–value outer product flattened to `d` lanes and
/// the output is read by a query, but the propagation is linear in the input and acts on every lane
/// the same way. With x_v ∈ ℝ^d the node input and c_e ∈ ℝ^d the state of edge e:
///
///     c_e = S_e · x_u + Σ_{e' ∈ in(u)} T_{e'→e} · c_{e'}          for e = (u → w)
///     y_v = D_v · x_v + Σ_{e ∈ in(v)} M_e · c_e
///
/// which unrolls to the path sum
///
///     y_v = D_v x_v + Σ_u Σ_{paths e_1 … e_k from u to v} M_{e_k} · T_{e_{k−1}→e_k} ⋯ T_{e_1→e_2} · S_{e_1} · x_u.
///
/// - `source[e]`: S_e, written at the tail of edge e (one per edge).
/// - `transition[k]`: T for line-graph arc k (see ``DAG/lineGraph()`` for the numbering).
/// - `mark[e]`: M_e, read at the head of edge e (one per edge).
/// - `direct[v]`: D_v (one per node).
///
/// Gates are plain values here; ``PModeParameters`` and ``DModeParameters`` build normalised
/// gates from unconstrained parameters.
public struct DAGGates<S: ScanScalar>: Sendable, Equatable {
    /// S_e per edge.
    public var source: [S]
    /// T per line-graph arc (transition slot).
    public var transition: [S]
    /// M_e per edge.
    public var mark: [S]
    /// D_v per node.
    public var direct: [S]

    /// Creates a gate set from its four arrays.
    public init(source: [S], transition: [S], mark: [S], direct: [S]) {
        self.source = source
        self.transition = transition
        self.mark = mark
        self.direct = direct
    }

    /// All-zero gates shaped for `graph` (also the shape of a gradient).
    public init(zerosFor graph: DAG) {
        source = [S](repeating: 0, count: graph.edgeCount)
        transition = [S](repeating: 0, count: graph.transitionCount)
        mark = [S](repeating: 0, count: graph.edgeCount)
        direct = [S](repeating: 0, count: graph.nodeCount)
    }

    func check(_ graph: DAG) throws(PLSTMError) {
        try checkCount("source", source.count, graph.edgeCount)
        try checkCount("transition", transition.count, graph.transitionCount)
        try checkCount("mark", mark.count, graph.edgeCount)
        try checkCount("direct", direct.count, graph.nodeCount)
    }
}

/// The result of a forward propagation on a DAG.
public struct DAGForward<S: ScanScalar>: Sendable {
    /// y, `[nodeCount][d]`.
    public var output: [S]
    /// The edge states c, `[edgeCount][d]` (needed by the adjoint pass).
    public var edgeStates: [S]
}

/// Gradients of a scalar loss L with respect to everything a DAG propagation reads: the gates
/// and x, `[nodeCount][d]`.
public typealias DAGGradients<S: ScanScalar> = PropagationGradients<DAGGates<S>, S>

extension DAG {
    /// Forward pLSTM propagation in topological order, parallel over the nodes of each level.
    ///
    /// Computes the recurrences documented on ``DAGGates``. Nodes of one ``levels`` entry are
    /// independent (each writes only its outgoing edge states and its output) and run on `pool`.
    ///
    /// - Parameters:
    ///   - gates: the gates, shaped for this graph.
    ///   - input: x, `[nodeCount][stateSize]`.
    ///   - stateSize: d, lanes per node (≥ 1).
    ///   - pool: the workers.
    /// - Returns: outputs and edge states.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func propagate<S: ScanScalar>(
        gates: DAGGates<S>, input: [S], stateSize d: Int, pool: WorkerPool = .shared
    ) throws(PLSTMError) -> DAGForward<S> {
        try checkPropagation(gates: gates, input: input, stateSize: d)
        var output = [S](repeating: 0, count: nodeCount * d)
        var states = [S](repeating: 0, count: edgeCount * d)
        if nodeCount == 0 { return DAGForward(output: output, edgeStates: states) }
        withInputPointers(gates, input) { ix, gp, x in
            output.withUnsafeMutableBufferPointer { yb in
                states.withUnsafeMutableBufferPointer { cb in
                    let y = yb.baseAddress!
                    let c = cb.baseAddress
                    for level in levels {
                        forEachChunk(level.count, pool) { k in
                            Self.forwardNode(level[k], ix, d, gp.source, gp.transition, gp.mark, gp.direct, x, y, c)
                        }
                    }
                }
            }
        }
        return DAGForward(output: output, edgeStates: states)
    }

    /// Reverse (adjoint) propagation: gradients of L with respect to the gates and the input,
    /// given ∂L/∂y.
    ///
    /// With g_v = ∂L/∂y_v and λ_e = ∂L/∂c_e, processed in reverse level order:
    ///
    ///     λ_e = M_e · g_v + Σ_{e'' ∈ out(v)} T_{e→e''} · λ_{e''}         for e = (u → v)
    ///     ∂L/∂M_e = ⟨g_v, c_e⟩,  ∂L/∂T_{e'→e} = ⟨λ_e, c_{e'}⟩,  ∂L/∂S_e = ⟨λ_e, x_u⟩,
    ///     ∂L/∂D_v = ⟨g_v, x_v⟩,  ∂L/∂x_v = D_v g_v + Σ_{e ∈ out(v)} S_e λ_e.
    ///
    /// - Parameters:
    ///   - gates, input, stateSize: as for the forward pass.
    ///   - forward: the forward pass result (its edge states are used).
    ///   - outputGradient: ∂L/∂y, `[nodeCount][d]`.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func adjoint<S: ScanScalar>(
        gates: DAGGates<S>, input: [S], stateSize d: Int, forward: DAGForward<S>,
        outputGradient: [S], pool: WorkerPool = .shared
    ) throws(PLSTMError) -> DAGGradients<S> {
        try checkPropagation(gates: gates, input: input, stateSize: d)
        try checkCount("edgeStates", forward.edgeStates.count, edgeCount * d)
        try checkCount("outputGradient", outputGradient.count, nodeCount * d)
        var grad = DAGGates<S>(zerosFor: self)
        var dx = [S](repeating: 0, count: nodeCount * d)
        var lambda = [S](repeating: 0, count: edgeCount * d)
        if nodeCount == 0 { return DAGGradients(gates: grad, input: dx) }
        withInputPointers(gates, input) { ix, gp, x in
            forward.edgeStates.withUnsafeBufferPointer { cb in
                outputGradient.withUnsafeBufferPointer { gb in
                    lambda.withUnsafeMutableBufferPointer { lb in
                        dx.withUnsafeMutableBufferPointer { dxb in
                            grad.withMutablePointers { gs, gt, gm, gd in
                                let p = AdjointPointers(
                                    src: gp.source, tr: gp.transition, mk: gp.mark, dr: gp.direct, x: x,
                                    c: cb.baseAddress, g: gb.baseAddress!, lambda: lb.baseAddress,
                                    dx: dxb.baseAddress!, gs: gs, gt: gt, gm: gm, gd: gd)
                                for level in levels.reversed() {
                                    forEachChunk(level.count, pool) { k in
                                        Self.adjointNode(level[k], ix, d, p)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return DAGGradients(gates: grad, input: dx)
    }

    /// Checks d ≥ 1 and the shapes of the gates and of x `[nodeCount][d]`.
    func checkPropagation<S: ScanScalar>(gates: DAGGates<S>, input: [S], stateSize d: Int) throws(PLSTMError) {
        if d < 1 { throw .invalidStateSize(d) }
        try gates.check(self)
        try checkCount("input", input.count, nodeCount * d)
    }

    // MARK: kernels

    struct IndexPointers {
        let inOffsets: UnsafePointer<Int>
        let inList: UnsafePointer<Int>
        let outOffsets: UnsafePointer<Int>
        let outList: UnsafePointer<Int>
        let arcOffsets: UnsafePointer<Int>

        /// Node `v`'s slices of the CSR lists: its incoming edges `inList[incoming]`, outgoing
        /// edges `outList[outgoing]`, and its transitions, arc (i, j) at `arcs + i·|outgoing| + j`.
        @inline(__always)
        func node(_ v: Int) -> (incoming: Range<Int>, outgoing: Range<Int>, arcs: Int) {
            (inOffsets[v]..<inOffsets[v + 1], outOffsets[v]..<outOffsets[v + 1], arcOffsets[v])
        }
    }

    func withIndexPointers<R>(_ body: (IndexPointers) -> R) -> R {
        // One padding element so that the base addresses exist for edgeless graphs.
        let inL = inList + [0]
        let outL = outList + [0]
        return inOffsets.withUnsafeBufferPointer { io in
            inL.withUnsafeBufferPointer { il in
                outOffsets.withUnsafeBufferPointer { oo in
                    outL.withUnsafeBufferPointer { ol in
                        arcOffsets.withUnsafeBufferPointer { ao in
                            body(
                                IndexPointers(
                                    inOffsets: io.baseAddress!, inList: il.baseAddress!,
                                    outOffsets: oo.baseAddress!, outList: ol.baseAddress!,
                                    arcOffsets: ao.baseAddress!))
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    static func forwardNode<S: ScanScalar>(
        _ u: Int, _ ix: IndexPointers, _ d: Int, _ src: UnsafePointer<S>?,
        _ tr: UnsafePointer<S>?, _ mk: UnsafePointer<S>?, _ dr: UnsafePointer<S>,
        _ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, _ c: UnsafeMutablePointer<S>?
    ) {
        let (incoming, outgoing, arc0) = ix.node(u)
        let (i0, i1, o0, od) = (incoming.lowerBound, incoming.upperBound, outgoing.lowerBound, outgoing.count)
        let xu = x + u * d
        for jj in 0..<od {
            let e = ix.outList[o0 + jj]
            let ce = c! + e * d
            let s = src![e]
            for l in 0..<d { ce[l] = s * xu[l] }
            for ii in 0..<(i1 - i0) {
                let t = tr![arc0 + ii * od + jj]
                let cin = UnsafePointer(c! + ix.inList[i0 + ii] * d)
                for l in 0..<d { ce[l] += t * cin[l] }
            }
        }
        let yu = y + u * d
        let dv = dr[u]
        for l in 0..<d { yu[l] = dv * xu[l] }
        for ii in i0..<i1 {
            let e = ix.inList[ii]
            let m = mk![e]
            let cin = UnsafePointer(c! + e * d)
            for l in 0..<d { yu[l] += m * cin[l] }
        }
    }

    struct AdjointPointers<S: ScanScalar> {
        let src: UnsafePointer<S>?
        let tr: UnsafePointer<S>?
        let mk: UnsafePointer<S>?
        let dr: UnsafePointer<S>
        let x: UnsafePointer<S>
        let c: UnsafePointer<S>?
        let g: UnsafePointer<S>
        let lambda: UnsafeMutablePointer<S>?
        let dx: UnsafeMutablePointer<S>
        let gs: UnsafeMutablePointer<S>?
        let gt: UnsafeMutablePointer<S>?
        let gm: UnsafeMutablePointer<S>?
        let gd: UnsafeMutablePointer<S>
    }

    @inline(__always)
    static func adjointNode<S: ScanScalar>(
        _ v: Int, _ ix: IndexPointers, _ d: Int, _ p: AdjointPointers<S>
    ) {
        let (incoming, outgoing, arc0) = ix.node(v)
        let (i0, i1, o0, od) = (incoming.lowerBound, incoming.upperBound, outgoing.lowerBound, outgoing.count)
        let gv = p.g + v * d
        let xv = p.x + v * d
        // Outgoing edges: their λ is final (heads are at later levels).
        let dxv = p.dx + v * d
        let dv = p.dr[v]
        var gdv: S = 0
        for l in 0..<d {
            dxv[l] = dv * gv[l]
            gdv += gv[l] * xv[l]
        }
        p.gd[v] = gdv
        for jj in 0..<od {
            let e = ix.outList[o0 + jj]
            let le = UnsafePointer(p.lambda! + e * d)
            let s = p.src![e]
            var gse: S = 0
            for l in 0..<d {
                dxv[l] += s * le[l]
                gse += le[l] * xv[l]
            }
            p.gs![e] = gse
        }
        // Incoming edges: λ_e = M_e g_v + Σ_j T_{e→e_j} λ_{e_j}; gradients of M and T.
        for ii in 0..<(i1 - i0) {
            let e = ix.inList[i0 + ii]
            let le = p.lambda! + e * d
            let ce = p.c! + e * d
            let m = p.mk![e]
            var gme: S = 0
            for l in 0..<d {
                le[l] = m * gv[l]
                gme += gv[l] * ce[l]
            }
            p.gm![e] = gme
            for jj in 0..<od {
                let k = arc0 + ii * od + jj
                let t = p.tr![k]
                let lo = UnsafePointer(p.lambda! + ix.outList[o0 + jj] * d)
                var gtk: S = 0
                for l in 0..<d {
                    le[l] += t * lo[l]
                    gtk += lo[l] * ce[l]
                }
                p.gt![k] = gtk
            }
        }
    }
}

/// Read-only pointers to a ``DAGGates``' arrays (nil for an empty one; `direct` is never empty
/// on a graph with nodes).
struct GatePointers<S> {
    let source: UnsafePointer<S>?, transition: UnsafePointer<S>?, mark: UnsafePointer<S>?
    let direct: UnsafePointer<S>
}

extension DAG {
    /// Runs `body` with the graph's index pointers and pointers to the gates and to x: what both
    /// propagation directions read.
    func withInputPointers<S, R>(
        _ gates: DAGGates<S>, _ input: [S], _ body: (IndexPointers, GatePointers<S>, UnsafePointer<S>) -> R
    ) -> R {
        withIndexPointers { ix in
            gates.source.withUnsafeBufferPointer { a in
                gates.transition.withUnsafeBufferPointer { b in
                    gates.mark.withUnsafeBufferPointer { c in
                        gates.direct.withUnsafeBufferPointer { dd in
                            input.withUnsafeBufferPointer { x in
                                body(
                                    ix,
                                    GatePointers(
                                        source: a.baseAddress, transition: b.baseAddress, mark: c.baseAddress,
                                        direct: dd.baseAddress!),
                                    x.baseAddress!)
                            }
                        }
                    }
                }
            }
        }
    }
}

extension DAGGates {
    /// Runs `body` with pointers to the source, transition, mark (nil when empty) and direct
    /// gates, for writing.
    mutating func withMutablePointers<R>(
        _ body: (
            UnsafeMutablePointer<S>?, UnsafeMutablePointer<S>?, UnsafeMutablePointer<S>?,
            UnsafeMutablePointer<S>
        ) -> R
    ) -> R {
        source.withUnsafeMutableBufferPointer { a in
            transition.withUnsafeMutableBufferPointer { b in
                mark.withUnsafeMutableBufferPointer { c in
                    direct.withUnsafeMutableBufferPointer { dd in
                        body(a.baseAddress, b.baseAddress, c.baseAddress, dd.baseAddress!)
                    }
                }
            }
        }
    }
}

/// Runs `body(k)` for k in 0..<count on the pool, in contiguous chunks of at least 32 items
/// (small levels stay on the calling thread). Items must write disjoint memory.
@inline(__always)
func forEachChunk(_ count: Int, _ pool: WorkerPool, _ body: (Int) -> Void) {
    let chunks = min(pool.threadCount, (count + 31) / 32)
    if chunks <= 1 {
        for k in 0..<count { body(k) }
        return
    }
    pool.forEach(chunks) { chunk in
        for k in ChunkPlan.evenRange(index: chunk, of: chunks, total: count) { body(k) }
    }
}
