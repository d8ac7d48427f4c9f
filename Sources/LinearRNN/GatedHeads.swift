import ParallelScan

/// How a gated linear-attention layer (``MLSTM``, ``Retention``) evaluates its sequence.
public enum GatedForm: Sendable, Equatable, CustomStringConvertible {
    /// The step-by-step recurrence (the reference): O(T·D_k·D_v), no BLAS.
    case recurrent
    /// Chunks of `chunkSize` steps: intra-chunk causal GEMMs in `tileSize`² tiles (TFLA's second
    /// level) plus an inter-chunk state recurrence. O(T·(L + D_k)·D_v). The default is (64, 64).
    case chunkwise(chunkSize: Int, tileSize: Int)
    /// The quadratic parallel form: one chunk of length T (tiled, so memory stays O(T·D)).
    case quadratic(tileSize: Int)

    /// Chunks of 64, tiles of 64 (the reference kernels' default).
    public static let chunkwise = GatedForm.chunkwise(chunkSize: 64, tileSize: 64)

    public var description: String {
        switch self {
        case .recurrent: return "recurrent"
        case .chunkwise(let l, let t): return "chunkwise(L=\(l), tile=\(t))"
        case .quadratic(let t): return "quadratic(tile=\(t))"
        }
    }
}

/// The result of a gated linear-attention forward pass (``MLSTM``, ``Retention``).
public struct GatedTrace<S: ScanScalar>: Sendable {
    public let steps: Int, batch: Int, heads: Int
    /// `[T][batch][heads][D_v]`.
    public let output: [S]
    /// The stabiliser m_t, `[T][batch][heads]` (empty without the normaliser or with
    /// `keepStates: false`).
    public let stabiliser: [S]
    /// The stabilised normaliser q̂_t·n_t before max(|·|, e^{−m_t}), `[T][batch][heads]` (empty
    /// without the normaliser or with `keepStates: false`).
    public let normaliser: [S]
    /// Chunk length of the saved states (0 when none were saved).
    public let chunkSize: Int
    /// Chunk-start states C̄ = [C | n], `[batch·heads][chunks][D_k][W]` (chunkwise forms with
    /// `keepStates: true` only; `backward` needs them).
    public let chunkStates: [S]
    /// m at each chunk start, `[batch·heads][chunks]`.
    public let chunkStabiliser: [S]
}

/// The plumbing shared by the gated layers: per-(sequence, head) views into time-major
/// `[T][batch][heads][D]` arrays, run in parallel over batch × heads on the pool.
struct GatedHeads<S: ScanScalar> {
    let heads: Int, dk: Int, dv: Int, normalised: Bool, epsilon: S

    func engine(_ form: GatedForm, steps: Int) -> GatedChunkwise<S> {
        switch form {
        case .recurrent:
            return GatedChunkwise(
                keySize: dk, valueSize: dv, normalised: normalised, epsilon: epsilon, chunk: 1, tile: 1)
        case .chunkwise(let l, let t):
            return GatedChunkwise(
                keySize: dk, valueSize: dv, normalised: normalised, epsilon: epsilon, chunk: min(l, steps),
                tile: t)
        case .quadratic(let t):
            return GatedChunkwise(
                keySize: dk, valueSize: dv, normalised: normalised, epsilon: epsilon, chunk: steps, tile: t)
        }
    }

    /// Checks T, batch and the sizes of q, k (`[T][B][H][dk]`) and v (`[T][B][H][dv]`).
    func checkQueriesKeysValues(_ q: [S], _ k: [S], _ v: [S], steps: Int, batch: Int) throws(LinearRNNError) {
        try checkSequence(steps: steps, batch: batch)
        let rows = steps * batch * heads
        try check("queries", q.count, rows * dk)
        try check("keys", k.count, rows * dk)
        try check("values", v.count, rows * dv)
    }

    static func checkForm(_ form: GatedForm) throws(LinearRNNError) {
        switch form {
        case .recurrent: break
        case .chunkwise(let l, let t):
            try checkPositive("chunkSize", l)
            try checkPositive("tileSize", t)
        case .quadratic(let t): try checkPositive("tileSize", t)
        }
    }

    /// The views of sequence-head `s` (of batch·heads) into the inputs.
    func sequence(_ s: Int, _ ins: HeadInputs<S>, batch: Int, steps: Int) -> HeadSequence<S> {
        let rows = batch * heads
        return HeadSequence(
            q: ins.q + s * dk, k: ins.k + s * dk, v: ins.v + s * dv, qStride: rows * dk, kStride: rows * dk,
            vStride: rows * dv, logF: ins.logF + s * steps, logI: ins.logI + s * steps)
    }

    /// Checks `form`, then runs the forward pass; the gates `logF`, `logI` are `[batch·heads][T]`.
    func forward(
        q: [S], k: [S], v: [S], gates: (logF: [S], logI: [S]), steps: Int, batch: Int, form: GatedForm,
        keepStates: Bool, pool: WorkerPool
    ) throws(LinearRNNError) -> GatedTrace<S> {
        try Self.checkForm(form)
        return forward(
            q: q, k: k, v: v, logF: gates.logF, logI: gates.logI, steps: steps, batch: batch, form: form,
            keepStates: keepStates, pool: pool)
    }

    /// Runs the forward pass; `logF`, `logI` are `[batch·heads][T]`.
    func forward(
        q: [S], k: [S], v: [S], logF: [S], logI: [S], steps: Int, batch: Int, form: GatedForm,
        keepStates: Bool, pool: WorkerPool
    ) -> GatedTrace<S> {
        let rows = batch * heads
        let engine = self.engine(form, steps: steps)
        let recurrent = form == .recurrent
        let keepStats = keepStates && normalised
        let chunks = engine.chunkCount(steps)
        let W = engine.width
        // Parallel over chunks as well when there are fewer (sequence, head) pairs than workers.
        let chunkParallel = !recurrent && chunks > 1 && rows < pool.threadCount
        let keepChunks = (keepStates || chunkParallel) && !recurrent
        var m = [S](repeating: 0, count: keepStats ? steps * rows : 0)
        var d = m
        var states = [S](repeating: 0, count: keepChunks ? rows * chunks * dk * W : 0)
        var chunkM = [S](repeating: 0, count: keepChunks ? rows * chunks : 0)
        var output = [S](repeating: 0, count: steps * rows * dv)
        HeadInputs.with(q, k, v, logF, logI) { ins in
            output.withUnsafeMutableBufferPointer { ob in
                m.withUnsafeMutableBufferPointer { mb in
                    d.withUnsafeMutableBufferPointer { db in
                        states.withUnsafeMutableBufferPointer { sb in
                            chunkM.withUnsafeMutableBufferPointer { cb in
                                let ptrs = Pointers(
                                    o: ob.baseAddress!, m: mb.baseAddress, d: db.baseAddress, states: sb.baseAddress,
                                    chunkM: cb.baseAddress)
                                if chunkParallel {
                                    forwardChunkParallel(
                                        engine, ins, ptrs, steps: steps, batch: batch, chunks: chunks,
                                        keepStats: keepStats, pool: pool)
                                    return
                                }
                                pool.forEach(rows) { s in
                                    let scratch = ChunkScratch(engine)
                                    let seq = sequence(s, ins, batch: batch, steps: steps)
                                    let out = StridedOut(base: ptrs.o + s * dv, stride: rows * dv)
                                    if recurrent {
                                        engine.recurrent(seq, steps: steps, out: out, scratch)
                                        return
                                    }
                                    engine.forward(
                                        seq, steps: steps, out: out,
                                        mOut: keepStats ? StridedOut(base: ptrs.m! + s, stride: rows) : nil,
                                        dOut: keepStats ? StridedOut(base: ptrs.d! + s, stride: rows) : nil,
                                        chunkStates: keepChunks ? ptrs.states! + s * chunks * dk * W : nil,
                                        chunkM: keepChunks ? ptrs.chunkM! + s * chunks : nil, scratch)
                                }
                            }
                        }
                    }
                }
            }
        }
        if recurrent && keepStats {
            // The step form keeps no statistics; backward needs a chunkwise trace.
            m = []
            d = []
        }
        if !keepStates {
            states = []
            chunkM = []
        }
        return GatedTrace(
            steps: steps, batch: batch, heads: heads, output: output, stabiliser: m, normaliser: d,
            chunkSize: keepStates && keepChunks ? engine.chunk : 0, chunkStates: states, chunkStabiliser: chunkM)
    }

    /// The forward pass parallel over (sequence, head, chunk): (1) every chunk's local end state
    /// with its own stabiliser, (2) per sequence, a sequential combine into chunk-start states,
    /// (3) every chunk's outputs from its start state. Work items are split evenly over the workers.
    private func forwardChunkParallel(
        _ engine: GatedChunkwise<S>, _ ins: HeadInputs<S>, _ ptrs: Pointers<S>, steps: Int, batch: Int, chunks: Int,
        keepStats: Bool, pool: WorkerPool
    ) {
        let rows = batch * heads
        let size = dk * engine.width
        let items = rows * chunks
        let workers = min(items, pool.threadCount)
        let states = ptrs.states!
        let chunkM = ptrs.chunkM!
        let gates = UnsafeMutablePointer<S>.allocate(capacity: 2 * items)
        defer { gates.deallocate() }
        let g = UnsafeMutableSendable(gates)
        let mu = UnsafeMutableSendable(gates + items)
        forEachChunk(engine, ins, steps: steps, batch: batch, chunks: chunks, workers: workers, pool: pool) {
            item, seq, start, n, scratch in
            let r = engine.chunkLocalState(seq, start: start, n: n, local: states + item * size, scratch)
            g.base[item] = r.g
            mu.base[item] = r.mu
        }
        pool.forEach(rows) { s in
            let carry = UnsafeMutablePointer<S>.allocate(capacity: size)
            defer { carry.deallocate() }
            engine.combineChunkStates(
                states + s * chunks * size, g: g.base + s * chunks, mu: mu.base + s * chunks, chunks: chunks,
                chunkM: chunkM + s * chunks, carry: carry)
        }
        forEachChunk(engine, ins, steps: steps, batch: batch, chunks: chunks, workers: workers, pool: pool) {
            item, seq, start, n, scratch in
            let s = item / chunks
            engine.chunkOutputs(
                seq, start: start, n: n, state: states + item * size, mPrev: chunkM[item],
                out: StridedOut(base: ptrs.o + s * dv, stride: rows * dv),
                mOut: keepStats ? StridedOut(base: ptrs.m! + s, stride: rows) : nil,
                dOut: keepStats ? StridedOut(base: ptrs.d! + s, stride: rows) : nil, scratch)
        }
    }

    /// Runs `body` for every (row, chunk) item — item = row · chunks + chunk — spread evenly over
    /// `workers` workers, each with its own scratch: the item, its row's sequence, the chunk's
    /// first step and length.
    private func forEachChunk(
        _ engine: GatedChunkwise<S>, _ ins: HeadInputs<S>, steps: Int, batch: Int, chunks: Int, workers: Int,
        pool: WorkerPool, _ body: (Int, HeadSequence<S>, Int, Int, ChunkScratch<S>) -> Void
    ) {
        let items = batch * heads * chunks
        pool.forEach(workers) { p in
            let scratch = ChunkScratch(engine)
            for item in ChunkPlan.evenRange(index: p, of: workers, total: items) {
                let start = item % chunks * engine.chunk
                body(
                    item, sequence(item / chunks, ins, batch: batch, steps: steps), start,
                    min(engine.chunk, steps - start), scratch)
            }
        }
    }

    /// Runs the backward pass for the gates `logF`, `logI` (`[batch·heads][T]`) of the forward
    /// pass that made `trace`; returns dq, dk, dv (input layouts) and dlogF, dlogI
    /// (`[batch·heads][T]`).
    func backward(
        q: [S], k: [S], v: [S], gates: (logF: [S], logI: [S]), trace: GatedTrace<S>, outputGradient g: [S],
        pool: WorkerPool
    ) throws(LinearRNNError) -> (dq: [S], dk: [S], dv: [S], dLogF: [S], dLogI: [S]) {
        guard trace.heads == heads else { throw .invalidValue("trace has \(trace.heads) heads, the layer \(heads)") }
        let (logF, logI) = gates
        let steps = trace.steps
        let batch = trace.batch
        let rows = batch * heads
        guard trace.chunkSize > 0, !trace.chunkStates.isEmpty else {
            throw .invalidValue(
                "backward needs the trace of a chunkwise or quadratic forward pass run with keepStates: true")
        }
        let engine = GatedChunkwise(
            keySize: dk, valueSize: dv, normalised: normalised, epsilon: epsilon, chunk: trace.chunkSize,
            tile: 64)
        let chunks = engine.chunkCount(steps)
        let W = engine.width
        try check("outputGradient", g.count, steps * rows * dv)
        try check("trace.output", trace.output.count, steps * rows * dv)
        try check("trace.chunkStates", trace.chunkStates.count, rows * chunks * dk * W)
        try check("trace.chunkStabiliser", trace.chunkStabiliser.count, rows * chunks)
        if normalised {
            try check("trace.stabiliser", trace.stabiliser.count, steps * rows)
            try check("trace.normaliser", trace.normaliser.count, steps * rows)
        }
        var gq = [S](repeating: 0, count: q.count)
        var gk = gq
        var gv = [S](repeating: 0, count: v.count)
        var dF = [S](repeating: 0, count: rows * steps)
        var dI = dF
        HeadInputs.with(q, k, v, logF, logI) { inputs in
            g.withUnsafeBufferPointer { gb in
                trace.output.withUnsafeBufferPointer { hb in
                    trace.stabiliser.withUnsafeBufferPointer { mb in
                        trace.normaliser.withUnsafeBufferPointer { nb in
                            trace.chunkStates.withUnsafeBufferPointer { sb in
                                trace.chunkStabiliser.withUnsafeBufferPointer { cb in
                                    gq.withUnsafeMutableBufferPointer { dqb in
                                        gk.withUnsafeMutableBufferPointer { dkb in
                                            gv.withUnsafeMutableBufferPointer { dvb in
                                                dF.withUnsafeMutableBufferPointer { dfb in
                                                    dI.withUnsafeMutableBufferPointer { dib in
                                                        let out = GradientPointers(
                                                            dq: dqb.baseAddress!, dk: dkb.baseAddress!,
                                                            dv: dvb.baseAddress!, dLogF: dfb.baseAddress!,
                                                            dLogI: dib.baseAddress!)
                                                        let ins = ReadPointers(
                                                            g: gb.baseAddress!, h: hb.baseAddress!, m: mb.baseAddress,
                                                            n: nb.baseAddress,
                                                            states: sb.baseAddress!, chunkM: cb.baseAddress!)
                                                        pool.forEach(rows) { s in
                                                            let scratch = ChunkScratch(engine)
                                                            let seq = sequence(s, inputs, batch: batch, steps: steps)
                                                            let grads = HeadGradients(
                                                                dq: out.dq + s * dk, dk: out.dk + s * dk,
                                                                dv: out.dv + s * dv, qStride: rows * dk,
                                                                kStride: rows * dk, vStride: rows * dv,
                                                                dLogF: out.dLogF + s * steps,
                                                                dLogI: out.dLogI + s * steps)
                                                            engine.backward(
                                                                seq, steps: steps,
                                                                g: StridedIn(base: ins.g + s * dv, stride: rows * dv),
                                                                h: StridedIn(base: ins.h + s * dv, stride: rows * dv),
                                                                mIn: normalised
                                                                    ? StridedIn(base: ins.m! + s, stride: rows) : nil,
                                                                dIn: normalised
                                                                    ? StridedIn(base: ins.n! + s, stride: rows) : nil,
                                                                chunkStates: ins.states + s * chunks * dk * W,
                                                                chunkM: ins.chunkM + s * chunks,
                                                                grads, scratch)
                                                        }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (gq, gk, gv, dF, dI)
    }
}

/// Read-only pointers to one call's queries, keys, values (time-major) and gates
/// (`[batch·heads][T]`), handed to pool workers.
struct HeadInputs<S>: @unchecked Sendable {
    let q: UnsafePointer<S>, k: UnsafePointer<S>, v: UnsafePointer<S>, logF: UnsafePointer<S>, logI: UnsafePointer<S>

    /// Runs `body` with pointers to the five arrays.
    static func with<R>(_ q: [S], _ k: [S], _ v: [S], _ logF: [S], _ logI: [S], _ body: (HeadInputs) -> R) -> R {
        q.withUnsafeBufferPointer { qb in
            k.withUnsafeBufferPointer { kb in
                v.withUnsafeBufferPointer { vb in
                    logF.withUnsafeBufferPointer { fb in
                        logI.withUnsafeBufferPointer { ib in
                            body(
                                HeadInputs(
                                    q: qb.baseAddress!, k: kb.baseAddress!, v: vb.baseAddress!, logF: fb.baseAddress!,
                                    logI: ib.baseAddress!))
                        }
                    }
                }
            }
        }
    }
}

/// The forward pass's outputs, handed to pool workers (which write disjoint rows).
private struct Pointers<S>: @unchecked Sendable {
    let o: UnsafeMutablePointer<S>, m: UnsafeMutablePointer<S>?, d: UnsafeMutablePointer<S>?
    let states: UnsafeMutablePointer<S>?, chunkM: UnsafeMutablePointer<S>?
}

/// The backward pass's outputs, handed to pool workers (which write disjoint rows).
private struct GradientPointers<S>: @unchecked Sendable {
    let dq: UnsafeMutablePointer<S>, dk: UnsafeMutablePointer<S>, dv: UnsafeMutablePointer<S>
    let dLogF: UnsafeMutablePointer<S>, dLogI: UnsafeMutablePointer<S>
}

private struct ReadPointers<S>: @unchecked Sendable {
    let g: UnsafePointer<S>, h: UnsafePointer<S>, m: UnsafePointer<S>?, n: UnsafePointer<S>?
    let states: UnsafePointer<S>, chunkM: UnsafePointer<S>
}
