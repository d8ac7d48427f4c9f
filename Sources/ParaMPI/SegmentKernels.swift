import ParallelScan

extension SegmentScanKind {
    /// The library's kernels for this kind over `a` and `b` (``ScanKernels``): a chunk's
    /// reduction to its summary (P, Q) and the solve of a range from a carry, on one worker.
    ///
    ///     let kernels = kind.kernels(a: a, b: b, reverse: false)
    ///     kernels.reduce(range, into: summary, scratch: scratch)
    func kernels<S: ScanScalar>(a: UnsafePointer<S>, b: UnsafePointer<S>, reverse: Bool) -> ScanKernels<S> {
        switch self {
        case .diagonal(let lanes):
            return ScanKernels(shape: .diagonal(lanes: lanes), a: a, b: b, transposed: false, reverse: reverse)
        case .blockDiagonal(let blocks, let k, let transposed):
            return ScanKernels(
                shape: .blockDiagonal(blocks: blocks, blockSize: k), a: a, b: b, transposed: transposed,
                reverse: reverse)
        case .dense(let batch, let d, let transposed):
            return ScanKernels(
                shape: .dense(batch: batch, dimension: d), a: a, b: b, transposed: transposed, reverse: reverse)
        }
    }
}
