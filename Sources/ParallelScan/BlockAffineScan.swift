extension AffineScan {
    /// Solves the block-diagonal recurrence h_t = A_t h_{t∓1} + b_t where A_t is block-diagonal
    /// with k×k blocks (`blocks` of them per step, e.g. batch × channels for LSTM-style (c, h)
    /// pairs).
    ///
    /// Layout (see ``AffineScan``): `a` is `[T][k][k][blocks]` — entry (r, c) of every block
    /// forms a contiguous plane — and `b`, `output` are `[T][k][blocks]`. With
    /// `transposed: true` each block is applied as its transpose (for adjoints).
    /// k = 2, 3, 4 run fully unrolled kernels; any k ≥ 1 is accepted.
    ///
    /// - Throws: ``ScanError`` for an empty sequence, no blocks, k < 1, or wrong buffer sizes.
    @inlinable
    public static func blockDiagonal<S: ScanScalar>(
        a: UnsafeBufferPointer<S>, b: UnsafeBufferPointer<S>, steps: Int, blocks: Int,
        blockSize k: Int, initial: UnsafeBufferPointer<S>? = nil,
        output: UnsafeMutableBufferPointer<S>, transposed: Bool = false,
        direction: ScanDirection = .forward, pool: WorkerPool = .shared
    ) throws(ScanError) {
        try solve(
            .blockDiagonal(blocks: blocks, blockSize: k), a: a, b: b, steps: steps, initial: initial,
            output: output, transposed: transposed, direction: direction, pool: pool)
    }

    /// Array convenience for the block-diagonal scan; returns `[T][k][blocks]`.
    @inlinable
    public static func blockDiagonal<S: ScanScalar>(
        a: [S], b: [S], steps: Int, blocks: Int, blockSize k: Int, initial: [S]? = nil,
        transposed: Bool = false, direction: ScanDirection = .forward,
        pool: WorkerPool = .shared
    ) throws(ScanError) -> [S] {
        try solve(
            .blockDiagonal(blocks: blocks, blockSize: k), a: a, b: b, steps: steps, initial: initial,
            transposed: transposed, direction: direction, pool: pool)
    }

    /// Solves a range from `carry`, with a literal k (``withLiteralBlockSize(_:_:_:)``) so the
    /// block loops unroll.
    @inlinable
    static func blockSolve<S: ScanScalar>(
        a: UnsafePointer<S>, b: UnsafePointer<S>, k: Int, blocks: Int, range: Range<Int>,
        transposed: Bool, reverse: Bool, carry: UnsafePointer<S>, output: UnsafeMutablePointer<S>
    ) {
        withLiteralBlockSize(k, transposed) { k, transposed in
            let state = k * blocks
            let rowA = k * state
            var previous = carry
            forEachStep(of: range, reverse: reverse) { t in
                blockApply(
                    a: a + t * rowA, b: b + t * state, previous: previous, output: output + t * state,
                    k: k, blocks: blocks, transposed: transposed)
                previous = UnsafePointer(output + t * state)
            }
        }
    }

    /// Calls `body(k, transposed)` with literal arguments for k = 2, 3, 4 (each orientation),
    /// the given ones otherwise: an inlined body sees a constant k and unrolls its block loops.
    ///
    ///     withLiteralBlockSize(k, transposed) { k, transposed in blockApply(…, k: k, …) }
    @inlinable @inline(__always)
    static func withLiteralBlockSize(_ k: Int, _ transposed: Bool, _ body: (Int, Bool) -> Void) {
        switch (k, transposed) {
        case (2, false): body(2, false)
        case (2, true): body(2, true)
        case (3, false): body(3, false)
        case (3, true): body(3, true)
        case (4, false): body(4, false)
        case (4, true): body(4, true)
        default: body(k, transposed)
        }
    }

    /// output[r] = b[r] + Σ_c Â[r][c] ⊙ previous[c] over all blocks (planes of length `blocks`).
    @inlinable @inline(__always)
    static func blockApply<S: ScanScalar>(
        a: UnsafePointer<S>, b: UnsafePointer<S>, previous: UnsafePointer<S>,
        output: UnsafeMutablePointer<S>, k: Int, blocks: Int, transposed: Bool
    ) {
        if k <= 4 {
            for j in 0..<blocks {
                // Read the whole previous block first: output may alias b, never previous.
                for r in 0..<k {
                    var acc = b[r * blocks + j]
                    for c in 0..<k {
                        let entry = transposed ? c * k + r : r * k + c
                        acc += a[entry * blocks + j] * previous[c * blocks + j]
                    }
                    output[r * blocks + j] = acc
                }
            }
        } else {
            // Plane-wise loops vectorise over blocks for any k.
            for r in 0..<k {
                let o = output + r * blocks
                if o != UnsafeMutablePointer(mutating: b + r * blocks) {
                    o.update(from: b + r * blocks, count: blocks)
                }
                for c in 0..<k {
                    let entry = transposed ? c * k + r : r * k + c
                    let ap = a + entry * blocks
                    let pp = previous + c * blocks
                    for j in 0..<blocks { o[j] += ap[j] * pp[j] }
                }
            }
        }
    }

    /// Composes the steps of `range` into (P, Q) per block: P = Â_last ⋯ Â_first, Q = the state
    /// reached from zero. `summary` and `scratch` hold (k² + k)·blocks values each.
    @inlinable
    static func blockReduce<S: ScanScalar>(
        a: UnsafePointer<S>, b: UnsafePointer<S>, k: Int, blocks: Int, range: Range<Int>,
        transposed: Bool, reverse: Bool, summary: UnsafeMutablePointer<S>,
        scratch: UnsafeMutablePointer<S>
    ) {
        let state = k * blocks
        let rowA = k * state
        let matrix = k * k * blocks
        var p = summary
        var q = summary + matrix
        var np = scratch
        var nq = scratch + matrix
        p.update(repeating: 0, count: matrix)
        for r in 0..<k { (p + (r * k + r) * blocks).update(repeating: 1, count: blocks) }
        q.update(repeating: 0, count: state)
        if k <= 4 {
            // Fused per-block update in place (each block's P and Q are read before written);
            // a literal k unrolls the block loops.
            withLiteralBlockSize(k, transposed) { k, transposed in
                blockReduceFused(a, b, k, blocks, range, transposed, reverse, p, q)
            }
            return
        }
        forEachStep(of: range, reverse: reverse) { t in
            let at = a + t * rowA
            // New P = Â P, column by column: each column of P is a k-vector per block.
            for col in 0..<k {
                blockMatrixColumn(
                    a: at, p: UnsafePointer(p), col: col, output: np, k: k, blocks: blocks,
                    transposed: transposed)
            }
            blockApply(
                a: at, b: b + t * state, previous: UnsafePointer(q), output: nq, k: k,
                blocks: blocks, transposed: transposed)
            swap(&p, &np)
            swap(&q, &nq)
        }
        if p != summary {
            summary.update(from: p, count: matrix + state)
        }
    }

    /// The reduction for small k: per block, P ← Â P and Q ← Â Q + b in registers. 2×2 blocks
    /// run eight (then four) blocks at a time, one per vector lane (``blockReduceTwoLanes``),
    /// the others one block at a time (``blockReduceOne``); both do the same operations in the
    /// same order, so the summary is bitwise the same either way.
    @inlinable @inline(__always)
    static func blockReduceFused<S: ScanScalar>(
        _ a: UnsafePointer<S>, _ b: UnsafePointer<S>, _ k: Int, _ blocks: Int,
        _ range: Range<Int>, _ transposed: Bool, _ reverse: Bool, _ p: UnsafeMutablePointer<S>,
        _ q: UnsafeMutablePointer<S>
    ) {
        let state = k * blocks
        let rowA = k * state
        forEachStep(of: range, reverse: reverse) { t in
            let at = a + t * rowA
            let bt = b + t * state
            var j = 0
            if k == 2 {
                while j + 8 <= blocks {
                    blockReduceTwoLanes(SIMD8<S>.self, at, bt, blocks, j, transposed, p, q)
                    j += 8
                }
                if j + 4 <= blocks {
                    blockReduceTwoLanes(SIMD4<S>.self, at, bt, blocks, j, transposed, p, q)
                    j += 4
                }
            }
            while j < blocks {
                blockReduceOne(at, bt, k, blocks, j, transposed, p, q)
                j += 1
            }
        }
    }

    /// One step of the reduction for block `j` (k ≤ 4): gathers its P, Q and Â, then writes
    /// P ← Â P and Q ← Â Q + b (sums from zero, terms in order).
    @inlinable @inline(__always)
    static func blockReduceOne<S: ScanScalar>(
        _ at: UnsafePointer<S>, _ bt: UnsafePointer<S>, _ k: Int, _ blocks: Int, _ j: Int, _ transposed: Bool,
        _ p: UnsafeMutablePointer<S>, _ q: UnsafeMutablePointer<S>
    ) {
        var pm = SIMD16<S>()
        var qv = SIMD4<S>()
        var am = SIMD16<S>()
        for r in 0..<k {
            qv[r] = q[r * blocks + j]
            for c in 0..<k {
                pm[r * 4 + c] = p[(r * k + c) * blocks + j]
                am[r * 4 + c] = transposed ? at[(c * k + r) * blocks + j] : at[(r * k + c) * blocks + j]
            }
        }
        for r in 0..<k {
            var acc = bt[r * blocks + j]
            for m in 0..<k { acc += am[r * 4 + m] * qv[m] }
            q[r * blocks + j] = acc
            for c in 0..<k {
                var sum: S = 0
                for m in 0..<k { sum += am[r * 4 + m] * pm[m * 4 + c] }
                p[(r * k + c) * blocks + j] = sum
            }
        }
    }

    /// One step of the 2×2 reduction for blocks j ..< j + V.scalarCount, a block per lane: the
    /// planes of P, Q, Â and b are contiguous over blocks, so every entry is one vector load.
    /// The operations of ``blockReduceOne`` in its order (P's sums start from zero), lane-wise:
    ///
    ///     Q ← (b_r + Â_r0 Q_0) + Â_r1 Q_1,   P_rc ← (0 + Â_r0 P_0c) + Â_r1 P_1c
    ///
    /// 24 arithmetic instructions for V.scalarCount blocks instead of 24 a block.
    @inlinable @inline(__always)
    static func blockReduceTwoLanes<S: ScanScalar, V: SIMD>(
        _: V.Type, _ at: UnsafePointer<S>, _ bt: UnsafePointer<S>, _ blocks: Int, _ j: Int, _ transposed: Bool,
        _ p: UnsafeMutablePointer<S>, _ q: UnsafeMutablePointer<S>
    ) where V.Scalar == S {
        @inline(__always) func load(_ x: UnsafePointer<S>) -> V {
            UnsafeRawPointer(x).loadUnaligned(as: V.self)
        }
        @inline(__always) func store(_ value: V, _ x: UnsafeMutablePointer<S>) {
            UnsafeMutableRawPointer(x).storeBytes(of: value, as: V.self)
        }
        let p00 = load(p + j)
        let p01 = load(p + blocks + j)
        let p10 = load(p + 2 * blocks + j)
        let p11 = load(p + 3 * blocks + j)
        let q0 = load(q + j)
        let q1 = load(q + blocks + j)
        // Entry (r, c) of Â is plane r·2 + c of A, or c·2 + r when transposed.
        let a00 = load(at + j)
        let a01 = load(at + (transposed ? 2 : 1) * blocks + j)
        let a10 = load(at + (transposed ? 1 : 2) * blocks + j)
        let a11 = load(at + 3 * blocks + j)
        let zero = V()
        store((load(bt + j) + a00 * q0) + a01 * q1, q + j)
        store((load(bt + blocks + j) + a10 * q0) + a11 * q1, q + blocks + j)
        store((zero + a00 * p00) + a01 * p10, p + j)
        store((zero + a00 * p01) + a01 * p11, p + blocks + j)
        store((zero + a10 * p00) + a11 * p10, p + 2 * blocks + j)
        store((zero + a10 * p01) + a11 * p11, p + 3 * blocks + j)
    }

    /// Column `col` of Â·P for every block.
    @inlinable @inline(__always)
    static func blockMatrixColumn<S: ScanScalar>(
        a: UnsafePointer<S>, p: UnsafePointer<S>, col: Int, output: UnsafeMutablePointer<S>,
        k: Int, blocks: Int, transposed: Bool
    ) {
        for r in 0..<k {
            let o = output + (r * k + col) * blocks
            o.update(repeating: 0, count: blocks)
            for m in 0..<k {
                let entry = transposed ? m * k + r : r * k + m
                let ap = a + entry * blocks
                let pp = p + (m * k + col) * blocks
                for j in 0..<blocks { o[j] += ap[j] * pp[j] }
            }
        }
    }
}
