import PLSTM

/// A small deterministic generator (SplitMix64) so tests are reproducible.
struct TestRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    mutating func uniform(_ lo: Double = -1, _ hi: Double = 1) -> Double {
        lo + (hi - lo) * Double(next() >> 11) / Double(1 << 53)
    }
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func array(_ n: Int, _ lo: Double = -1, _ hi: Double = 1) -> [Double] {
        (0..<n).map { _ in uniform(lo, hi) }
    }
}

/// max |a − b| / max(1, max |b|).
func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    var err = 0.0
    var scale = 1.0
    for k in 0..<a.count {
        err = max(err, abs(a[k] - b[k]))
        scale = max(scale, abs(b[k]))
    }
    return err / scale
}

/// Naive reference: y_v = D_v x_v + Σ over all paths ending at v of M·(∏T)·S·x, enumerating
/// every path explicitly by walking backwards from v (exponential; small graphs only). Uses only
/// the edge list and the transition-slot numbering of `lineGraph()`.
func pathSumReference(graph: DAG, gates: DAGGates<Double>, input x: [Double], d: Int) -> [Double] {
    var slot: [Int: [Int: Int]] = [:]
    for (k, arc) in graph.lineGraph().enumerated() { slot[arc.from, default: [:]][arc.to] = k }
    var incoming = [[Int]](repeating: [], count: graph.nodeCount)
    for (e, edge) in graph.edges.enumerated() { incoming[edge.to].append(e) }
    var y = [Double](repeating: 0, count: graph.nodeCount * d)
    // Adds weight·(sum over paths ending with edge e of ∏T·S·x) into y_v.
    func walk(_ e: Int, _ weight: Double, _ v: Int) {
        let u = graph.edges[e].from
        for l in 0..<d { y[v * d + l] += weight * gates.source[e] * x[u * d + l] }
        for e1 in incoming[u] { walk(e1, weight * gates.transition[slot[e1]![e]!], v) }
    }
    for v in 0..<graph.nodeCount {
        for l in 0..<d { y[v * d + l] += gates.direct[v] * x[v * d + l] }
        for e in incoming[v] { walk(e, gates.mark[e], v) }
    }
    return y
}

/// Naive grid reference enumerating all right/down paths, written from the grid equations
/// directly (independent of the DAG layout).
func gridPathReference(_ g: GridGates<Double>, input x: [Double], d: Int) -> [Double] {
    let W = g.width
    var y = [Double](repeating: 0, count: g.height * W * d)
    func walkR(_ i: Int, _ j: Int, _ w: Double, _ v: Int) {  // paths ending with R_{ij}
        let k = i * W + j
        for l in 0..<d { y[v * d + l] += w * g.sourceRight[k] * x[k * d + l] }
        if j > 0 { walkR(i, j - 1, w * g.rightFromLeft[k], v) }
        if i > 0 { walkD(i - 1, j, w * g.rightFromUp[k], v) }
    }
    func walkD(_ i: Int, _ j: Int, _ w: Double, _ v: Int) {  // paths ending with D_{ij}
        let k = i * W + j
        for l in 0..<d { y[v * d + l] += w * g.sourceDown[k] * x[k * d + l] }
        if j > 0 { walkR(i, j - 1, w * g.downFromLeft[k], v) }
        if i > 0 { walkD(i - 1, j, w * g.downFromUp[k], v) }
    }
    for i in 0..<g.height {
        for j in 0..<W {
            let v = i * W + j
            for l in 0..<d { y[v * d + l] += g.direct[v] * x[v * d + l] }
            if j > 0 { walkR(i, j - 1, g.markLeft[v], v) }
            if i > 0 { walkD(i - 1, j, g.markUp[v], v) }
        }
    }
    return y
}

/// A random DAG on n nodes: edges i → j (i < j in a hidden order) with probability p, then the
/// node labels are permuted so the topological order is not the index order.
func randomDAG(_ n: Int, _ p: Double, _ rng: inout TestRNG) throws -> DAG {
    var perm = Array(0..<n)
    for i in stride(from: n - 1, to: 0, by: -1) { perm.swapAt(i, rng.int(i + 1)) }
    var edges: [DAGEdge] = []
    for i in 0..<n {
        for j in (i + 1)..<max(i + 1, n) where rng.uniform(0, 1) < p {
            edges.append(DAGEdge(perm[i], perm[j]))
        }
    }
    // Shuffle edge order too.
    for i in stride(from: edges.count - 1, to: 0, by: -1) { edges.swapAt(i, rng.int(i + 1)) }
    return try DAG(nodeCount: n, edges: edges)
}

/// A random tree on n nodes; `outward`: parent → child, else child → parent.
func randomTree(_ n: Int, outward: Bool, _ rng: inout TestRNG) throws -> DAG {
    var edges: [DAGEdge] = []
    for v in 1..<n {
        let p = rng.int(v)
        edges.append(outward ? DAGEdge(p, v) : DAGEdge(v, p))
    }
    return try DAG(nodeCount: n, edges: edges)
}

func randomGates(_ g: DAG, _ rng: inout TestRNG) -> DAGGates<Double> {
    DAGGates(
        source: rng.array(g.edgeCount), transition: rng.array(g.transitionCount),
        mark: rng.array(g.edgeCount), direct: rng.array(g.nodeCount))
}

func randomPMode(_ g: DAG, _ rng: inout TestRNG) -> PModeParameters<Double> {
    PModeParameters(
        sourceScale: rng.array(g.nodeCount), orientationLogits: rng.array(g.edgeCount, -2, 2),
        transitionLogits: rng.array(g.nodeCount, -2, 2), mark: rng.array(g.edgeCount),
        direct: rng.array(g.nodeCount))
}

func randomDMode(_ g: DAG, _ rng: inout TestRNG) -> DModeParameters<Double> {
    DModeParameters(
        source: rng.array(g.edgeCount), transitionLogits: rng.array(g.transitionCount, -2, 2),
        mark: rng.array(g.edgeCount), direct: rng.array(g.nodeCount))
}

func randomGridPMode(_ h: Int, _ w: Int, _ rng: inout TestRNG) throws -> GridGates<Double> {
    let n = h * w
    return try GridGates.pMode(
        height: h, width: w, source: rng.array(n), orientationLogits: rng.array(n, -3, 3),
        transitionLogits: rng.array(n, -3, 3), mark: rng.array(n), direct: rng.array(n))
}

func randomGridDMode(_ h: Int, _ w: Int, _ rng: inout TestRNG) throws -> GridGates<Double> {
    let n = h * w
    return try GridGates.dMode(
        height: h, width: w, sourceRight: rng.array(n), sourceDown: rng.array(n),
        rightLogits: rng.array(n, -2, 2), downLogits: rng.array(n, -2, 2),
        turnLogits: rng.array(n, -2, 2), markLeft: rng.array(n), markUp: rng.array(n),
        direct: rng.array(n))
}

/// Random gates with every slot independent (not P- or D-mode), modest magnitude.
func randomGridGeneral(_ h: Int, _ w: Int, _ rng: inout TestRNG) throws -> GridGates<Double> {
    var g = try GridGates<Double>(height: h, width: w)
    let n = h * w
    g.sourceRight = rng.array(n)
    g.sourceDown = rng.array(n)
    g.rightFromLeft = rng.array(n, -0.6, 0.6)
    g.rightFromUp = rng.array(n, -0.6, 0.6)
    g.downFromLeft = rng.array(n, -0.6, 0.6)
    g.downFromUp = rng.array(n, -0.6, 0.6)
    g.markLeft = rng.array(n)
    g.markUp = rng.array(n)
    g.direct = rng.array(n)
    return g
}
