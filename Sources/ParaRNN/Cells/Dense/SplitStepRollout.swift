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
        cores: Int = WorkerPool.activeProcessorCount
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
    /// The rollout of `batch` sequences by ``RolloutGangs``: gang k of `gangs.gangs` owns the
    /// sequences `ChunkPlan.evenRange(k, of: gangs, total: B)`, and member w of its
    /// `gangs.size` threads owns hidden units J_w of all of them (``SplitStepRollout/units(worker:of:hidden:)``)
    /// with their rows of W_hh, b_hh, W_ih and b_ih. Per step a member computes
    /// g_b[J_w] = W_hh[J_w] h_{t−1,b} + b_hh[J_w] for its gang's sequences in groups of four
    /// (one load of each weight vector for four sequences), their gate math and its units of
    /// each new state h_{t,b}, written straight into the shared `[T][B][n]` rows; then it meets
    /// its gang at a ``SpinBarrier`` (step t + 1 reads all of h_{t,b}). Gangs never wait for
    /// each other. A member's W_hh rows are 1/size of the matrix, so they stay in its core's L2
    /// where the whole matrix would stream from the shared L3 for every group of sequences.
    ///
    /// Every state value is computed by the same arithmetic in the same order as in the
    /// one-thread fused rollout (the products sum in k order, in groups of four or alone alike),
    /// so with the direct input projection (m ≤ 8) the states are bitwise the same.
    /// `inputs` `[T][B][m]`, `initial` `[B][n]`, `states` `[T][B][n]`.
    func gangRollout(
        inputs: UnsafePointer<Scalar>, steps: Int, batch: Int, initial: UnsafePointer<Scalar>,
        states: UnsafeMutablePointer<Scalar>, gangs plan: RolloutGangs, gates: @escaping UnitGates<Scalar>
    ) {
        let (d, n, m, g) = (hiddenSize, stateSize, inputSize, gateCount)
        let (x, h0, out) = (UnsafeSendable(inputs), UnsafeSendable(initial), UnsafeMutableSendable(states))
        let barriers = (0..<plan.gangs).map { _ in SpinBarrier(parties: plan.size) }
        let cell = self
        let gatesBox = UncheckedSendable(gates)
        let row = batch * n
        Gang.run(plan.workers) { id in
            let (gang, member) = (id / plan.size, id % plan.size)
            let entries = ChunkPlan.evenRange(index: gang, of: plan.gangs, total: batch)
            let (b0, e) = (entries.lowerBound, entries.count)
            if e == 0 { return }
            let barrier = barriers[gang]
            let units = SplitStepRollout.units(worker: member, of: plan.size, hidden: d)
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
            // Projections of 256 steps at most, and of at most 64 KiB: with a gang's batch, 256
            // steps of them (6 MiB for 16 sequences of a d = 256 GRU on two members) evicted the
            // member's W_hh rows from its L2 block after block.
            let stepValues = g * e * own
            // (A member may own no units — fewer octets than members — and only meet its gang.)
            let block = max(8, min(256, 65_536 / max(1, stepValues * MemoryLayout<Scalar>.size)))
            let scratch = ScratchBuffers<Scalar>(counts: [
                block * stepValues, 4 * pack.stride, e == batch ? 0 : block * e * m,
            ])
            defer { scratch.deallocate() }
            let (u, preactivations, ownInputs) = (scratch[0], scratch[1], scratch[2])
            pack.withPointers { weights, bias in
                var start = 0
                while start < steps {
                    let count = min(block, steps - start)
                    // Rows t of `[T][B][m]`: the gang's entries are e·m values at b0·m.
                    let source = x.base + (start * batch + b0) * m
                    if e == batch {
                        projection.project(inputs: source, rows: 0..<count, batch: e, into: u)
                    } else {
                        copyRows(ownInputs, stride: e * m, source, stride: batch * m, count: e * m, rows: count)
                        projection.project(inputs: UnsafePointer(ownInputs), rows: 0..<count, batch: e, into: u)
                    }
                    for t in start..<(start + count) {
                        // `[G][e][own]`: entry i's gate v at i·own + v·e·own.
                        let ut = UnsafePointer(u + (t - start) * stepValues)
                        let previous = t == 0 ? h0.base : UnsafePointer(out.base + (t - 1) * row)
                        /// Entry i of the gang's h_{t−1}: the last d values of its state.
                        @inline(__always) func h(_ i: Int) -> UnsafePointer<Scalar> {
                            previous + (b0 + i) * n + (n - d)
                        }
                        var i = 0
                        while i < e {
                            let group = min(4, e - i)
                            // product4 for a group of four, one product per sequence otherwise (called
                            // directly, so that they are inlined here as in the one-sequence gang).
                            if group == 4 {
                                DenseRecurrentPack<Scalar>.product4(
                                    h: (h(i), h(i + 1), h(i + 2), h(i + 3)), hidden: d, weights: weights,
                                    stride: pack.stride, bias: bias, into: preactivations, descending: t & 1 == 1)
                            } else {
                                for j in 0..<group {
                                    DenseRecurrentPack<Scalar>.product(
                                        h: h(i + j), hidden: d, weights: weights, stride: pack.stride, bias: bias,
                                        into: preactivations + j * pack.stride, descending: t & 1 == 1)
                                }
                            }
                            for j in 0..<group {
                                let b = b0 + i + j
                                gatesBox.value(
                                    units, ut + (i + j) * own, e * own, UnsafePointer(preactivations + j * pack.stride),
                                    own, previous + b * n, out.base + t * row + b * n)
                            }
                            i += group
                        }
                        barrier.wait()
                    }
                    start += count
                }
            }
        }
    }
}

/// A dense cell with a kernel for the gate math of a range of hidden units
/// (``RecurrentCell/rolloutInGangs(inputs:steps:batch:initial:states:gangs:)``): it then splits
/// one sequence's steps (``SplitStepRollout``) and rolls out batches in gangs (``RolloutGangs``)
/// through that kernel, with the plans sized by its gate count.
protocol UnitSplitRolloutCell: DenseRecurrence {}

extension UnitSplitRolloutCell {
    public func stepSplitWorkers(batch: Int, steps: Int, threads: Int) -> Int {
        SplitStepRollout.workers(gates: gateCount, hidden: hiddenSize, batch: batch, steps: steps, threads: threads)
    }

    public func rolloutGangs(batch: Int, steps: Int, threads: Int) -> RolloutGangs {
        RolloutGangs.plan(
            gates: gateCount, hidden: hiddenSize, scalarBytes: MemoryLayout<Scalar>.size, batch: batch,
            steps: steps, threads: threads)
    }

    /// The one-sequence split: a single gang of `workers` threads.
    public func rolloutSplittingSteps(
        inputs: UnsafePointer<Scalar>, steps: Int, initial: UnsafePointer<Scalar>,
        states: UnsafeMutablePointer<Scalar>, workers: Int
    ) {
        rolloutInGangs(
            inputs: inputs, steps: steps, batch: 1, initial: initial, states: states,
            gangs: RolloutGangs(gangs: 1, size: workers))
    }
}

extension GRU: UnitSplitRolloutCell {
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func rolloutInGangs(
        inputs: UnsafePointer<Scalar>, steps: Int, batch: Int, initial: UnsafePointer<Scalar>,
        states: UnsafeMutablePointer<Scalar>, gangs: RolloutGangs
    ) {
        gangRollout(inputs: inputs, steps: steps, batch: batch, initial: initial, states: states, gangs: gangs) {
            units, u, uStride, g, gStride, previous, out in
            let j0 = units.lowerBound
            Self.stepGates(
                units.count, u: u, uStride: uStride, g: g, gStride: gStride, h: previous + j0, out: out + j0)
        }
    }
}

extension LSTM: UnitSplitRolloutCell {
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func rolloutInGangs(
        inputs: UnsafePointer<Scalar>, steps: Int, batch: Int, initial: UnsafePointer<Scalar>,
        states: UnsafeMutablePointer<Scalar>, gangs: RolloutGangs
    ) {
        let d = hiddenSize
        gangRollout(inputs: inputs, steps: steps, batch: batch, initial: initial, states: states, gangs: gangs) {
            units, u, uStride, g, gStride, previous, out in
            let j0 = units.lowerBound
            Self.stepGates(
                units.count, u: u, uStride: uStride, g: g, gStride: gStride, c: previous + j0,
                h: previous + d + j0, cOut: out + j0, hOut: out + d + j0)
        }
    }
}

extension ElmanRNN: UnitSplitRolloutCell {
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func rolloutInGangs(
        inputs: UnsafePointer<Scalar>, steps: Int, batch: Int, initial: UnsafePointer<Scalar>,
        states: UnsafeMutablePointer<Scalar>, gangs: RolloutGangs
    ) {
        let cell = self
        gangRollout(inputs: inputs, steps: steps, batch: batch, initial: initial, states: states, gangs: gangs) {
            units, u, _, g, _, _, out in
            cell.stepGates(units.count, u: u, g: g, out: out + units.lowerBound)
        }
    }
}
