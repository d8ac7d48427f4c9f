extension ScanShape {
    /// State values per step (a row of `b` and of the output; one `initial` state).
    @inlinable
    public var statesPerStep: Int {
        switch self {
        case .diagonal(let lanes): return lanes
        case .blockDiagonal(let blocks, let k): return k * blocks
        case .dense(let batch, let d): return batch * d
        }
    }

    /// Coefficients of A per step (a row of `a`).
    @inlinable
    public var coefficientsPerStep: Int {
        switch self {
        case .diagonal(let lanes): return lanes
        case .blockDiagonal(let blocks, let k): return k * k * blocks
        case .dense(let batch, let d): return batch * d * d
        }
    }

    /// Refuses a shape without lanes, or a block size below 1.
    @inlinable
    func validate() throws(ScanError) {
        switch self {
        case .diagonal(let lanes):
            if lanes <= 0 { throw .noLanes }
        case .blockDiagonal(let blocks, let k):
            if blocks <= 0 { throw .noLanes }
            if k < 1 { throw .invalidBlockSize(blockSize: k, stateSize: k * blocks) }
        case .dense(let batch, let d):
            if batch <= 0 || d <= 0 { throw .noLanes }
        }
    }
}

extension AffineScan {
    /// Solves h_t = A_t h_{t∓1} + b_t for coefficient matrices of any structure: the one checked
    /// entry behind ``diagonal(a:b:steps:lanes:initial:output:direction:pool:)``,
    /// ``blockDiagonal(a:b:steps:blocks:blockSize:initial:output:transposed:direction:pool:)`` and
    /// ``dense(a:b:steps:batch:dimension:initial:output:transposed:direction:pool:)`` (layouts
    /// as there; `transposed` is ignored by the diagonal scan).
    ///
    ///     try AffineScan.solve(.blockDiagonal(blocks: 8, blockSize: 2), a: a, b: b, steps: T, output: h)
    ///
    /// - Throws: ``ScanError`` for an empty sequence, no lanes, a block size below 1, or a buffer
    ///   of the wrong size.
    @inlinable
    public static func solve<S: ScanScalar>(
        _ shape: ScanShape, a: UnsafeBufferPointer<S>, b: UnsafeBufferPointer<S>, steps: Int,
        initial: UnsafeBufferPointer<S>? = nil, output: UnsafeMutableBufferPointer<S>, transposed: Bool = false,
        direction: ScanDirection = .forward, pool: WorkerPool = .shared
    ) throws(ScanError) {
        if steps <= 0 { throw .emptySequence }
        let (a, b, output) = try checkedBuffers(
            shape, a: a, b: b, steps: steps, initial: initial, initialCount: shape.statesPerStep, output: output)
        scanUnchecked(
            shape, a: a, b: b, steps: steps, initial: initial?.baseAddress, output: output, transposed: transposed,
            reverse: direction == .reverse, pool: pool)
    }

    /// Array convenience for ``solve(_:a:b:steps:initial:output:transposed:direction:pool:)``;
    /// returns the states, `[T][state]`.
    @inlinable
    public static func solve<S: ScanScalar>(
        _ shape: ScanShape, a: [S], b: [S], steps: Int, initial: [S]? = nil, transposed: Bool = false,
        direction: ScanDirection = .forward, pool: WorkerPool = .shared
    ) throws(ScanError) -> [S] {
        try scanArrays(a, b, initial: initial, stateCount: shape.statesPerStep) { a, b, h0, out throws(ScanError) in
            try solve(
                shape, a: a, b: b, steps: steps, initial: h0, output: out, transposed: transposed,
                direction: direction, pool: pool)
        }
    }

    /// The shape's checks and the buffers' sizes (`a`, `b`, `output`, then `initial`), in that
    /// order; the base addresses of the three (non-empty) buffers.
    @inlinable
    static func checkedBuffers<S: ScanScalar>(
        _ shape: ScanShape, a: UnsafeBufferPointer<S>, b: UnsafeBufferPointer<S>, steps: Int,
        initial: UnsafeBufferPointer<S>?, initialCount: Int, output: UnsafeMutableBufferPointer<S>
    ) throws(ScanError) -> (UnsafePointer<S>, UnsafePointer<S>, UnsafeMutablePointer<S>) {
        try shape.validate()
        try checkBuffer("a", a.count, steps * shape.coefficientsPerStep)
        try checkBuffer("b", b.count, steps * shape.statesPerStep)
        try checkBuffer("output", output.count, steps * shape.statesPerStep)
        if let initial { try checkBuffer("initial", initial.count, initialCount) }
        guard let aBase = a.baseAddress, let bBase = b.baseAddress, let outBase = output.baseAddress else {
            throw .emptySequence
        }
        return (aBase, bBase, outBase)
    }

    /// The scan of any structure without argument checks (pointers valid for the shape): the
    /// chunked three-phase scan over ``ScanKernels``. Specialised for `Float` and `Double`
    /// (`@_specialize`), so generic callers in other modules run the specialised loops.
    @usableFromInline
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    package static func scanUnchecked<S: ScanScalar>(
        _ shape: ScanShape, a: UnsafePointer<S>, b: UnsafePointer<S>, steps: Int, initial: UnsafePointer<S>?,
        output: UnsafeMutablePointer<S>, transposed: Bool, reverse: Bool, pool: WorkerPool
    ) {
        let kernels = ScanKernels(shape: shape, a: a, b: b, transposed: transposed, reverse: reverse)
        let state = kernels.state
        let workers = AffineScan.workers(shape, steps: steps, scalarBytes: MemoryLayout<S>.stride, pool: pool)
        if workers == 1 {
            // The plain loop: no chunk plan, summaries or pool dispatch; zeros only without an
            // initial state.
            if let initial {
                kernels.solve(0..<steps, from: initial, into: output)
            } else {
                withUnsafeTemporaryAllocation(of: S.self, capacity: state) { zeros in
                    zeros.initialize(repeating: 0)
                    kernels.solve(0..<steps, from: UnsafePointer(zeros.baseAddress!), into: output)
                }
            }
            return
        }
        let plan = ChunkPlan(
            steps: steps, workers: workers, reduceCost: kernels.reduceCost(workers: workers, pool: pool),
            reverse: reverse)
        let slots = plan.ranges.count
        // carries: [slots][state] (written serially); summaries: a padded row per chunk (P, Q,
        // scratch), rewritten at every step of a reduction by its own worker.
        let carries = UnsafeMutablePointer<S>.allocate(capacity: slots * state)
        carries.initialize(repeating: 0, count: slots * state)
        let sum = PaddedSlots<S>(slots: slots, count: kernels.summarySize, repeating: 0)
        defer {
            carries.deallocate()
            sum.deallocate()
        }
        if let initial { carries.update(from: initial, count: state) }
        let out = UnsafeMutableSendable(output)
        let carry = UnsafeMutableSendable(carries)
        ThreePhaseScan(plan: plan, pool: pool).run(
            solveFirst: { range in kernels.solve(range, from: UnsafePointer(carry.base), into: out.base) },
            reduce: { c, range in kernels.reduce(range, into: sum[c]) },
            carryFromFirst: { range in
                let last = reverse ? range.lowerBound : range.upperBound - 1
                (carry.base + state).update(from: out.base + last * state, count: state)
            },
            propagate: { c in
                kernels.apply(
                    UnsafePointer(sum[c]), to: UnsafePointer(carry.base + c * state),
                    into: carry.base + (c + 1) * state)
            },
            solveFrom: { c, range in
                kernels.solve(range, from: UnsafePointer(carry.base + c * state), into: out.base)
            })
    }
}
