import Foundation
import ParallelScan

/// A sequential rollout of one sequence with each step shared by several threads: for dense
/// cells of large d, one step's recurrent product g = W_hh h + b_hh (G·d² multiply-adds, W_hh
/// of a d = 256 GRU is 768 KiB) is split by hidden units.
///
/// Worker w owns hidden units J_w (whole octets, so its gate math stays in SIMD8) and keeps, in
/// its own cache, the rows of W_hh, b_hh, W_ih and b_ih of those units for every gate. Per step
/// it computes its units' pre-activations from the full h_{t−1}, their gate math and its slice of
/// the new state, then meets the others at a ``SpinBarrier`` — one barrier per step, because
/// step t + 1 reads all of h_t. Each worker projects its own units' inputs, block by block, so
/// nothing else is shared. Every state value is computed by the same arithmetic in the same
/// order as in the one-thread fused rollout, so with the direct input projection (m ≤ 8) the
/// result is bitwise the same; with more inputs BLAS may sum the projections in another order.
///
/// The workers are a ``Gang`` (threads that run together), so the rollout is worth it only when a
/// step's work is large against a barrier (≈ 0.2–1 µs): ``workers(gates:hidden:batch:steps:threads:cores:)``.
enum SplitStepRollout {
    /// Multiply-adds of one step's recurrent product per worker below which a barrier per step
    /// costs more than the split saves (≈ 0.5 µs of product on one AVX2 core).
    static let minimumWorkPerWorker = 16_384

    /// The workers that share each step of a rollout: 1 (no split) unless the batch is a single
    /// sequence, the sequence is long enough to pay for starting threads, and each worker keeps
    /// at least ``minimumWorkPerWorker`` multiply-adds and one octet of units.
    /// Never more than the machine's active cores: the workers spin at a barrier every step, so
    /// a gang larger than the cores would wait for descheduled members.
    static func workers(
        gates: Int, hidden d: Int, batch: Int, steps: Int, threads: Int,
        cores: Int = ProcessInfo.processInfo.activeProcessorCount
    ) -> Int {
        let threads = min(threads, cores)
        guard batch == 1, threads > 1, steps >= 256 else { return 1 }
        return max(1, min(threads, d / 8, gates * d * d / minimumWorkPerWorker))
    }

    /// Hidden units of worker `w` of `p`: whole octets, spread evenly (the last worker takes a
    /// tail that is not a multiple of 8).
    static func units(worker w: Int, of p: Int, hidden d: Int) -> Range<Int> {
        let octets = ChunkPlan.evenRange(index: w, of: p, total: d / 8)
        let end = w == p - 1 ? d : 8 * octets.upperBound
        return (8 * octets.lowerBound)..<end
    }
}

/// The gate math of one step for a worker's units: `(units, u, uStride, g, gStride, previous,
/// out)`, with `u` the worker's projections of this step (gates `uStride` apart), `g` its
/// recurrent pre-activations (gates `gStride` apart), `previous` and `out` the whole state
/// entries of the sequence before and after the step.
typealias UnitGates<Scalar> = (
    Range<Int>, UnsafePointer<Scalar>, Int, UnsafePointer<Scalar>, Int, UnsafePointer<Scalar>,
    UnsafeMutablePointer<Scalar>
) -> Void

extension DenseRecurrence {
    /// The split-step rollout of one sequence (see ``SplitStepRollout``): `inputs` `[T][m]`,
    /// `initial` one state entry, `states` `[T][stateSize]`.
    func splitStepRollout(
        inputs: UnsafePointer<Scalar>, steps: Int, initial: UnsafePointer<Scalar>,
        states: UnsafeMutablePointer<Scalar>, workers p: Int, gates: @escaping UnitGates<Scalar>
    ) {
        let (d, n, m, g) = (hiddenSize, stateSize, inputSize, gateCount)
        let (x, h0, out) = (UnsafeSendable(inputs), UnsafeSendable(initial), UnsafeMutableSendable(states))
        let barrier = SpinBarrier(parties: p)
        let cell = self
        let gatesBox = UncheckedSendable(gates)
        Gang.run(p) { w in
            let units = SplitStepRollout.units(worker: w, of: p, hidden: d)
            let own = units.count
            // This worker's rows of every gate: [G·own][·], gate-major like the cell's.
            var whh = [Scalar]()
            var bhh = [Scalar]()
            var wih = [Scalar]()
            var bih = [Scalar]()
            for v in 0..<g {
                for j in units {
                    let row = v * d + j
                    whh.append(contentsOf: cell.recurrentWeights[(row * d)..<(row * d + d)])
                    bhh.append(cell.recurrentBias[row])
                    wih.append(contentsOf: cell.inputWeights[(row * m)..<(row * m + m)])
                    bih.append(cell.inputBias[row])
                }
            }
            let pack = DenseRecurrentPack(weights: whh, bias: bhh, outputs: g * own, hidden: d)
            let projection = InputProjection(gates: g, inputs: m, hidden: own, weights: wih, bias: bih)
            let block = 256
            let scratch = ScratchBuffers<Scalar>(counts: [block * g * own, pack.stride])
            defer { scratch.deallocate() }
            let (u, preactivations) = (scratch[0], scratch[1])
            pack.withPointers { weights, bias in
                var start = 0
                while start < steps {
                    let count = min(block, steps - start)
                    projection.project(inputs: x.base + start * m, rows: 0..<count, batch: 1, into: u)
                    for t in start..<(start + count) {
                        let previous = t == 0 ? h0.base : UnsafePointer(out.base + (t - 1) * n)
                        DenseRecurrentPack<Scalar>.product(
                            h: previous + (n - d), hidden: d, weights: weights, stride: pack.stride, bias: bias,
                            into: preactivations, descending: t & 1 == 1)
                        gatesBox.value(
                            units, UnsafePointer(u + (t - start) * g * own), own, UnsafePointer(preactivations), own,
                            previous, out.base + t * n)
                        barrier.wait()
                    }
                    start += count
                }
            }
        }
    }
}

extension GRU {
    public func stepSplitWorkers(batch: Int, steps: Int, threads: Int) -> Int {
        SplitStepRollout.workers(gates: 3, hidden: hiddenSize, batch: batch, steps: steps, threads: threads)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func rolloutSplittingSteps(
        inputs: UnsafePointer<Scalar>, steps: Int, initial: UnsafePointer<Scalar>,
        states: UnsafeMutablePointer<Scalar>, workers: Int
    ) {
        splitStepRollout(inputs: inputs, steps: steps, initial: initial, states: states, workers: workers) {
            units, u, uStride, g, gStride, previous, out in
            let j0 = units.lowerBound
            Self.stepGates(
                units.count, u: u, uStride: uStride, g: g, gStride: gStride, h: previous + j0, out: out + j0)
        }
    }
}

extension LSTM {
    public func stepSplitWorkers(batch: Int, steps: Int, threads: Int) -> Int {
        SplitStepRollout.workers(gates: 4, hidden: hiddenSize, batch: batch, steps: steps, threads: threads)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func rolloutSplittingSteps(
        inputs: UnsafePointer<Scalar>, steps: Int, initial: UnsafePointer<Scalar>,
        states: UnsafeMutablePointer<Scalar>, workers: Int
    ) {
        let d = hiddenSize
        splitStepRollout(inputs: inputs, steps: steps, initial: initial, states: states, workers: workers) {
            units, u, uStride, g, gStride, previous, out in
            let j0 = units.lowerBound
            Self.stepGates(
                units.count, u: u, uStride: uStride, g: g, gStride: gStride, c: previous + j0,
                h: previous + d + j0, cOut: out + j0, hOut: out + d + j0)
        }
    }
}

extension ElmanRNN {
    public func stepSplitWorkers(batch: Int, steps: Int, threads: Int) -> Int {
        SplitStepRollout.workers(gates: 1, hidden: hiddenSize, batch: batch, steps: steps, threads: threads)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func rolloutSplittingSteps(
        inputs: UnsafePointer<Scalar>, steps: Int, initial: UnsafePointer<Scalar>,
        states: UnsafeMutablePointer<Scalar>, workers: Int
    ) {
        let cell = self
        splitStepRollout(inputs: inputs, steps: steps, initial: initial, states: states, workers: workers) {
            units, u, _, g, _, _, out in
            cell.stepGates(units.count, u: u, g: g, out: out + units.lowerBound)
        }
    }
}
