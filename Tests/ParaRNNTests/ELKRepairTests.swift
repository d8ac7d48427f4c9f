import ParallelScan
import Testing

@testable import ParaRNN

/// ELK's segment sweep (``ELKRepair``, ``NewtonEngine/sweepSegments(_:)``) against the
/// sequential rollout: after a sweep from step t₀ every step from t₀ on satisfies
/// s_t = f(s_{t−1}, u_t) except the first step of each segment after the front, the steps before
/// t₀ are untouched, and the front segment equals the rollout when the prefix was exact.
@Suite("ELK segment sweep")
struct ELKRepairTests {
    /// Sweeps `segments` over a perturbed copy of the rollout (exact before `start`, noise from
    /// there); returns the swept states, the rollout and the per-step residual of the swept states.
    func sweep(
        segments: (ELKRepair) -> [Range<Int>], steps: Int, start: Int, threads: Int, packed: [Int]? = nil
    ) throws -> (states: [Double], reference: [Double], residual: [Double], row: Int) {
        let cell = try RandomCells.paraGRU(Double.self, m: 3, d: 3, scale: 3, seed: 71)
        let batch = 2
        var rng = SeededGenerator(seed: 72)
        let x: [Double] = uniform(steps * batch * cell.inputSize, 1, &rng)
        let pool = WorkerPool(threadCount: threads, grainSize: 1, choice: .allThreads)
        let row = cell.stateRowSize(batch: batch)
        var u = [Double](repeating: 0, count: steps * cell.projectionRowSize(batch: batch))
        var reference = [Double](repeating: 0, count: steps * row)
        let h0 = [Double](repeating: 0, count: row)
        let boundaries = try packed.map { try SequenceBoundaries(lengths: $0) }
        let initials = [Double](repeating: 0, count: max(1, packed?.count ?? 1) * row)
        x.withUnsafeBufferPointer { x in
            u.withUnsafeMutableBufferPointer { u in
                cell.project(
                    inputs: x.baseAddress!, steps: steps, batch: batch, projections: u.baseAddress!, pool: pool)
            }
        }
        u.withUnsafeBufferPointer { u in
            h0.withUnsafeBufferPointer { h0 in
                reference.withUnsafeMutableBufferPointer { r in
                    var from = 0
                    for length in packed ?? [steps] {
                        cell.rollout(
                            steps: from..<(from + length), batch: batch,
                            previous: h0.baseAddress!,
                            projections: u.baseAddress!, states: r.baseAddress!)
                        from += length
                    }
                }
            }
        }
        var states = reference
        for i in (start * row)..<(steps * row) { states[i] += (uniform(1, 0.5, &rng) as [Double])[0] }
        let repair = ELKRepair(steps: steps)
        u.withUnsafeBufferPointer { u in
            h0.withUnsafeBufferPointer { h0 in
                initials.withUnsafeBufferPointer { initials in
                    states.withUnsafeMutableBufferPointer { s in
                        let engine = NewtonEngine(
                            cell: cell, steps: steps, batch: batch, projections: u.baseAddress!,
                            previous: h0.baseAddress!, states: s.baseAddress!, pool: pool)
                        if let boundaries {
                            engine.packing = PackedStarts(
                                boundaries: boundaries, initials: initials.baseAddress!, row: row)
                        }
                        let count = engine.sweepSegments(segments(repair))
                        #expect(count == steps - start)
                    }
                }
            }
        }
        // Residual per step: s_t − f(s_{t−1}) from a one-step rollout (packed starts from zero).
        var residual = [Double](repeating: 0, count: steps)
        let starts = Set((packed ?? [steps]).reduce(into: [0]) { $0.append($0.last! + $1) })
        var f = [Double](repeating: 0, count: steps * row)
        u.withUnsafeBufferPointer { u in
            f.withUnsafeMutableBufferPointer { f in
                for t in 0..<steps {
                    let before = starts.contains(t) ? h0 : Array(states[((t - 1) * row)..<(t * row)])
                    before.withUnsafeBufferPointer { before in
                        cell.rollout(
                            steps: t..<(t + 1), batch: batch, previous: before.baseAddress!,
                            projections: u.baseAddress!, states: f.baseAddress!)
                    }
                }
            }
        }
        for t in 0..<steps {
            residual[t] = (0..<row).map { abs(f[t * row + $0] - states[t * row + $0]) }.max()!
        }
        return (states, reference, residual, row)
    }

    @Test(
        "a sweep leaves residuals only at the later segments' first steps; the front equals the rollout",
        arguments: [1, 3])
    func sweepResiduals(threads: Int) throws {
        let steps = 600
        let start = 37
        let (states, reference, residual, row) = try sweep(
            segments: { $0.segments(from: start) }, steps: steps, start: start, threads: threads)
        let repair = ELKRepair(steps: steps)
        let segments = repair.segments(from: start)
        let firsts = Set(segments.dropFirst().map(\.lowerBound))
        for t in 0..<steps where !firsts.contains(t) {
            #expect(residual[t] <= 1e-14, "step \(t): \(residual[t])")
        }
        // Untouched prefix, exact front.
        #expect(Array(states[0..<(start * row)]) == Array(reference[0..<(start * row)]))
        let front = segments[0]
        #expect(front == start..<(start + repair.length))
        for i in (front.lowerBound * row)..<(front.upperBound * row) {
            #expect(abs(states[i] - reference[i]) <= 1e-14)
        }
    }

    @Test("packed sequences: a segment that crosses a sequence start restarts from that sequence's initial state")
    func packedSweep() throws {
        let steps = 200
        let (states, reference, residual, _) = try sweep(
            segments: { _ in [0..<steps] }, steps: steps, start: 0, threads: 2, packed: [90, 110])
        #expect(residual.allSatisfy { $0 <= 1e-14 })
        #expect(zip(states, reference).allSatisfy { abs($0 - $1) <= 1e-14 })
    }
}
