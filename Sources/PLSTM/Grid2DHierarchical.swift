import ParallelScan

extension GridGates {
    /// Hierarchical, logarithmic-depth evaluation of the grid recurrence (see ``GridGates``).
    ///
    /// The grid is bisected recursively (the longer side at its midpoint, so any H, W work)
    /// into a block tree whose leaves are at most `leafSize`×`leafSize`. A block with h rows and
    /// w columns has n = h + w boundary inputs — the h right-edge states entering from the left
    /// and the w down-edge states entering from above — and n boundary outputs (right edges
    /// leaving its last column, down edges leaving its last row). Since the recurrence is
    /// linear, out = G·in + ℓ with a scalar **transfer operator** G ∈ ℝ^{n×n} (the same for
    /// every lane) and a **local part** ℓ ∈ ℝ^{n×d} (the outputs for zero boundary inputs).
    ///
    /// 1. Up-sweep (leaves, then one tree level at a time, blocks of a level in parallel):
    ///    leaves get G by sweeping the recurrence with the identity as boundary input (n lanes)
    ///    and ℓ by sweeping with zero boundary and the sources. A parent of A and B (B to the
    ///    right of or below A) composes them: B's left (resp. top) input is A's right (resp.
    ///    bottom) output, so e.g. for a horizontal split
    ///    G_P[outB, inA] = G_B[outB, leftB]·G_A[rightA, inA], G_P[outB, topB] = G_B[outB, topB],
    ///    G_P[bottomA, inA] = G_A[bottomA, inA], and ℓ_P[outB] = ℓ_B + G_B[outB, leftB]·ℓ_A[rightA]
    ///    (matrix products through BLAS gemm).
    /// 2. Down-sweep (root to leaves, blocks of a level in parallel): from a block's actual
    ///    boundary input (zero at the grid border) A's input is a slice of it and B's input is a
    ///    slice plus G_A[rightA or bottomA, inA]·in_A + ℓ_A.
    /// 3. Leaves, all in parallel: sweep with the actual boundary inputs to produce y.
    ///
    /// The depth is O(log(H·W / leafSize²)) tree levels plus one leaf sweep. The work is larger
    /// than the wavefront's: composing transfer operators costs O(s³) per s×s block, i.e.
    /// O((H·W)·max(H, W)) in total, against O(H·W·d) for ``wavefront(input:stateSize:)``.
    ///
    /// - Parameters:
    ///   - input: x, `[H][W][d]`.
    ///   - stateSize: d.
    ///   - leafSize: maximal side of a leaf block (≥ 1).
    ///   - pool: the workers.
    /// - Returns: y, `[H][W][d]`, equal to ``wavefront(input:stateSize:)`` up to rounding.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func hierarchical(
        input: [S], stateSize d: Int, leafSize: Int = 64, pool: WorkerPool = .shared
    ) throws(PLSTMError) -> [S] {
        try check()
        if d < 1 { throw .invalidStateSize(d) }
        if leafSize < 1 { throw .invalidSize("leaf size \(leafSize)") }
        try checkCount("input", input.count, height * width * d)
        // Every node's output is written by a sweep: no zero-filling pass.
        var y = [S](unsafeUninitializedCapacity: height * width * d) { _, count in count = height * width * d }
        let tree = BlockTree(height: height, width: width, leafSize: leafSize, lanes: d)
        let arenas = BlockArenas<S>(tree)
        defer { arenas.free() }
        withGatePointers { gp in
            input.withSendablePointer { x in
                y.withMutableSendablePointer { yp in
                    // 1. Up-sweep.
                    // Blocks of a level whose G and ℓ are needed; when there are fewer of them
                    // than workers, each merge is split over its output rows.
                    for level in tree.byHeight {
                        let work = level.filter { tree.blocks[$0].needsOperator }
                        let parts = max(1, pool.threadCount / max(1, work.count))
                        pool.forEach(work.count * parts) { item in
                            let b = tree.blocks[work[item / parts]]
                            if b.childA < 0 {
                                if item % parts == 0 {
                                    tree.leafOperators(b, gp, x.base, arenas.G(b), arenas.L(b))
                                }
                            } else {
                                let rows = ChunkPlan.evenRange(
                                    index: item % parts, of: parts, total: b.n)
                                tree.merge(b, rows: rows, arenas)
                            }
                        }
                    }
                    // 2. Down-sweep.
                    for level in tree.byDepth {
                        pool.forEach(level.count) { k in
                            let b = tree.blocks[level[k]]
                            if b.childA >= 0 { tree.distribute(b, arenas) }
                        }
                    }
                    // 3. Leaves.
                    pool.forEach(tree.leaves.count) { k in
                        let b = tree.blocks[tree.leaves[k]]
                        let inb = arenas.I(b)
                        gp.sweep(
                            rows: b.r0..<b.r1, cols: b.c0..<b.c1, lanes: d, leftIn: inb,
                            topIn: inb + b.h * d, x: x.base, rightOut: inb,
                            bottomOut: inb + b.h * d, y: yp.base)
                    }
                }
            }
        }
        return y
    }
}

/// A block of the hierarchical decomposition.
struct GridBlock: Sendable {
    var r0, r1, c0, c1: Int
    var childA = -1, childB = -1
    var parent = -1
    /// Split of the rows (A above B) rather than of the columns (A left of B).
    var splitsRows = false
    var depth = 0, height = 0
    /// Whether G and ℓ are used: by the parent's merge or by the parent's down-sweep step (first
    /// children). The root and every last child of a block that does not need them skip them.
    var needsOperator = false
    var gOffset = 0, lOffset = 0, iOffset = 0
    var h: Int { r1 - r0 }
    var w: Int { c1 - c0 }
    var n: Int { h + w }
}

/// The block tree of ``GridGates/hierarchical(input:stateSize:leafSize:pool:)`` and its
/// composition kernels. Boundary vectors are ordered [left/right rows…, top/bottom columns…].
struct BlockTree: Sendable {
    var blocks: [GridBlock] = []
    var byHeight: [[Int]] = []
    var byDepth: [[Int]] = []
    var leaves: [Int] = []
    var gTotal = 0, lTotal = 0, iTotal = 0
    let d: Int

    init(height: Int, width: Int, leafSize: Int, lanes: Int) {
        d = lanes
        _ = build(GridBlock(r0: 0, r1: height, c0: 0, c1: width), parent: -1, depth: 0, leafSize)
        let maxH = blocks.map(\.height).max()!
        let maxD = blocks.map(\.depth).max()!
        byHeight = Array(repeating: [], count: maxH + 1)
        byDepth = Array(repeating: [], count: maxD + 1)
        for (k, b) in blocks.enumerated() {
            byHeight[b.height].append(k)
            byDepth[b.depth].append(k)
            if b.childA < 0 { leaves.append(k) }
            blocks[k].gOffset = gTotal
            blocks[k].lOffset = lTotal
            blocks[k].iOffset = iTotal
            if b.needsOperator {
                gTotal += b.n * b.n
                lTotal += b.n * lanes
            }
            iTotal += b.n * lanes
        }
    }

    private mutating func build(
        _ block: GridBlock, parent: Int, depth: Int, _ leaf: Int, needs: Bool = false
    ) -> Int {
        var b = block
        b.parent = parent
        b.depth = depth
        b.needsOperator = needs
        let index = blocks.count
        blocks.append(b)
        if b.h <= leaf && b.w <= leaf { return index }
        var a = b
        var c = b
        if b.h >= b.w {
            let mid = b.r0 + b.h / 2
            a.r1 = mid
            c.r0 = mid
            blocks[index].splitsRows = true
        } else {
            let mid = b.c0 + b.w / 2
            a.c1 = mid
            c.c0 = mid
        }
        let ia = build(a, parent: index, depth: depth + 1, leaf, needs: true)
        let ib = build(c, parent: index, depth: depth + 1, leaf, needs: b.needsOperator)
        blocks[index].childA = ia
        blocks[index].childB = ib
        blocks[index].height = max(blocks[ia].height, blocks[ib].height) + 1
        return index
    }

    /// The two children of an inner block (A first).
    func children(of p: GridBlock) -> (GridBlock, GridBlock) { (blocks[p.childA], blocks[p.childB]) }

    /// G and ℓ of a leaf by sweeping the recurrence (identity boundary / zero boundary).
    func leafOperators<S: ScanScalar>(
        _ b: GridBlock, _ gp: GridGatePointers<S>, _ x: UnsafePointer<S>,
        _ G: UnsafeMutablePointer<S>, _ loc: UnsafeMutablePointer<S>
    ) {
        let n = b.n
        G.initialize(repeating: 0, count: n * n)
        for r in 0..<n { G[r * n + r] = 1 }
        gp.sweep(
            rows: b.r0..<b.r1, cols: b.c0..<b.c1, lanes: n, leftIn: G, topIn: G + b.h * n,
            x: nil, rightOut: G, bottomOut: G + b.h * n, y: nil)
        loc.initialize(repeating: 0, count: n * d)
        gp.sweep(
            rows: b.r0..<b.r1, cols: b.c0..<b.c1, lanes: d, leftIn: loc, topIn: loc + b.h * d,
            x: x, rightOut: loc, bottomOut: loc + b.h * d, y: nil)
    }

    /// Composes the children's G and ℓ into rows `rows` of the parent's (the parent's output
    /// rows can be split between workers; each call writes only its rows).
    func merge<S: ScanScalar>(
        _ p: GridBlock, rows: Range<Int>, _ arenas: BlockArenas<S>
    ) {
        let (a, b) = children(of: p)
        let (GA, GB, GP) = (arenas.G(a), arenas.G(b), arenas.G(p))
        let (LA, LB, LP) = (arenas.L(a), arenas.L(b), arenas.L(p))
        let n = p.n
        let nA = a.n
        let nB = b.n
        if rows.isEmpty { return }
        (GP + rows.lowerBound * n).initialize(repeating: 0, count: rows.count * n)
        @inline(__always) func clip(_ lo: Int, _ hi: Int) -> Range<Int> {
            let l = max(lo, rows.lowerBound)
            let u = min(hi, rows.upperBound)
            return l..<max(l, u)
        }
        if !p.splitsRows {
            // A left, B right; h rows. P in = [left h, topA wA, topB wB];
            // out = [right h, botA wA, botB wB]. P rows < h and ≥ h + wA are B's outputs.
            let h = p.h
            let wA = a.w
            let wB = b.w
            for (seg, shift) in [(clip(0, h), 0), (clip(h + wA, n), wA)] where !seg.isEmpty {
                let rB = seg.lowerBound - shift
                // G_P[outB, inA] = G_B[outB, leftB]·G_A[rightA, inA]; G_P[outB, topB] = G_B[outB, topB].
                S.gemm(
                    transposeA: false, m: seg.count, n: nA, k: h, alpha: 1, a: GB + rB * nB,
                    lda: nB, b: GA, ldb: nA, beta: 0, c: GP + seg.lowerBound * n, ldc: n)
                for r in seg {
                    (GP + r * n + h + wA).update(from: GB + (r - shift) * nB + h, count: wB)
                }
                // ℓ_P[outB] = ℓ_B + G_B[outB, leftB]·ℓ_A[rightA].
                (LP + seg.lowerBound * d).update(from: LB + rB * d, count: seg.count * d)
                S.gemm(
                    transposeA: false, m: seg.count, n: d, k: h, alpha: 1, a: GB + rB * nB,
                    lda: nB, b: LA, ldb: d, beta: 1, c: LP + seg.lowerBound * d, ldc: d)
            }
            for r in clip(h, h + wA) {
                (GP + r * n).update(from: GA + r * nA, count: nA)
                (LP + r * d).update(from: LA + r * d, count: d)
            }
        } else {
            // A above, B below; w columns. P in = [leftA hA, leftB hB, top w];
            // out = [rightA hA, rightB hB, bottom w]. P rows ≥ hA are B's outputs.
            let hA = a.h
            let hB = b.h
            let w = p.w
            for r in clip(0, hA) {
                (GP + r * n).update(from: GA + r * nA, count: hA)
                (GP + r * n + hA + hB).update(from: GA + r * nA + hA, count: w)
                (LP + r * d).update(from: LA + r * d, count: d)
            }
            let seg = clip(hA, n)
            if !seg.isEmpty {
                let rB = seg.lowerBound - hA
                let c0 = GP + seg.lowerBound * n
                for r in seg { (GP + r * n + hA).update(from: GB + (r - hA) * nB, count: hB) }
                // G_P[outB, (leftA, top)] = G_B[outB, topB]·G_A[bottomA, (leftA, top)].
                S.gemm(
                    transposeA: false, m: seg.count, n: hA, k: w, alpha: 1, a: GB + rB * nB + hB,
                    lda: nB, b: GA + hA * nA, ldb: nA, beta: 0, c: c0, ldc: n)
                S.gemm(
                    transposeA: false, m: seg.count, n: w, k: w, alpha: 1, a: GB + rB * nB + hB,
                    lda: nB, b: GA + hA * nA + hA, ldb: nA, beta: 0, c: c0 + hA + hB, ldc: n)
                (LP + seg.lowerBound * d).update(from: LB + rB * d, count: seg.count * d)
                S.gemm(
                    transposeA: false, m: seg.count, n: d, k: w, alpha: 1, a: GB + rB * nB + hB,
                    lda: nB, b: LA + hA * d, ldb: d, beta: 1, c: LP + seg.lowerBound * d, ldc: d)
            }
        }
    }

    /// Computes the children's boundary inputs from the parent's.
    func distribute<S: ScanScalar>(
        _ p: GridBlock, _ arenas: BlockArenas<S>
    ) {
        let (a, b) = children(of: p)
        let (GA, LA) = (arenas.G(a), arenas.L(a))
        let (IP, IA, IB) = (arenas.I(p), arenas.I(a), arenas.I(b))
        let nA = a.n
        if !p.splitsRows {
            let h = p.h
            let wA = a.w
            let wB = b.w
            IA.update(from: IP, count: nA * d)
            IB.update(from: LA, count: h * d)
            S.gemm(
                transposeA: false, m: h, n: d, k: nA, alpha: 1, a: GA, lda: nA, b: IA, ldb: d,
                beta: 1, c: IB, ldc: d)
            (IB + h * d).update(from: IP + (h + wA) * d, count: wB * d)
        } else {
            let hA = a.h
            let hB = b.h
            let w = p.w
            IA.update(from: IP, count: hA * d)
            (IA + hA * d).update(from: IP + (hA + hB) * d, count: w * d)
            IB.update(from: IP + hA * d, count: hB * d)
            (IB + hB * d).update(from: LA + hA * d, count: w * d)
            S.gemm(
                transposeA: false, m: w, n: d, k: nA, alpha: 1, a: GA + hA * nA, lda: nA, b: IA,
                ldb: d, beta: 1, c: IB + hB * d, ldc: d)
        }
    }
}

/// The per-block matrices of a ``BlockTree``, each kind in one arena at the blocks' offsets: the
/// boundary map G (n × n), the local response ℓ (n × d) and the boundary inputs I (n × d, zeroed).
/// Workers write disjoint blocks.
///
///     let arenas = BlockArenas<Float>(tree)
///     defer { arenas.free() }
///     tree.merge(block, rows: 0..<block.n, arenas)
struct BlockArenas<S: ScanScalar>: @unchecked Sendable {
    let g: UnsafeMutablePointer<S>
    let l: UnsafeMutablePointer<S>
    let i: UnsafeMutablePointer<S>

    init(_ tree: BlockTree) {
        g = .allocate(capacity: max(1, tree.gTotal))
        l = .allocate(capacity: max(1, tree.lTotal))
        i = .allocate(capacity: max(1, tree.iTotal))
        i.initialize(repeating: 0, count: max(1, tree.iTotal))
    }

    func free() {
        g.deallocate()
        l.deallocate()
        i.deallocate()
    }

    /// G of `block`.
    func G(_ block: GridBlock) -> UnsafeMutablePointer<S> { g + block.gOffset }
    /// ℓ of `block`.
    func L(_ block: GridBlock) -> UnsafeMutablePointer<S> { l + block.lOffset }
    /// I of `block`.
    func I(_ block: GridBlock) -> UnsafeMutablePointer<S> { i + block.iOffset }
}
