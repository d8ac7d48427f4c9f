import PLSTM
import ParallelScan
import Testing

@Suite("DAG structure")
struct DAGStructureTests {
    @Test func topologicalOrderLevelsAndLineGraph() throws {
        // 0 → 1 → 3, 0 → 2 → 3, 2 → 4, 3 → 4 (given in a scrambled order).
        let g = try DAG(
            nodeCount: 5,
            edges: [DAGEdge(3, 4), DAGEdge(0, 2), DAGEdge(2, 3), DAGEdge(0, 1), DAGEdge(1, 3), DAGEdge(2, 4)])
        #expect(g.depth == [0, 1, 1, 2, 3])
        #expect(g.levels == [[0], [1, 2], [3], [4]])
        #expect(g.topologicalOrder == [0, 1, 2, 3, 4])
        var position = [Int](repeating: 0, count: 5)
        for (k, v) in g.topologicalOrder.enumerated() { position[v] = k }
        for e in g.edges { #expect(position[e.from] < position[e.to]) }
        // Line graph: e1 = (u→v) feeds e2 = (v→w).
        let arcs = g.lineGraph()
        #expect(arcs.count == g.transitionCount)
        var expected = Set<[Int]>()
        for (a, e1) in g.edges.enumerated() {
            for (b, e2) in g.edges.enumerated() where e1.to == e2.from { expected.insert([a, b]) }
        }
        #expect(Set(arcs.map { [$0.from, $0.to] }) == expected)
        for (k, arc) in arcs.enumerated() {
            #expect(g.edges[arc.from].to == arc.node && g.edges[arc.to].from == arc.node)
            #expect(g.transitionIndex(from: arc.from, to: arc.to) == k)
        }
        #expect(g.transitionIndex(from: 3, to: 0) == nil)
    }

    @Test func cyclesAreRejectedNamingANodeOnTheCycle() {
        // 0 → 1 → 2 → 3 → 1 (cycle 1,2,3), 3 → 4, 5 → 0.
        let edges = [DAGEdge(0, 1), DAGEdge(1, 2), DAGEdge(2, 3), DAGEdge(3, 1), DAGEdge(3, 4), DAGEdge(5, 0)]
        do {
            _ = try DAG(nodeCount: 6, edges: edges)
            Issue.record("cycle accepted")
        } catch {
            guard case .cycle(let node) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect([1, 2, 3].contains(node))
            #expect(error.description.contains("cycle"))
        }
        #expect(throws: PLSTMError.cycle(node: 2)) { try DAG(nodeCount: 3, edges: [DAGEdge(2, 2)]) }
    }

    @Test func edgesOutOfRangeAreRejected() {
        #expect(throws: PLSTMError.edgeOutOfRange(edge: 1, from: 1, to: 7, nodeCount: 3)) {
            try DAG(nodeCount: 3, edges: [DAGEdge(0, 1), DAGEdge(1, 7)])
        }
        #expect(throws: PLSTMError.edgeOutOfRange(edge: 0, from: -1, to: 0, nodeCount: 3)) {
            try DAG(nodeCount: 3, edges: [DAGEdge(-1, 0)])
        }
    }

    @Test func multitreePruningLeavesAtMostOnePathBetweenEdges() throws {
        var rng = TestRNG(seed: 11)
        for _ in 0..<6 {
            let g = try randomDAG(9, 0.45, &rng)
            let kept = g.multitreeTransitions()
            let arcs = g.lineGraph()
            // Count paths between every pair of edges in the pruned line graph.
            var succ = [[Int]](repeating: [], count: g.edgeCount)
            for (k, a) in arcs.enumerated() where kept[k] { succ[a.from].append(a.to) }
            func count(_ a: Int, _ b: Int) -> Int {
                a == b ? 1 : succ[a].reduce(0) { $0 + count($1, b) }
            }
            for a in 0..<g.edgeCount {
                for b in 0..<g.edgeCount where a != b { #expect(count(a, b) <= 1) }
            }
            // Every edge with predecessors keeps at least one incoming arc.
            for e in 0..<g.edgeCount where g.inDegree(g.edges[e].from) > 0 {
                #expect(arcs.indices.contains { kept[$0] && arcs[$0].to == e })
            }
        }
    }
}

@Suite("DAG propagation")
struct DAGPropagationTests {
    func check(_ g: DAG, _ gates: DAGGates<Double>, _ rng: inout TestRNG, d: Int = 3) throws {
        let x = rng.array(g.nodeCount * d)
        let ref = pathSumReference(graph: g, gates: gates, input: x, d: d)
        for threads in [1, 2] {
            let y = try g.propagate(
                gates: gates, input: x, stateSize: d, pool: WorkerPool(threadCount: threads, choice: .allThreads))
            #expect(relativeError(y.output, ref) < 1e-10)
        }
    }

    @Test func randomDAGsMatchPathEnumeration() throws {
        var rng = TestRNG(seed: 1)
        for n in [1, 2, 5, 8, 10] {
            let g = try randomDAG(n, 0.5, &rng)
            try check(g, randomGates(g, &rng), &rng)
            try check(g, try randomPMode(g, &rng).gates(for: g), &rng)
            try check(g, try randomDMode(g, &rng).gates(for: g, kept: g.multitreeTransitions()), &rng)
        }
    }

    @Test func treesMatchPathEnumeration() throws {
        var rng = TestRNG(seed: 2)
        for outward in [true, false] {
            let g = try randomTree(12, outward: outward, &rng)
            try check(g, try randomPMode(g, &rng).gates(for: g), &rng)
            try check(g, try randomDMode(g, &rng).gates(for: g, kept: g.multitreeTransitions()), &rng)
        }
    }

    @Test func wideLevelsRunInParallel() throws {
        // 400 sources feeding 400 sinks pairwise plus a hub: levels wider than one chunk.
        var rng = TestRNG(seed: 3)
        var edges: [DAGEdge] = []
        for i in 0..<400 {
            edges.append(DAGEdge(i, 400 + i))
            edges.append(DAGEdge(i, 800))
            edges.append(DAGEdge(800, 400 + (i * 7) % 400))
        }
        let g = try DAG(nodeCount: 801, edges: edges)
        let gates = randomGates(g, &rng)
        let x = rng.array(801 * 2)
        let a = try g.propagate(gates: gates, input: x, stateSize: 2, pool: .serial)
        let b = try g.propagate(
            gates: gates, input: x, stateSize: 2, pool: WorkerPool(threadCount: 2, choice: .allThreads))
        #expect(a.output == b.output)
    }

    @Test func shapeErrors() throws {
        let g = try DAG.chain(3)
        let gates = DAGGates<Double>(zerosFor: g)
        #expect(throws: PLSTMError.bufferSize(name: "input", expected: 6, actual: 5)) {
            try g.propagate(gates: gates, input: [Double](repeating: 0, count: 5), stateSize: 2)
        }
        #expect(throws: PLSTMError.invalidStateSize(0)) {
            try g.propagate(gates: gates, input: [], stateSize: 0)
        }
    }
}
