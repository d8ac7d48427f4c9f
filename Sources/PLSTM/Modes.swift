import Foundation
import ParallelScan

/// P-mode (directed **p**ropagation) parameters for a ``DAG``.
///
/// Every node u chooses a distribution over its outgoing edges and a transition magnitude:
///
///     w_e   = softmax_{e ∈ out(u)}(θ_e)                      (orientation, Σ_e w_e = 1)
///     a_u   = tanh(τ_u) ∈ (−1, 1)                            (transition magnitude)
///     S_e   = s_u · w_e                                      for e ∈ out(u)
///     T_{e'→e} = a_u · w_e                                   for e' ∈ in(u), e ∈ out(u)
///     M_e   = m_e,   D_v = δ_v
///
/// so for every incoming edge state the total transition weight leaving it is bounded:
/// Σ_{e ∈ out(u)} |T_{e'→e}| = |a_u| < 1 (the paper's P-mode condition, column-wise L1 norm ≤ 1).
/// All paths are kept. For one source node u, the contributions to all edge states reached by
/// paths with k transitions sum (in absolute value) to at most |s_u|·|x_u|·a_max^k, because each
/// transition step redistributes at most a fraction |a| of the weight. Hence
/// |c_e| ≤ s_max·x_max·Σ_k N_k(e)·a_max^k, with N_k(e) the number of nodes that reach e with k
/// transitions. On the 2D grid N_k ≤ k + 1, so
///
///     |c_e| ≤ s_max · x_max · Σ_k (k+1) a_max^k = s_max · x_max / (1 − a_max)²,
///     |y_v| ≤ |δ_v| x_max + (|m_left| + |m_up|) · s_max · x_max / (1 − a_max)².
///
/// This mirrors the 2D P-mode of the reference code, where a node's orientation o ∈ (0, 1)
/// splits source and transition between the right (o) and down (1 − o) outgoing edges.
public struct PModeParameters<S: ScanScalar>: Sendable, Equatable {
    /// s_u per node.
    public var sourceScale: [S]
    /// θ_e per edge (orientation logits, normalised over the outgoing edges of the tail).
    public var orientationLogits: [S]
    /// τ_u per node (a_u = tanh τ_u).
    public var transitionLogits: [S]
    /// m_e per edge.
    public var mark: [S]
    /// δ_v per node.
    public var direct: [S]

    /// Creates P-mode parameters from their arrays.
    public init(
        sourceScale: [S], orientationLogits: [S], transitionLogits: [S], mark: [S], direct: [S]
    ) {
        self.sourceScale = sourceScale
        self.orientationLogits = orientationLogits
        self.transitionLogits = transitionLogits
        self.mark = mark
        self.direct = direct
    }

    func check(_ g: DAG) throws(PLSTMError) {
        try checkCount("sourceScale", sourceScale.count, g.nodeCount)
        try checkCount("orientationLogits", orientationLogits.count, g.edgeCount)
        try checkCount("transitionLogits", transitionLogits.count, g.nodeCount)
        try checkCount("mark", mark.count, g.edgeCount)
        try checkCount("direct", direct.count, g.nodeCount)
    }

    func orientation(_ graph: DAG) -> [S] {
        var w = [S](repeating: 0, count: graph.edgeCount)
        for u in 0..<graph.nodeCount {
            let outs = graph.outgoingEdges(u)
            guard let mx = outs.map({ orientationLogits[$0] }).max() else { continue }
            var sum: S = 0
            for e in outs {
                w[e] = S(exp(Double(orientationLogits[e] - mx)))
                sum += w[e]
            }
            for e in outs { w[e] /= sum }
        }
        return w
    }

    /// The normalised gates (see the type's equations).
    public func gates(for graph: DAG) throws(PLSTMError) -> DAGGates<S> {
        try check(graph)
        let w = orientation(graph)
        var g = DAGGates<S>(zerosFor: graph)
        for u in 0..<graph.nodeCount {
            let a = S(tanh(Double(transitionLogits[u])))
            let outs = graph.outgoingEdges(u)
            let od = outs.count
            for (j, e) in outs.enumerated() {
                g.source[e] = sourceScale[u] * w[e]
                for i in 0..<graph.inDegree(u) {
                    g.transition[graph.transitionOffset(u) + i * od + j] = a * w[e]
                }
            }
            g.direct[u] = direct[u]
        }
        g.mark = mark
        return g
    }

    /// Chain rule through ``gates(for:)``: turns ∂L/∂gates into ∂L/∂parameters.
    public func backpropagate(gateGradient gg: DAGGates<S>, graph: DAG) throws(PLSTMError)
        -> PModeParameters<S>
    {
        try check(graph)
        try gg.check(graph)
        let w = orientation(graph)
        var r = PModeParameters(
            sourceScale: [S](repeating: 0, count: graph.nodeCount),
            orientationLogits: [S](repeating: 0, count: graph.edgeCount),
            transitionLogits: [S](repeating: 0, count: graph.nodeCount), mark: gg.mark,
            direct: gg.direct)
        for u in 0..<graph.nodeCount {
            let a = S(tanh(Double(transitionLogits[u])))
            let outs = graph.outgoingEdges(u)
            let od = outs.count
            var da: S = 0
            var ds: S = 0
            var dw = [S](repeating: 0, count: od)
            for (j, e) in outs.enumerated() {
                var sumT: S = 0
                for i in 0..<graph.inDegree(u) {
                    sumT += gg.transition[graph.transitionOffset(u) + i * od + j]
                }
                da += sumT * w[e]
                ds += gg.source[e] * w[e]
                dw[j] = gg.source[e] * sourceScale[u] + a * sumT
            }
            r.sourceScale[u] = ds
            r.transitionLogits[u] = da * (1 - a * a)
            var mean: S = 0
            for (j, e) in outs.enumerated() { mean += w[e] * dw[j] }
            for (j, e) in outs.enumerated() { r.orientationLogits[e] = w[e] * (dw[j] - mean) }
        }
        return r
    }
}

/// D-mode (**d**iffusive distribution) parameters for a ``DAG``.
///
/// The line graph is pruned to a **multitree** (``DAG/multitreeTransitions()``): afterwards
/// there is at most one path between any two edges, so the path sum of the propagation has at
/// most one term per (source edge, target edge) pair — the "number of paths" normalisation is
/// exactly 1 — and with bounded transitions no pair's contribution can grow with the number of
/// routes through the graph. Gates:
///
///     T_{e'→e} = tanh(τ_{e'→e}) if the arc is kept, 0 if pruned      (|T| < 1)
///     S_e = σ_e,   M_e = m_e,   D_v = δ_v                            (free)
public struct DModeParameters<S: ScanScalar>: Sendable, Equatable {
    /// σ_e per edge.
    public var source: [S]
    /// τ per line-graph arc.
    public var transitionLogits: [S]
    /// m_e per edge.
    public var mark: [S]
    /// δ_v per node.
    public var direct: [S]

    /// Creates D-mode parameters from their arrays.
    public init(source: [S], transitionLogits: [S], mark: [S], direct: [S]) {
        self.source = source
        self.transitionLogits = transitionLogits
        self.mark = mark
        self.direct = direct
    }

    /// The gates, with transitions on arcs outside `kept` (from ``DAG/multitreeTransitions()``)
    /// set to zero.
    public func gates(for graph: DAG, kept: [Bool]) throws(PLSTMError) -> DAGGates<S> {
        try checkCount("source", source.count, graph.edgeCount)
        try checkCount("transitionLogits", transitionLogits.count, graph.transitionCount)
        try checkCount("kept", kept.count, graph.transitionCount)
        try checkCount("mark", mark.count, graph.edgeCount)
        try checkCount("direct", direct.count, graph.nodeCount)
        let t = (0..<kept.count).map { kept[$0] ? S(tanh(Double(transitionLogits[$0]))) : 0 }
        return DAGGates(source: source, transition: t, mark: mark, direct: direct)
    }

    /// Chain rule through ``gates(for:kept:)``.
    public func backpropagate(gateGradient gg: DAGGates<S>, kept: [Bool]) -> DModeParameters<S> {
        var dt = [S](repeating: 0, count: kept.count)
        for k in 0..<kept.count where kept[k] {
            let t = S(tanh(Double(transitionLogits[k])))
            dt[k] = gg.transition[k] * (1 - t * t)
        }
        return DModeParameters(
            source: gg.source, transitionLogits: dt, mark: gg.mark, direct: gg.direct)
    }
}

extension DAG {
    /// Prunes the line graph to a multitree: returns, per transition slot, whether the arc is kept.
    ///
    /// Edges are visited in topological order of their tails; for edge e the arcs e' → e are
    /// tried in increasing index of e', and an arc is kept unless e' or one of its (kept-arc)
    /// ancestors is already an ancestor of e — the arc that would open a second path. The
    /// result has at most one path between any two edges, and every edge with incoming arcs keeps
    /// at least its first one. Uses ancestor bitsets: O(E²/64) memory and time.
    public func multitreeTransitions() -> [Bool] {
        let words = (edgeCount + 63) / 64
        var anc = [UInt64](repeating: 0, count: edgeCount * words)
        var kept = [Bool](repeating: false, count: transitionCount)
        for u in topologicalOrder {
            let ins = Array(incomingEdges(u))
            let outs = Array(outgoingEdges(u))
            for (j, e) in outs.enumerated() {
                for (i, e1) in ins.enumerated() {
                    var clash = anc[e * words + e1 / 64] & (1 << UInt64(e1 % 64)) != 0
                    if !clash {
                        for w in 0..<words where anc[e1 * words + w] & anc[e * words + w] != 0 {
                            clash = true
                            break
                        }
                    }
                    if clash { continue }
                    kept[transitionOffset(u) + i * outs.count + j] = true
                    for w in 0..<words { anc[e * words + w] |= anc[e1 * words + w] }
                    anc[e * words + e1 / 64] |= 1 << UInt64(e1 % 64)
                }
            }
        }
        return kept
    }
}
