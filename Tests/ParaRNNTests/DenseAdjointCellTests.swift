import ParallelScan
import Testing

@testable import ParaRNN

/// GRU, LSTM and Elman get their fused BPTT from ``DenseAdjointCell``: a generic caller must
/// reach that `fusedBackward`, not ``DifferentiableCell``'s default `false` (which would send
/// training down the Jacobian + adjoint-scan path without any gradient test noticing).
@Suite("Dense cells take their fused BPTT")
struct DenseAdjointCellTests {
    /// Runs `fusedBackward` through a generic `DifferentiableCell` on a 3-step, 2-sequence
    /// problem; returns whether it ran and whether it wrote a finite ∂L/∂s_{−1}.
    func fused<C: DifferentiableCell>(_ cell: C) -> (ran: Bool, wrote: Bool) {
        let (steps, batch) = (3, 2)
        let row = cell.stateRowSize(batch: batch)
        let urow = cell.projectionRowSize(batch: batch)
        var rng = SeededGenerator(seed: 11)
        let previous: [C.Scalar] = uniform(row, 0.5, &rng)
        let states: [C.Scalar] = uniform(steps * row, 0.5, &rng)
        let projections: [C.Scalar] = uniform(steps * urow, 0.5, &rng)
        let stateGradients: [C.Scalar] = uniform(steps * row, 1, &rng)
        var projectionGradients = [C.Scalar](repeating: 0, count: steps * urow)
        var parameterGradients = [C.Scalar](repeating: 0, count: cell.recurrentParameterCount)
        var initialGradient = [C.Scalar](repeating: .nan, count: row)
        let ran = previous.withUnsafeBufferPointer { p in
            states.withUnsafeBufferPointer { s in
                projections.withUnsafeBufferPointer { u in
                    stateGradients.withUnsafeBufferPointer { g in
                        projectionGradients.withUnsafeMutableBufferPointer { du in
                            parameterGradients.withUnsafeMutableBufferPointer { dp in
                                initialGradient.withUnsafeMutableBufferPointer { dh in
                                    cell.fusedBackward(
                                        FusedBackwardArguments(
                                            steps: steps, batch: batch, previous: p.baseAddress!,
                                            states: s.baseAddress!, projections: u.baseAddress!,
                                            stateGradients: g.baseAddress!, projectionGradients: du.baseAddress!,
                                            parameterGradients: dp.baseAddress!, initialGradient: dh.baseAddress!),
                                        pool: .serial)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (ran, initialGradient.allSatisfy(\.isFinite))
    }

    @Test func denseCellsRunTheirKernel() throws {
        var rng = SeededGenerator(seed: 12)
        let gru = try GRU<Float>.initialized(inputSize: 2, hiddenSize: 3, using: &rng)
        let lstm = try LSTM<Double>.initialized(inputSize: 2, hiddenSize: 3, using: &rng)
        let elman = try ElmanRNN<Float>.initialized(inputSize: 2, hiddenSize: 3, using: &rng)
        for result in [fused(gru), fused(lstm), fused(elman)] {
            #expect(result.ran && result.wrote)
        }
    }

    @Test func otherCellsHaveNone() throws {
        var rng = SeededGenerator(seed: 12)
        let paraGRU = try ParaGRU<Float>.initialized(inputSize: 2, hiddenSize: 3, using: &rng)
        #expect(!fused(paraGRU).ran)
    }
}
