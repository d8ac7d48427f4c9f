/// A directed edge `from → to` of a ``DAG``.
public struct DAGEdge: Sendable, Hashable, CustomStringConvertible {
    /// The tail node (where the edge state is written by the Source/Transition gates).
    public var from: Int
    /// The head node (where the edge state is read by the Mark and Transition gates).
    public var to: Int

    /// Creates the edge `from → to`.
    public init(_ from: Int, _ to: Int) {
        self.from = from
        self.to = to
    }

    public var description: String { "\(from)→\(to)" }
}

/// An arc of the line graph L(G): edge `from` = (w → v) feeds edge `to` = (v → u) at node `node`.
public struct LineGraphArc: Sendable, Hashable {
    /// Index of the incoming edge (w → v).
    public var from: Int
    /// Index of the outgoing edge (v → u).
    public var to: Int
    /// The node v where the two edges meet (the node whose Transition gate carries the arc).
    public var node: Int
}

/// A validated directed acyclic graph with the index structures pLSTM propagation needs.
///
/// Edges keep the indices they were given in. For every node the incoming and outgoing edges are
/// listed in increasing edge index. The line-graph arcs (transition slots) of node v are numbered
/// contiguously: arc `transitionOffset(v) + i·outDegree(v) + j` carries the i-th incoming edge of
/// v into its j-th outgoing edge, so the transitions of v form an `inDegree × outDegree` row-major
/// matrix.
public struct DAG: Sendable, Equatable {
    /// The number of nodes.
    public let nodeCount: Int
    /// The edges, in the order given.
    public let edges: [DAGEdge]
    /// Nodes in a topological order (every edge goes from an earlier to a later node). Ties are
    /// broken by node index within a level, so the order is level by level.
    public let topologicalOrder: [Int]
    /// `depth[v]` = the number of edges on the longest path ending at v (sources have depth 0).
    public let depth: [Int]
    /// The nodes grouped by ``depth``: `levels[k]` lists the nodes of depth k in increasing index.
    /// Nodes of one level share no edge, so they can be processed in parallel.
    public let levels: [[Int]]

    let inOffsets: [Int]
    let inList: [Int]
    let outOffsets: [Int]
    let outList: [Int]
    let arcOffsets: [Int]

    /// Validates and indexes a graph.
    ///
    /// - Throws: ``PLSTMError/invalidSize(_:)`` for a negative node count,
    ///   ``PLSTMError/edgeOutOfRange(edge:from:to:nodeCount:)`` for an edge naming a missing node,
    ///   ``PLSTMError/cycle(node:)`` with a node on a directed cycle (self-loops included).
    public init(nodeCount: Int, edges: [DAGEdge]) throws(PLSTMError) {
        if nodeCount < 0 { throw .invalidSize("node count \(nodeCount) is negative") }
        for (k, e) in edges.enumerated()
        where e.from < 0 || e.from >= nodeCount || e.to < 0 || e.to >= nodeCount {
            throw .edgeOutOfRange(edge: k, from: e.from, to: e.to, nodeCount: nodeCount)
        }
        self.nodeCount = nodeCount
        self.edges = edges
        // CSR adjacency (edge indices increasing within each node because we fill in order).
        var inCount = [Int](repeating: 0, count: nodeCount + 1)
        var outCount = [Int](repeating: 0, count: nodeCount + 1)
        for e in edges {
            inCount[e.to + 1] += 1
            outCount[e.from + 1] += 1
        }
        for v in 0..<nodeCount {
            inCount[v + 1] += inCount[v]
            outCount[v + 1] += outCount[v]
        }
        var inList = [Int](repeating: 0, count: edges.count)
        var outList = [Int](repeating: 0, count: edges.count)
        var inFill = inCount
        var outFill = outCount
        for (k, e) in edges.enumerated() {
            inList[inFill[e.to]] = k
            inFill[e.to] += 1
            outList[outFill[e.from]] = k
            outFill[e.from] += 1
        }
        inOffsets = inCount
        outOffsets = outCount
        self.inList = inList
        self.outList = outList

        // Kahn's algorithm, level by level; depth = longest path length.
        var remaining = (0..<nodeCount).map { inCount[$0 + 1] - inCount[$0] }
        var depth = [Int](repeating: 0, count: nodeCount)
        var levels: [[Int]] = []
        var current = (0..<nodeCount).filter { remaining[$0] == 0 }
        var order: [Int] = []
        order.reserveCapacity(nodeCount)
        while !current.isEmpty {
            levels.append(current)
            order.append(contentsOf: current)
            var next: [Int] = []
            for u in current {
                for k in outCount[u]..<outCount[u + 1] {
                    let w = edges[outList[k]].to
                    remaining[w] -= 1
                    if remaining[w] == 0 {
                        depth[w] = levels.count
                        next.append(w)
                    }
                }
            }
            next.sort()
            current = next
        }
        if order.count < nodeCount {
            // Every unprocessed node has an unprocessed predecessor: walk backwards until a node
            // repeats; that node lies on a cycle.
            var v = (0..<nodeCount).first { remaining[$0] > 0 }!
            var seen = Set<Int>()
            while !seen.contains(v) {
                seen.insert(v)
                for k in inCount[v]..<inCount[v + 1] {
                    let u = edges[inList[k]].from
                    if remaining[u] > 0 {
                        v = u
                        break
                    }
                }
            }
            throw .cycle(node: v)
        }
        topologicalOrder = order
        self.depth = depth
        self.levels = levels
        var arcs = [Int](repeating: 0, count: nodeCount + 1)
        for v in 0..<nodeCount {
            arcs[v + 1] = arcs[v] + (inCount[v + 1] - inCount[v]) * (outCount[v + 1] - outCount[v])
        }
        arcOffsets = arcs
    }

    /// The number of edges.
    public var edgeCount: Int { edges.count }

    /// The number of line-graph arcs (transition slots), Σ_v inDegree(v)·outDegree(v).
    public var transitionCount: Int { arcOffsets[nodeCount] }

    /// Indices of the edges ending at `node`, increasing.
    public func incomingEdges(_ node: Int) -> ArraySlice<Int> {
        inList[inOffsets[node]..<inOffsets[node + 1]]
    }

    /// Indices of the edges leaving `node`, increasing.
    public func outgoingEdges(_ node: Int) -> ArraySlice<Int> {
        outList[outOffsets[node]..<outOffsets[node + 1]]
    }

    /// The number of edges ending at `node`.
    public func inDegree(_ node: Int) -> Int { inOffsets[node + 1] - inOffsets[node] }

    /// The number of edges leaving `node`.
    public func outDegree(_ node: Int) -> Int { outOffsets[node + 1] - outOffsets[node] }

    /// Index of the first transition slot of `node` (see the type's discussion).
    public func transitionOffset(_ node: Int) -> Int { arcOffsets[node] }

    /// The line graph L(G): one arc per pair (e1 = (w→v), e2 = (v→u)), listed in transition-slot
    /// order, so `lineGraph()[k]` is the arc whose transition gate is `transitions[k]`.
    public func lineGraph() -> [LineGraphArc] {
        var arcs: [LineGraphArc] = []
        arcs.reserveCapacity(transitionCount)
        for v in 0..<nodeCount {
            for e1 in incomingEdges(v) {
                for e2 in outgoingEdges(v) { arcs.append(LineGraphArc(from: e1, to: e2, node: v)) }
            }
        }
        return arcs
    }

    /// The transition slot of the arc e1 → e2, or nil when e1 does not end where e2 starts.
    public func transitionIndex(from e1: Int, to e2: Int) -> Int? {
        let v = edges[e1].to
        guard edges[e2].from == v,
            let i = incomingEdges(v).firstIndex(of: e1),
            let j = outgoingEdges(v).firstIndex(of: e2)
        else { return nil }
        return arcOffsets[v] + (i - inOffsets[v]) * outDegree(v) + (j - outOffsets[v])
    }

    /// A chain 0 → 1 → … → n−1 (edge t is t → t+1).
    public static func chain(_ n: Int) throws(PLSTMError) -> DAG {
        if n < 1 { throw .invalidSize("a chain needs at least one node, got \(n)") }
        return try DAG(nodeCount: n, edges: (0..<(n - 1)).map { DAGEdge($0, $0 + 1) })
    }

    /// The H×W grid: node (i, j) has index i·W + j, with an edge to the right neighbour and one
    /// down. Edges are listed node by node in row-major order, the right edge before the down
    /// edge (so node (i, j)'s right edge precedes its down edge).
    public static func grid(height: Int, width: Int) throws(PLSTMError) -> DAG {
        if height < 1 || width < 1 { throw .invalidSize("grid \(height)×\(width)") }
        var edges: [DAGEdge] = []
        for i in 0..<height {
            for j in 0..<width {
                let v = i * width + j
                if j + 1 < width { edges.append(DAGEdge(v, v + 1)) }
                if i + 1 < height { edges.append(DAGEdge(v, v + width)) }
            }
        }
        return try DAG(nodeCount: height * width, edges: edges)
    }
}
