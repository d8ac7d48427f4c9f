import ParallelScan
import Dispatch
import Foundation
let ZEROGUESS = ProcessInfo.processInfo.environment["ZEROGUESS"] != nil
let TRACE = ProcessInfo.processInfo.environment["TRACE"] != nil

extension NewtonEngine {
    /// The block size k of the scan behind a structured Newton step (1 for diagonal), if the
    /// fused passes of ``iterateFused(tolerance:maxIterations:hasGuess:report:)`` apply: cells
    /// that fold the residual and offsets into their kernel, with diagonal or k×k (k ≤ 4) blocks.
    var fusedBlockSize: Int? {
        guard cell.fusesNewtonOffsets else { return nil }
        switch cell.structure {
        case .diagonal: return 1
        case .blockDiagonal(let k): return k <= 4 ? k : nil
        case .dense: return nil
        }
    }

    /// Plain Newton in one memory pass per iteration.
    ///
    /// The sequence is split into one chunk per worker. Newton step n maps the iterate s⁽ⁿ⁾ to
    /// s⁽ⁿ⁺¹⁾ = scan(J⁽ⁿ⁾, b⁽ⁿ⁾); the scan's chunk summaries are computed in the same pass that
    /// produces (J⁽ⁿ⁾, b⁽ⁿ⁾), and its solve in the pass that produces the next linearisation.
    /// Pass n, in parallel over chunks, block of rows by block of rows while they are in cache:
    /// 1. n = 0: s⁽⁰⁾ = f(0, u_t) (ParaRNN's guess) unless a guess was given;
    ///    n ≥ 1: s⁽ⁿ⁾_t = J⁽ⁿ⁻¹⁾_t s⁽ⁿ⁾_{t−1} + b⁽ⁿ⁻¹⁾_t from the chunk's carry-in;
    /// 2. linearise at s⁽ⁿ⁾: F_t, J⁽ⁿ⁾_t, the residual max ‖s⁽ⁿ⁾_t − F_t‖ / max(1, |F_t|), and
    ///    b⁽ⁿ⁾_t = F_t − J⁽ⁿ⁾_t s⁽ⁿ⁾_{t−1};
    /// 3. compose (J⁽ⁿ⁾, b⁽ⁿ⁾) over the chunk into its summary (all chunks but the last).
    /// Then, serially over the chunks, carry-in_{c+1} = summary_c(carry-in_c) with carry-in_0 the
    /// initial state: exactly s⁽ⁿ⁺¹⁾ at each chunk's last step. The iterates are those of
    /// ``iterate(method:tolerance:maxIterations:dampingBound:report:)`` with `.newton` (up to
    /// rounding); what changes is the memory traffic: one pass per iteration instead of five.
    func iterateFused(
        tolerance: Double, maxIterations: Int, hasGuess: Bool, report: (Int, Double) -> Void
    ) -> SolveAttempt {
        let k = fusedBlockSize!
        let jrow = cell.jacobianRowSize(batch: batch, request: .structured)
        if jacobianCapacity < steps * jrow {
            jacobians?.deallocate()
            // Every entry of a Jacobian row is written by the cell's linearisation before use.
            jacobians = .allocate(capacity: steps * jrow)
            jacobianCapacity = steps * jrow
        }
        let row = self.row, blocks = row / k, batch = self.batch, cell = self.cell
        let workers = max(1, min(pool.threadCount, steps / 256))
        let chunkRanges = (0..<workers).map { ChunkPlan.evenRange(index: $0, of: workers, total: steps) }
        // Rows per cache block: about 32 K values of J, b and s (L2-resident between the solve,
        // the linearisation and the reduction; large enough that per-call set-up in the cell
        // kernels is negligible).
        let blockRows = max(1, 32_768 / (jrow + 2 * row))
        let summaryCount = AffineRows.summaryCount(blocks: blocks, blockSize: k)
        // Per chunk: carry-in (s before the chunk), summary, and a zero row block for the guess.
        let carries = UnsafeMutablePointer<Scalar>.allocate(capacity: workers * row)
        let summaries = UnsafeMutablePointer<Scalar>.allocate(capacity: workers * summaryCount)
        defer {
            carries.deallocate()
            summaries.deallocate()
        }
        let u = UnsafeSendable(projections), h = UnsafeMutableSendable(states)
        let f = UnsafeMutableSendable(offsets), jac = UnsafeMutableSendable(jacobians!)
        let carry = UnsafeMutableSendable(carries), summary = UnsafeMutableSendable(summaries)
        let initial = UnsafeSendable(previous)
        var monitor = ConvergenceMonitor(method: .newton, tolerance: tolerance, maxIterations: maxIterations)
        var residuals = [Double](repeating: 0, count: workers)
        let zeros = zeroArray(Scalar.self, count: row)
        let urow = cell.projectionRowSize(batch: batch)
        for iteration in 0...maxIterations {
            let tic = DispatchTime.now().uptimeNanoseconds
            defer { if TRACE { print("pass", iteration, Double(DispatchTime.now().uptimeNanoseconds - tic) * 1e-6, "ms") } }
            let first = iteration == 0
            residuals.withUnsafeMutableBufferPointer { res in
                let res = UnsafeMutableSendable(res.baseAddress!)
                pool.forEach(workers) { c in
                    let range = chunkRanges[c]
                    let reduces = c < workers - 1
                    let chunkSummary = summary.base + c * summaryCount
                    if reduces { AffineRows.resetSummary(chunkSummary, blocks: blocks, blockSize: k) }
                    // The state before the chunk: the initial state, the carry-in, or (first
                    // pass) the iterate at the chunk's previous step.
                    let before = carry.base + c * row
                    if c == 0 {
                        copyScalars(before, initial.base, count: row)
                    } else if first {
                        if hasGuess {
                            copyScalars(before, h.base + (range.lowerBound - 1) * row, count: row)
                        } else {
                            if ZEROGUESS { zeroFill(before, count: row) } else {
                            // f(0, u) at the previous step (one row from a zero state).
                            let t = range.lowerBound - 1
                            zeros.withUnsafeBufferPointer { z in
                                cell.linearize(
                                    steps: 0..<1, batch: batch, previous: z.baseAddress!,
                                    states: z.baseAddress!, projections: u.base + t * urow,
                                    values: before, jacobians: nil, request: .structured)
                            }
                            }
                        }
                    }
                    var worst = 0.0
                    var t = range.lowerBound
                    while t < range.upperBound {
                        let rows = t..<min(t + blockRows, range.upperBound)
                        let prior = t == range.lowerBound ? UnsafePointer(before) : UnsafePointer(h.base + (t - 1) * row)
                        if !first {
                            AffineRows.solve(
                                a: UnsafePointer(jac.base), b: UnsafePointer(f.base), rows: rows,
                                blocks: blocks, blockSize: k, carry: prior, output: h.base)
                        } else if !hasGuess && ZEROGUESS {
                            zeroFill(h.base + t * row, count: rows.count * row)
                        } else if !hasGuess {
                            // s⁽⁰⁾ = f(0, u): the kernel reads rows t−1… of `states` as the
                            // previous states, so zeroed offsets rows stand in for them.
                            zeroFill(f.base + t * row, count: rows.count * row)
                            cell.linearize(
                                steps: rows, batch: batch, previous: UnsafePointer(f.base + t * row),
                                states: UnsafePointer(f.base + row), projections: u.base,
                                values: h.base, jacobians: nil, request: .structured)
                        }
                        var blockResidual = 0.0
                        withUnsafeMutablePointer(to: &blockResidual) { pointer in
                            var arguments = LinearizeArguments(
                                steps: rows, batch: batch, previous: prior,
                                states: UnsafePointer(h.base), projections: u.base, values: f.base,
                                jacobians: jac.base, request: .structured)
                            arguments.fusedResidual = pointer
                            cell.linearize(arguments)
                        }
                        worst = combineResiduals(worst, blockResidual)
                        if reduces {
                            AffineRows.accumulate(
                                a: UnsafePointer(jac.base), b: UnsafePointer(f.base), rows: rows,
                                blocks: blocks, blockSize: k, summary: chunkSummary)
                        }
                        t = rows.upperBound
                    }
                    res.base[c] = worst
                }
            }
            let residual = residuals.contains { $0.isNaN } ? Double.nan : residuals.max() ?? 0
            report(iteration, residual)
            if TRACE { print("residual", iteration, residual) }
            if let finished = monitor.record(residual, iteration: iteration) { return finished }
            // Carry-ins of the next solve: chunk c + 1 starts from chunk c's composed map.
            copyScalars(carries, previous, count: row)
            for c in 0..<(workers - 1) {
                AffineRows.applySummary(
                    UnsafePointer(summaries + c * summaryCount), blocks: blocks, blockSize: k,
                    input: UnsafePointer(carries + c * row), output: carries + (c + 1) * row)
            }
        }
        return monitor.limitReached()
    }
}
