/// The shape of an affine scan, for its cost and worker count.
///
/// ```swift
/// let workers = AffineScan.workers(.diagonal(lanes: 64), steps: 1_000_000,
///                                  scalarBytes: 4, pool: WorkerPool(threadCount: 16))
/// ```
public enum ScanShape: Sendable, Equatable {
    /// h_t = a_t ⊙ h_{t∓1} + b_t over `lanes` lanes.
    case diagonal(lanes: Int)
    /// `blocks` k×k blocks (k = `blockSize`).
    case blockDiagonal(blocks: Int, blockSize: Int)
    /// `batch` dense d×d matrices (d = `dimension`).
    case dense(batch: Int, dimension: Int)

    /// Scalar operations per step that count against the pool's grain size.
    public var grainWidth: Int {
        switch self {
        case .diagonal(let lanes): return lanes
        case .blockDiagonal(let blocks, let k): return blocks * k * k
        case .dense(let batch, let d): return batch * d * d
        }
    }

    /// Bytes and operations per step of the loop (reads A, b; writes h, write-allocate
    /// included) and of a reduction (reads A, b; composes: k³ per block, d³ per matrix).
    /// Loops over lanes count in 256-bit vectors (8 Float, 4 Double lanes); the fused reduction
    /// of blocks with k = 3, 4 composes one block at a time in registers (gathering its P, Q and
    /// Â), scalar code, so its 2k³ + 2k² operations a block count one each; 2×2 blocks compose
    /// a block per vector lane (24 instructions for 8 Float blocks). A dense matrix of
    /// d ≤ ``AffineScan/smallDenseLimit`` is applied as d dot products summed in order — scalar
    /// code, 2d² operations (the solve, and the reduction's Q ← A·Q + b) — while the reduction's
    /// P ← A·P runs along P's rows in vectors, four instructions (broadcast, load, multiply, add)
    /// per v columns: 4d³/v (`denseReduceRows`; 3× a d = 8 solve, as measured). Larger matrices
    /// go to BLAS, whose small products from many threads at once serialise inside the library
    /// (a d = 32 reduction cost 4 solves a step on one thread, 28 on sixteen at once): their
    /// reductions count as work that does not scale with the threads (``ParallelCost/reduceScales``).
    public func cost(scalarBytes s: Int) -> ParallelCost {
        let v = Double(max(1, 32 / max(1, s)))
        let s = Double(s)
        switch self {
        case .diagonal(let lanes):
            let n = Double(lanes)
            return .threePhase(
                solveBytes: 4 * n * s, reduceBytes: 2 * n * s, solveOperations: 2 * n / v, reduceOperations: 3 * n / v)
        case .blockDiagonal(let blocks, let size):
            let (n, k) = (Double(blocks), Double(size))
            // Instructions that compose `blocks` blocks: k ≤ 4 one block at a time, except 2×2
            // blocks eight then four at a time (a block per lane; 8 Doubles are two vectors);
            // larger blocks plane by plane in vectors.
            let perBlock = 2 * k * k * k + 2 * k * k
            let groups: Double
            if size == 2 {
                let (eights, rest) = blocks.quotientAndRemainder(dividingBy: 8)
                groups = Double(eights) * max(1, 8 / v) + Double(rest / 4) * max(1, 4 / v) + Double(rest % 4)
            } else {
                groups = size <= 4 ? n : n / v
            }
            return .threePhase(
                solveBytes: (k * k + 3 * k) * n * s, reduceBytes: (k * k + k) * n * s,
                solveOperations: 2 * k * k * n / v, reduceOperations: perBlock * groups)
        case .dense(let batch, let dimension):
            let (b, d) = (Double(batch), Double(dimension))
            let small = dimension <= AffineScan.smallDenseLimit
            let matrixVector = 2 * d * d * b / (small ? 1 : v)
            var cost = ParallelCost.threePhase(
                solveBytes: (d * d + 3 * d) * b * s, reduceBytes: (d * d + d) * b * s,
                solveOperations: matrixVector, reduceOperations: (small ? 4 : 2) * d * d * d * b / v + matrixVector)
            cost.reduceScales = small
            return cost
        }
    }
}

extension AffineScan {
    /// The number of workers an affine scan of `shape` over `steps` steps uses on `pool`:
    /// ``WorkerCount``'s decision under the pool's grain size (1 means the plain loop).
    public static func workers(_ shape: ScanShape, steps: Int, scalarBytes: Int, pool: WorkerPool) -> Int {
        workersFor(
            steps: steps, width: shape.grainWidth, cost: shape.cost(scalarBytes: scalarBytes), pool: pool)
    }
}
