import ParaRNN
import ParallelScan
import Testing

/// Hand-written vectorised kernels vs the dual-number linearisation of each cell's generic
/// `step` (Double: both are exact derivatives of the same function, so they agree to rounding).
@Suite("Hand-written Jacobians vs forward-mode dual numbers")
struct JacobianTests {
    func check<C: GenericStepCell>(_ cell: C, batch: Int, request: JacobianRequest, seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let steps = 4
        let row = cell.stateRowSize(batch: batch)
        let states: [C.Scalar] = uniform(steps * row, 0.9, &rng)
        let previous: [C.Scalar] = uniform(row, 0.9, &rng)
        let u: [C.Scalar] = uniform(steps * cell.projectionRowSize(batch: batch), 1.5, &rng)
        let jrow = cell.jacobianRowSize(batch: batch, request: request)
        var fast = [C.Scalar](repeating: 0, count: steps * row)
        var fastJ = [C.Scalar](repeating: 0, count: steps * jrow)
        var dual = fast
        var dualJ = fastJ
        states.withUnsafeBufferPointer { s in
            previous.withUnsafeBufferPointer { p in
                u.withUnsafeBufferPointer { u in
                    fast.withUnsafeMutableBufferPointer { f in
                        fastJ.withUnsafeMutableBufferPointer { j in
                            cell.linearize(
                                steps: 0..<steps, batch: batch, previous: p.baseAddress!, states: s.baseAddress!,
                                projections: u.baseAddress!, values: f.baseAddress!, jacobians: j.baseAddress!,
                                request: request)
                        }
                    }
                    dual.withUnsafeMutableBufferPointer { f in
                        dualJ.withUnsafeMutableBufferPointer { j in
                            cell.genericLinearize(
                                steps: 0..<steps, batch: batch, previous: p.baseAddress!, states: s.baseAddress!,
                                projections: u.baseAddress!, values: f.baseAddress!, jacobians: j.baseAddress!,
                                request: request)
                        }
                    }
                }
            }
        }
        for i in fast.indices { #expect(abs(Double(fast[i] - dual[i])) <= 1e-13, "\(C.cellName) value \(i)") }
        for i in fastJ.indices {
            #expect(
                abs(Double(fastJ[i] - dualJ[i])) <= 1e-12,
                "\(C.cellName) \(request) Jacobian entry \(i): \(fastJ[i]) vs \(dualJ[i])")
        }
    }

    @Test(arguments: [JacobianRequest.structured, .diagonalOnly])
    func allCells(request: JacobianRequest) throws {
        check(
            try RandomCells.paraGRU(Double.self, m: 3, d: 5, scale: 1.5, seed: 1), batch: 2, request: request, seed: 2)
        check(
            try RandomCells.paraLSTM(Double.self, m: 3, d: 4, scale: 1.5, seed: 3), batch: 3, request: request, seed: 4)
        check(try RandomCells.gru(Double.self, m: 2, d: 4, scale: 1.5, seed: 5), batch: 2, request: request, seed: 6)
        check(try RandomCells.lstm(Double.self, m: 2, d: 3, scale: 1.5, seed: 7), batch: 2, request: request, seed: 8)
        check(try RandomCells.elman(Double.self, m: 2, d: 3, scale: 1.5, seed: 9), batch: 2, request: request, seed: 10)
        // d = 11: the dense cells' SIMD lanes (an octet, then a partial quad) for values and J's diagonal.
        check(try RandomCells.gru(Double.self, m: 2, d: 11, scale: 1.5, seed: 11), batch: 2, request: request, seed: 12)
        check(
            try RandomCells.lstm(Double.self, m: 2, d: 11, scale: 1.5, seed: 13), batch: 2, request: request, seed: 14)
    }

    @Test("dual numbers agree with central finite differences of the generic step")
    func dualVsFiniteDifferences() throws {
        let cell = try RandomCells.lstm(Double.self, m: 2, d: 3, scale: 1.2, seed: 11)
        var rng = SeededGenerator(seed: 12)
        let s: [Double] = uniform(cell.stateSize, 0.9, &rng)
        let u: [Double] = uniform(cell.gateCount * cell.hiddenSize, 1, &rng)
        let h = 1e-6
        for c in 0..<cell.stateSize {
            var plus = s
            var minus = s
            plus[c] += h
            minus[c] -= h
            let fp = cell.step(state: plus, projection: u)
            let fm = cell.step(state: minus, projection: u)
            let ds = (0..<s.count).map { Dual(value: s[$0], tangent: $0 == c ? 1.0 : 0) }
            let out = cell.step(state: ds, projection: u.map { Dual($0) })
            for r in 0..<cell.stateSize {
                // Central differences: truncation O(h²) ≈ 1e-12, rounding ε/h ≈ 1e-10.
                #expect(abs((fp[r] - fm[r]) / (2 * h) - out[r].tangent) <= 1e-8)
            }
        }
    }
}

/// The PyTorch-export cells (`nn.RNN(nonlinearity="relu")`, `nn.LSTM(proj_size=p)`): kernels vs
/// their dual-number linearisation.
@Suite struct TorchCellJacobianTests {
    func weights(_ count: Int, _ scale: Double, _ rng: inout SeededGenerator) -> [Double] {
        uniform(count, scale, &rng)
    }

    @Test(arguments: [JacobianRequest.structured, .diagonalOnly])
    func kernelsMatchDualNumbers(request: JacobianRequest) throws {
        var rng = SeededGenerator(seed: 24)
        let (m, d, p) = (2, 5, 3)
        let lstm = try ProjectedLSTM<Double>(
            inputSize: m, hiddenSize: d, projectionSize: p, weightIH: weights(4 * d * m, 1, &rng),
            weightHH: weights(4 * d * p, 0.8, &rng), weightHR: weights(p * d, 0.8, &rng),
            biasIH: weights(4 * d, 0.5, &rng), biasHH: weights(4 * d, 0.5, &rng))
        JacobianTests().check(lstm, batch: 2, request: request, seed: 25)
        let relu = try ElmanRNN<Double>(
            inputSize: m, hiddenSize: d, weightIH: weights(d * m, 1, &rng), weightHH: weights(d * d, 0.8, &rng),
            biasIH: weights(d, 0.5, &rng), biasHH: weights(d, 0.5, &rng), activation: .relu)
        JacobianTests().check(relu, batch: 3, request: request, seed: 26)
    }
}
