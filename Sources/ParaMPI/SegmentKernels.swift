import ParallelScan

/// Per-chunk kernels of ``SegmentScan``: the reduction of a range of steps to its summary, and
/// the solve of a range from a carry (the library's scans on one worker).
enum SegmentKernels {
    /// Composes the steps of `range` (in processing order) into (P, Q) of `kind`'s summary
    /// shape, with the effective coefficients (transposes applied). `scratch` holds one summary.
    static func reduce<S: ScanScalar>(
        kind: SegmentScanKind, a: UnsafePointer<S>, b: UnsafePointer<S>, range: Range<Int>,
        reverse: Bool, summary: UnsafeMutablePointer<S>, scratch: UnsafeMutablePointer<S>
    ) {
        let shape = kind.summaryShape
        shape.writeIdentity(summary)
        let order = StepOrder(range: range, reverse: reverse)
        switch kind {
        case .diagonal(let n):
            let p = summary
            let q = summary + n
            for t in order {
                let at = a + t * n
                let bt = b + t * n
                for j in 0..<n {
                    p[j] = at[j] * p[j]
                    q[j] = at[j] * q[j] + bt[j]
                }
            }
        case .blockDiagonal(let n, let k, let transposed):
            switch k {
            case 2: reducePlanes(2, n, transposed, a, b, order, summary)
            case 3: reducePlanes(3, n, transposed, a, b, order, summary)
            case 4: reducePlanes(4, n, transposed, a, b, order, summary)
            default: reducePlanesAny(k, n, transposed, a, b, order, summary, scratch)
            }
        case .dense(let batch, let d, let transposed):
            var p = summary
            var q = summary + shape.matrixCount
            var np = scratch
            var nq = scratch + shape.matrixCount
            let state = batch * d
            let matrix = batch * d * d
            for t in order {
                let at = a + t * matrix
                nq.update(from: b + t * state, count: state)
                for m in 0..<batch {
                    AffineScan.denseMultiply(
                        transposed: transposed, d: d, a: at + m * d * d, p: p + m * d * d,
                        c: np + m * d * d)
                    AffineScan.denseMultiplyAdd(
                        transposed: transposed, d: d, a: at + m * d * d, x: q + m * d, y: nq + m * d)
                }
                swap(&p, &np)
                swap(&q, &nq)
            }
            if p != summary { summary.update(from: p, count: shape.count) }
        }
    }

    /// k ≤ 4 (a literal k unrolls): per block, P ← Â P and Q ← Â Q + b in registers.
    @inline(__always)
    static func reducePlanes<S: ScanScalar>(
        _ k: Int, _ n: Int, _ transposed: Bool, _ a: UnsafePointer<S>, _ b: UnsafePointer<S>,
        _ order: StepOrder, _ summary: UnsafeMutablePointer<S>
    ) {
        let p = summary
        let q = summary + k * k * n
        for t in order {
            let at = a + t * k * k * n
            let bt = b + t * k * n
            for j in 0..<n {
                var pm = SIMD16<S>()
                var qv = SIMD4<S>()
                var am = SIMD16<S>()
                for r in 0..<k {
                    qv[r] = q[r * n + j]
                    for c in 0..<k {
                        pm[r * 4 + c] = p[(r * k + c) * n + j]
                        am[r * 4 + c] = transposed ? at[(c * k + r) * n + j] : at[(r * k + c) * n + j]
                    }
                }
                for r in 0..<k {
                    var acc = bt[r * n + j]
                    for m in 0..<k { acc += am[r * 4 + m] * qv[m] }
                    q[r * n + j] = acc
                    for c in 0..<k {
                        var sum: S = 0
                        for m in 0..<k { sum += am[r * 4 + m] * pm[m * 4 + c] }
                        p[(r * k + c) * n + j] = sum
                    }
                }
            }
        }
    }

    /// Any k: plane-wise products into `scratch`, then copied back.
    static func reducePlanesAny<S: ScanScalar>(
        _ k: Int, _ n: Int, _ transposed: Bool, _ a: UnsafePointer<S>, _ b: UnsafePointer<S>,
        _ order: StepOrder, _ summary: UnsafeMutablePointer<S>, _ scratch: UnsafeMutablePointer<S>
    ) {
        let p = summary
        let q = summary + k * k * n
        let np = scratch
        let nq = scratch + k * k * n
        for t in order {
            let at = a + t * k * k * n
            let bt = b + t * k * n
            for r in 0..<k {
                for c in 0..<k {
                    let o = np + (r * k + c) * n
                    o.update(repeating: 0, count: n)
                    for m in 0..<k {
                        let entry = transposed ? m * k + r : r * k + m
                        let ap = at + entry * n
                        let pp = p + (m * k + c) * n
                        for j in 0..<n { o[j] += ap[j] * pp[j] }
                    }
                }
                let o = nq + r * n
                o.update(from: bt + r * n, count: n)
                for m in 0..<k {
                    let entry = transposed ? m * k + r : r * k + m
                    let ap = at + entry * n
                    let qp = q + m * n
                    for j in 0..<n { o[j] += ap[j] * qp[j] }
                }
            }
            summary.update(from: scratch, count: (k * k + k) * n)
        }
    }

    /// Solves `range` from `carry` with the library's scan on one worker.
    static func solve<S: ScanScalar>(
        kind: SegmentScanKind, a: UnsafePointer<S>, b: UnsafePointer<S>, range: Range<Int>,
        reverse: Bool, carry: UnsafePointer<S>, output: UnsafeMutablePointer<S>
    ) {
        let lo = range.lowerBound
        let rowA = kind.coefficientRow
        let row = kind.stateRow
        switch kind {
        case .diagonal(let n):
            AffineScan.diagonalUnchecked(
                a: a + lo * rowA, b: b + lo * row, steps: range.count, lanes: n, initial: carry,
                output: output + lo * row, reverse: reverse, pool: .serial)
        case .blockDiagonal(let n, let k, let transposed):
            AffineScan.blockDiagonalUnchecked(
                a: a + lo * rowA, b: b + lo * row, steps: range.count, blocks: n, blockSize: k,
                initial: carry, output: output + lo * row, transposed: transposed,
                reverse: reverse, pool: .serial)
        case .dense(let batch, let d, let transposed):
            AffineScan.denseUnchecked(
                a: a + lo * rowA, b: b + lo * row, steps: range.count, batch: batch, dimension: d,
                initial: carry, output: output + lo * row, transposed: transposed,
                reverse: reverse, pool: .serial)
        }
    }
}

/// The steps of a range in processing order (descending for reverse scans), without storage.
struct StepOrder: Sequence, IteratorProtocol {
    var next_: Int
    let end: Int
    let stride: Int

    init(range: Range<Int>, reverse: Bool) {
        next_ = reverse ? range.upperBound - 1 : range.lowerBound
        end = reverse ? range.lowerBound - 1 : range.upperBound
        stride = reverse ? -1 : 1
    }

    mutating func next() -> Int? {
        if next_ == end { return nil }
        defer { next_ += stride }
        return next_
    }
}
