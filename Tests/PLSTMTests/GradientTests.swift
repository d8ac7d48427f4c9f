import PLSTM
import ParallelScan
import Testing

/// Loss L(y) = Σ w·y + ½ Σ y²; ∂L/∂y = w + y.
private func loss(_ y: [Double], _ w: [Double]) -> Double {
    zip(y, w).reduce(0) { $0 + $1.0 * $1.1 + 0.5 * $1.0 * $1.0 }
}

/// Central difference of f at every coordinate of `p`, compared with `grad`:
/// max |fd − grad| / max(1e-3, max |fd|) must be ≤ 1e-5.
private func checkFD(
    _ name: String, _ p: [Double], _ grad: [Double], _ f: ([Double]) throws -> Double
) throws {
    #expect(p.count == grad.count)
    let h = 1e-5
    var err = 0.0
    var scale = 1e-3
    for k in 0..<p.count {
        var a = p
        var b = p
        a[k] += h
        b[k] -= h
        let fd = (try f(a) - f(b)) / (2 * h)
        err = max(err, abs(fd - grad[k]))
        scale = max(scale, abs(fd))
    }
    #expect(err / scale <= 1e-5, "\(name): relative error \(err / scale)")
}

@Suite("Gradients (adjoint vs central differences)")
struct GradientTests {
    @Test func dagAdjointMatchesFiniteDifferences() throws {
        var rng = TestRNG(seed: 21)
        let d = 2
        let g = try randomDAG(8, 0.5, &rng)
        let gates = randomGates(g, &rng)
        let x = rng.array(g.nodeCount * d)
        let w = rng.array(g.nodeCount * d)
        func L(_ gates: DAGGates<Double>, _ x: [Double]) throws -> Double {
            loss(try g.propagate(gates: gates, input: x, stateSize: d, pool: .serial).output, w)
        }
        let fwd = try g.propagate(gates: gates, input: x, stateSize: d)
        let gy = zip(w, fwd.output).map { $0 + $1 }
        let grad = try g.adjoint(
            gates: gates, input: x, stateSize: d, forward: fwd, outputGradient: gy,
            pool: WorkerPool(threadCount: 2, choice: .allThreads))
        try checkFD("x", x, grad.input) { try L(gates, $0) }
        try checkFD("source", gates.source, grad.gates.source) { v in
            var q = gates
            q.source = v
            return try L(q, x)
        }
        try checkFD("transition", gates.transition, grad.gates.transition) { v in
            var q = gates
            q.transition = v
            return try L(q, x)
        }
        try checkFD("mark", gates.mark, grad.gates.mark) { v in
            var q = gates
            q.mark = v
            return try L(q, x)
        }
        try checkFD("direct", gates.direct, grad.gates.direct) { v in
            var q = gates
            q.direct = v
            return try L(q, x)
        }
    }

    @Test func pModeAndDModeParameterGradients() throws {
        var rng = TestRNG(seed: 22)
        let d = 2
        let g = try randomDAG(7, 0.55, &rng)
        let x = rng.array(g.nodeCount * d)
        let w = rng.array(g.nodeCount * d)
        func gateGradient(_ gates: DAGGates<Double>) throws -> DAGGates<Double> {
            let fwd = try g.propagate(gates: gates, input: x, stateSize: d)
            let gy = zip(w, fwd.output).map { $0 + $1 }
            return try g.adjoint(
                gates: gates, input: x, stateSize: d, forward: fwd, outputGradient: gy
            ).gates
        }
        func L(_ gates: DAGGates<Double>) throws -> Double {
            loss(try g.propagate(gates: gates, input: x, stateSize: d).output, w)
        }
        // P-mode.
        let p = randomPMode(g, &rng)
        let dp = try p.backpropagate(gateGradient: gateGradient(p.gates(for: g)), graph: g)
        try checkFD("P sourceScale", p.sourceScale, dp.sourceScale) { v in
            var q = p
            q.sourceScale = v
            return try L(q.gates(for: g))
        }
        try checkFD("P orientation", p.orientationLogits, dp.orientationLogits) { v in
            var q = p
            q.orientationLogits = v
            return try L(q.gates(for: g))
        }
        try checkFD("P transition", p.transitionLogits, dp.transitionLogits) { v in
            var q = p
            q.transitionLogits = v
            return try L(q.gates(for: g))
        }
        try checkFD("P mark", p.mark, dp.mark) { v in
            var q = p
            q.mark = v
            return try L(q.gates(for: g))
        }
        // D-mode.
        let kept = g.multitreeTransitions()
        let dm = randomDMode(g, &rng)
        let dd = dm.backpropagate(gateGradient: try gateGradient(dm.gates(for: g, kept: kept)), kept: kept)
        try checkFD("D transition", dm.transitionLogits, dd.transitionLogits) { v in
            var q = dm
            q.transitionLogits = v
            return try L(q.gates(for: g, kept: kept))
        }
        try checkFD("D source", dm.source, dd.source) { v in
            var q = dm
            q.source = v
            return try L(q.gates(for: g, kept: kept))
        }
    }

    @Test func gridAdjointMatchesFiniteDifferences() throws {
        var rng = TestRNG(seed: 23)
        let (h, w, d) = (4, 5, 2)
        let g = try randomGridGeneral(h, w, &rng)
        let x = rng.array(h * w * d)
        let wt = rng.array(h * w * d)
        let y = try g.wavefront(input: x, stateSize: d)
        let grad = try g.adjoint(input: x, stateSize: d, outputGradient: zip(wt, y).map { $0 + $1 })
        func L(_ g: GridGates<Double>, _ x: [Double]) throws -> Double {
            loss(try g.wavefront(input: x, stateSize: d), wt)
        }
        try checkFD("grid x", x, grad.input) { try L(g, $0) }
        let paths: [(String, WritableKeyPath<GridGates<Double>, [Double]>)] = [
            ("sourceRight", \.sourceRight), ("sourceDown", \.sourceDown),
            ("rightFromLeft", \.rightFromLeft), ("rightFromUp", \.rightFromUp),
            ("downFromLeft", \.downFromLeft), ("downFromUp", \.downFromUp),
            ("markLeft", \.markLeft), ("markUp", \.markUp), ("direct", \.direct),
        ]
        for (name, kp) in paths {
            try checkFD(name, g[keyPath: kp], grad.gates[keyPath: kp]) { v in
                var q = g
                q[keyPath: kp] = v
                return try L(q, x)
            }
        }
    }
}
