import PLSTM
import ParallelScan
import Testing

@Suite("1D and 2D grids")
struct GridTests {
    @Test func sequenceMatchesLinearScanAndDAGChain() throws {
        var rng = TestRNG(seed: 4)
        for (n, d) in [(1, 2), (2, 3), (17, 4), (300, 3)] {
            let gates = SequenceGates(
                source: rng.array(n), transition: rng.array(n, -1, 1), mark: rng.array(n),
                direct: rng.array(n))
            let x = rng.array(n * d)
            let y = try gates.propagate(input: x, stateSize: d, pool: WorkerPool(threadCount: 2, choice: .allThreads))
            // Independent linear-RNN loop: c_t = T_t c_{t−1} + S_t x_t, y_t = D_t x_t + M_t c_{t−1}.
            var c = [Double](repeating: 0, count: d)
            var ref = [Double](repeating: 0, count: n * d)
            for t in 0..<n {
                for l in 0..<d {
                    ref[t * d + l] = gates.direct[t] * x[t * d + l] + gates.mark[t] * c[l]
                    c[l] = gates.transition[t] * c[l] + gates.source[t] * x[t * d + l]
                }
            }
            #expect(relativeError(y, ref) < 1e-12)
            // The chain DAG: same numbers through the general propagation and path enumeration.
            let chain = try DAG.chain(n)
            let dag = try chain.propagate(gates: gates.dagGates(), input: x, stateSize: d)
            #expect(relativeError(dag.output, ref) < 1e-12)
            if n <= 17 {
                let paths = pathSumReference(graph: chain, gates: try gates.dagGates(), input: x, d: d)
                #expect(relativeError(paths, ref) < 1e-10)
            }
        }
    }

    @Test func allGridPathsMatchPathEnumeration() throws {
        var rng = TestRNG(seed: 5)
        let d = 2
        for (h, w) in [(1, 1), (1, 7), (6, 1), (3, 5), (5, 4), (8, 8)] {
            let dag = try DAG.grid(height: h, width: w)
            for mode in 0..<3 {
                let g: GridGates<Double> =
                    switch mode {
                    case 0: try randomGridPMode(h, w, &rng)
                    case 1: try randomGridDMode(h, w, &rng)
                    default: try randomGridGeneral(h, w, &rng)
                    }
                let x = rng.array(h * w * d)
                let ref = gridPathReference(g, input: x, d: d)
                #expect(relativeError(try g.wavefront(input: x, stateSize: d), ref) < 1e-10)
                for leaf in [1, 2, 3] {
                    let hier = try g.hierarchical(
                        input: x, stateSize: d, leafSize: leaf, pool: WorkerPool(threadCount: 2, choice: .allThreads))
                    #expect(relativeError(hier, ref) < 1e-10, "\(h)×\(w) leaf \(leaf) mode \(mode)")
                }
                for tile in [1, 2, 3] {
                    let tiled = try g.tiledWavefront(
                        input: x, stateSize: d, blockRows: tile, pool: WorkerPool(threadCount: 3, choice: .allThreads))
                    #expect(relativeError(tiled, ref) < 1e-10, "\(h)×\(w) tile \(tile) mode \(mode)")
                }
                let viaDAG = try dag.propagate(gates: g.dagGates(dag), input: x, stateSize: d)
                #expect(relativeError(viaDAG.output, ref) < 1e-10)
                let paths = pathSumReference(graph: dag, gates: try g.dagGates(dag), input: x, d: d)
                #expect(relativeError(paths, ref) < 1e-10)
            }
        }
    }

    @Test func dModeGridIsAMultitree() throws {
        // With T^{ru} = 0 the line graph keeps one path per pair of edges: every pair is linked
        // by at most one path, so with all kept transitions = 1 the path counts are 0 or 1.
        let (h, w) = (5, 6)
        let dag = try DAG.grid(height: h, width: w)
        var g = try GridGates<Double>(height: h, width: w)
        let ones = [Double](repeating: 1, count: h * w)
        (g.rightFromLeft, g.downFromUp, g.downFromLeft) = (ones, ones, ones)
        let gates = try g.dagGates(dag)
        var succ = [[Int]](repeating: [], count: dag.edgeCount)
        for (k, a) in dag.lineGraph().enumerated() where gates.transition[k] != 0 {
            succ[a.from].append(a.to)
        }
        func count(_ a: Int, _ b: Int) -> Int { a == b ? 1 : succ[a].reduce(0) { $0 + count($1, b) } }
        for a in 0..<dag.edgeCount {
            for b in 0..<dag.edgeCount where a != b { #expect(count(a, b) <= 1) }
        }
    }

    @Test("the strip-pipelined parallel wavefront is bitwise the sequential wavefront (any block, threads)")
    func tiledWavefrontIsBitwiseWavefront() throws {
        var rng = TestRNG(seed: 61)
        for (h, w, d) in [(1, 1, 1), (1, 40, 3), (40, 1, 2), (37, 53, 3), (64, 64, 16)] {
            let g = try (h + w) % 2 == 0 ? randomGridPMode(h, w, &rng) : randomGridGeneral(h, w, &rng)
            let x = rng.array(h * w * d)
            let a = try g.wavefront(input: x, stateSize: d)
            for threads in [1, 2, 4] {
                for tile in [nil, 1, 5, 16, 100] as [Int?] {
                    let b = try g.tiledWavefront(
                        input: x, stateSize: d, blockRows: tile,
                        pool: WorkerPool(threadCount: threads, choice: .allThreads))
                    #expect(b == a, "\(h)×\(w) d=\(d) tile \(String(describing: tile)) threads \(threads)")
                }
            }
        }
        let g = try randomGridPMode(4, 4, &rng)
        #expect(throws: PLSTMError.self) { try g.tiledWavefront(input: rng.array(16), stateSize: 1, blockRows: 0) }
        #expect(throws: PLSTMError.self) { try g.tiledWavefront(input: rng.array(15), stateSize: 1) }
    }

    @Test func hierarchicalEqualsWavefrontOnOddGrids() throws {
        var rng = TestRNG(seed: 6)
        let d = 3
        for (h, w, leaf) in [(37, 53, 8), (37, 53, 5), (53, 37, 16), (64, 9, 4)] {
            let g = try randomGridPMode(h, w, &rng)
            let x = rng.array(h * w * d)
            let a = try g.wavefront(input: x, stateSize: d)
            let b = try g.hierarchical(
                input: x, stateSize: d, leafSize: leaf, pool: WorkerPool(threadCount: 2, choice: .allThreads))
            #expect(relativeError(b, a) < 1e-10, "\(h)×\(w) leaf \(leaf)")
        }
        let g = try randomGridGeneral(37, 53, &rng)
        let x = rng.array(37 * 53 * 2)
        let a = try g.wavefront(input: x, stateSize: 2)
        let b = try g.hierarchical(input: x, stateSize: 2, leafSize: 6)
        #expect(relativeError(b, a) < 1e-10)
    }

    @Test func hierarchicalInFloatMatchesDouble() throws {
        var rng = TestRNG(seed: 7)
        let g = try randomGridPMode(40, 40, &rng)
        let x = rng.array(40 * 40 * 2)
        let ref = try g.wavefront(input: x, stateSize: 2)
        var gf = try GridGates<Float>(height: 40, width: 40)
        gf.sourceRight = g.sourceRight.map(Float.init)
        gf.sourceDown = g.sourceDown.map(Float.init)
        gf.rightFromLeft = g.rightFromLeft.map(Float.init)
        gf.rightFromUp = g.rightFromUp.map(Float.init)
        gf.downFromLeft = g.downFromLeft.map(Float.init)
        gf.downFromUp = g.downFromUp.map(Float.init)
        gf.markLeft = g.markLeft.map(Float.init)
        gf.markUp = g.markUp.map(Float.init)
        gf.direct = g.direct.map(Float.init)
        let yf = try gf.hierarchical(input: x.map(Float.init), stateSize: 2, leafSize: 8)
        #expect(relativeError(yf.map(Double.init), ref) < 1e-4)
    }

    @Test func pModeStaysBoundedOn256x256() throws {
        var rng = TestRNG(seed: 8)
        let (h, w, d) = (256, 256, 2)
        let n = h * w
        // Random gates: |s|, |m|, |δ|, |x| ≤ 1, orientation logits in [−4, 4], transition
        // logits in [−1.5, 1.5] so a_max = tanh(1.5) ≈ 0.905.
        let g = try GridGates.pMode(
            height: h, width: w, source: rng.array(n), orientationLogits: rng.array(n, -4, 4),
            transitionLogits: rng.array(n, -1.5, 1.5), mark: rng.array(n), direct: rng.array(n))
        let x = rng.array(n * d)
        let y = try g.wavefront(input: x, stateSize: d)
        // Stated bound (PModeParameters): |y| ≤ δ_max x_max + 2 m_max s_max x_max / (1 − a_max)².
        let aMax = (0..<n).map { abs(g.rightFromLeft[$0]) + abs(g.downFromLeft[$0]) }.max()!
        let bound = 1 + 2 / ((1 - aMax) * (1 - aMax))
        #expect(aMax < 0.91)
        #expect(y.allSatisfy { $0.isFinite && abs($0) <= bound })
        // Far from the origin the output does not grow with the distance (no explosion).
        let cornerBlock = (200..<256).flatMap { i in (200..<256).map { j in abs(y[(i * w + j) * d]) } }
        let nearBlock = (0..<56).flatMap { i in (0..<56).map { j in abs(y[(i * w + j) * d]) } }
        #expect(cornerBlock.max()! < 4 * max(1, nearBlock.max()!))
    }
}
