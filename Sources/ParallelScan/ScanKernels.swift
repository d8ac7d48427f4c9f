import Dispatch

/// The structure-dependent pieces of the chunked affine scans: solving a range of steps,
/// reducing one to its affine map (P, Q), and applying such a map to a carry. This is the one
/// place that switches on a scan's ``ScanShape``; the plain scan (``AffineScan``'s
/// `scanUnchecked`), the scan with resets and ParaMPI's segment scan drive the same three
/// pieces.
///
/// A chunk summary holds P then Q (the composed map x ↦ P·x + Q) and, for block and dense
/// matrices, scratch of the same size for the products (``summarySize``).
///
///     let kernels = ScanKernels(shape: .diagonal(lanes: 4), a: a, b: b, transposed: false, reverse: false)
///     kernels.solve(0..<T, from: h0, into: output)
@usableFromInline
package struct ScanKernels<S: ScanScalar>: @unchecked Sendable {
    let shape: ScanShape
    let a: UnsafePointer<S>
    let b: UnsafePointer<S>
    /// Apply each block or matrix as its transpose (adjoints); ignored by the diagonal scan.
    let transposed: Bool
    let reverse: Bool

    @usableFromInline
    package init(shape: ScanShape, a: UnsafePointer<S>, b: UnsafePointer<S>, transposed: Bool, reverse: Bool) {
        (self.shape, self.a, self.b, self.transposed, self.reverse) = (shape, a, b, transposed, reverse)
    }

    /// State values per step.
    var state: Int { shape.statesPerStep }

    /// What reducing a step costs relative to solving it on `workers` workers of `pool`: the
    /// chunk plan lengthens chunk 0 by it. The cost model's ratio for the shape
    /// (``WorkerCount/reduceRatio(cost:workers:pool:)``), so the plan balances phase 1 with the
    /// same per-step costs that chose the worker count: a dense reduction (d³ products against
    /// the solve's d² matrix-vector) about twice a solve, a memory-bound diagonal one half.
    func reduceCost(workers: Int, pool: WorkerPool) -> Double {
        WorkerCount.reduceRatio(cost: shape.cost(scalarBytes: MemoryLayout<S>.stride), workers: workers, pool: pool)
    }

    /// Values of one chunk's summary, scratch included.
    var summarySize: Int {
        switch shape {
        case .diagonal(let lanes): return 2 * lanes
        case .blockDiagonal(let blocks, let k): return 2 * (k * k + k) * blocks
        case .dense(let batch, let d): return 2 * (d * d + d) * batch
        }
    }

    /// The recurrence over `range` (in the scan's direction) from `carry`, the state before it.
    @inline(__always)
    package func solve(_ range: Range<Int>, from carry: UnsafePointer<S>, into output: UnsafeMutablePointer<S>) {
        switch shape {
        case .diagonal(let lanes):
            AffineScan.diagonalSolve(
                a: a, b: b, lanes: lanes, range: range, reverse: reverse, carry: carry, output: output)
        case .blockDiagonal(let blocks, let k):
            AffineScan.blockSolve(
                a: a, b: b, k: k, blocks: blocks, range: range, transposed: transposed, reverse: reverse,
                carry: carry, output: output)
        case .dense(let batch, let d):
            AffineScan.denseSolve(
                a: a, b: b, d: d, batch: batch, range: range, transposed: transposed, reverse: reverse,
                carry: carry, output: output)
        }
    }

    /// The affine map of `range` (P, Q, then scratch), written to `summary`.
    @inline(__always)
    func reduce(_ range: Range<Int>, into summary: UnsafeMutablePointer<S>) {
        reduce(range, into: summary, scratch: summary + summarySize / 2)
    }

    /// The affine map of `range`, (P, Q), written to `summary`; block and dense matrices compose
    /// through `scratch` (room for one (P, Q)).
    @inline(__always)
    package func reduce(
        _ range: Range<Int>, into summary: UnsafeMutablePointer<S>, scratch: UnsafeMutablePointer<S>
    ) {
        switch shape {
        case .diagonal(let lanes):
            diagonalReduceVectors(a: a, b: b, lanes: lanes, range: range, reverse: reverse, summary: summary)
        case .blockDiagonal(let blocks, let k):
            AffineScan.blockReduce(
                a: a, b: b, k: k, blocks: blocks, range: range, transposed: transposed, reverse: reverse,
                summary: summary, scratch: scratch)
        case .dense(let batch, let d):
            AffineScan.denseReduce(
                a: a, b: b, d: d, batch: batch, range: range, transposed: transposed, reverse: reverse,
                summary: summary, scratch: scratch)
        }
    }

    /// cout = P·cin + Q for a chunk's summary.
    @inline(__always)
    func apply(_ summary: UnsafePointer<S>, to cin: UnsafePointer<S>, into cout: UnsafeMutablePointer<S>) {
        let p = summary
        switch shape {
        case .diagonal(let lanes):
            let q = p + lanes
            for j in 0..<lanes { cout[j] = p[j] * cin[j] + q[j] }
        case .blockDiagonal(let blocks, let k):
            AffineScan.blockApply(
                a: p, b: p + k * k * blocks, previous: cin, output: cout, k: k, blocks: blocks, transposed: false)
        case .dense(let batch, let d):
            let q = p + d * d * batch
            for n in 0..<batch {
                (cout + n * d).update(from: q + n * d, count: d)
                AffineScan.denseMultiplyAdd(
                    transposed: false, d: d, a: p + n * d * d, x: cin + n * d, y: cout + n * d)
            }
        }
    }
}

extension AffineScan {
    /// One thread's time to reduce `steps` steps of `shape` (subnormals flushed, as the scans run
    /// it) over its time to solve them: best of `rounds` whole-sequence passes of each
    /// ``ScanKernels`` piece, run specialised (a generic caller in another module would time
    /// unspecialised vector code). The bench notes it beside the model's ratio.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    package static func measuredReduceRatio<S: ScanScalar>(
        _ shape: ScanShape, a: UnsafePointer<S>, b: UnsafePointer<S>, steps: Int, rounds: Int = 5
    ) -> Double {
        let kernels = ScanKernels(shape: shape, a: a, b: b, transposed: false, reverse: false)
        let state = shape.statesPerStep
        let half = shape.grainWidth + state
        let zeros = UnsafeMutablePointer<S>.allocate(capacity: state)
        zeros.initialize(repeating: 0, count: state)
        let out = UnsafeMutablePointer<S>.allocate(capacity: steps * state)
        out.initialize(repeating: 0, count: steps * state)
        let summary = UnsafeMutablePointer<S>.allocate(capacity: 2 * half)
        summary.initialize(repeating: 0, count: 2 * half)
        defer { [zeros, out, summary].forEach { $0.deallocate() } }
        func best(_ body: () -> Void) -> Double {
            var seconds = Double.infinity
            for _ in 0..<max(1, rounds) {
                let start = DispatchTime.now().uptimeNanoseconds
                body()
                seconds = min(seconds, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
            }
            return seconds
        }
        let solve = best { kernels.solve(0..<steps, from: zeros, into: out) }
        let reduce = best {
            withSubnormalsFlushed { kernels.reduce(0..<steps, into: summary, scratch: summary + half) }
        }
        return reduce / max(solve, 1e-12)
    }
}
