import Foundation
import ModelIO
import ParaMPI
import ParaRNN
import ParallelScan
import SequenceIO

#if canImport(Glibc)
    import Glibc
#endif

extension Solve {
    /// Whether this run is a distributed one: `--distributed`, or started by `mpirun` with more
    /// than one rank (several ranks must never each solve the whole sequence and race for the
    /// output). Decided from the flag and the environment: MPI is not touched otherwise.
    var runsDistributed: Bool {
        if distributed { return true }
        let size = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"].flatMap { Int($0) } ?? 1
        return size > 1
    }

    /// `mpirun -np R pararnn solve --distributed …`: the sequence split over R ranks.
    ///
    /// Rank r reads only its contiguous steps of the input (by offset), projects them and solves
    /// every layer on them (layer by layer; slices stay on their rank) through ``SegmentCoupling``:
    /// by default in cache-sized pieces with corrected entering states (the one-process solver
    /// per piece), with `--in-memory` by Newton iterations over the whole sequence (the fused
    /// passes, the ranks' maps by `MPI_Exscan`, the residual by `MPI_Allreduce`), with
    /// `--method sequential` by the pipelined rollout. The output `.npy` is written collectively: rank 0 creates a temporary file
    /// holding the header, every rank writes its rows at their offsets (`pwrite`), and rank 0
    /// renames it once every rank succeeded. Any failure on any rank: every rank exits 1 (2 for
    /// an unconverged or overflowing solve, as in one process) and no output is left.
    func executeDistributed<S: CellMath>(_: S.Type) throws {
        let began = ContinuousClock.now
        let startOffset = secondsSinceProcessStart() ?? 0
        var phases = DistributedPhases()
        phases[.start] = startOffset
        let world: Communicator
        do { world = try MPIRuntime.world() } catch {
            throw Failure(message: "error: --distributed: \(error)", code: 1)
        }
        var mark = phases.add(.mpiInit, since: began)
        let rank = world.rank
        let ranks = world.size
        let agreement = Agreement(world: world)

        let inputURL = URL(fileURLWithPath: input)
        let modelName = URL(fileURLWithPath: model).lastPathComponent
        let inputName = inputURL.lastPathComponent
        let computeType: ScalarType = S.self == Float.self ? .float32 : .float64

        // 1. Each rank: the model, the input's header and its own slice; all checked.
        let slice: RankSlice<S> = try agreement.run {
            if inMemory, method.method == .elk || method.method == .damped {
                throw Failure(
                    message:
                        "error: --distributed --in-memory: method \(method.rawValue) is not available in Newton iterations across processes (drop --in-memory to solve in pieces, or use newton, quasi-newton, sequential or automatic)",
                    code: 1)
            }
            let (loaded, layers): (Model, [AnyLayer<S>]) = try loadLayers()
            if layers.contains(where: { $0.directions != 1 }) {
                throw Failure(
                    message:
                        "error: \(modelName): bidirectional layers cannot be split over ranks (their reverse direction runs from the end); solve without --distributed",
                    code: 1)
            }
            let source: any SegmentSource
            do { source = try openSegmentSource(inputURL, table: table) } catch {
                throw Failure(message: "error: \((error as? SequenceIOError)?.description ?? "\(error)")", code: 1)
            }
            let (batch, steps, features) = (source.batch, source.steps, source.features)
            if features != loaded.inputSize {
                throw Failure(
                    message:
                        "error: \(inputName): input has \(features) feature\(features == 1 ? "" : "s") per step (shape \(source.shape)) but the model \(modelName) expects m = \(loaded.inputSize)",
                    code: 1)
            }
            do { try RankSplit.check(ranks: ranks, steps: steps) } catch {
                throw Failure(message: "error: \(inputName): \(error)", code: 1)
            }
            let mine = RankSplit.range(rank: rank, ranks: ranks, steps: steps)
            var x = [S](repeating: 0, count: mine.count * batch * features)
            let failure: SequenceIOError? = x.withUnsafeMutableBytes { raw in
                guard let base = raw.baseAddress else { return nil }
                do throws(SequenceIOError) {
                    try source.read(steps: mine, into: base, as: computeType)
                    return nil
                } catch { return error }
            }
            if let failure {
                throw Failure(message: "error: \(failure.description); no hidden states written", code: 1)
            }
            if let bad = x.withUnsafeBufferPointer({ firstNonFinite($0) }) {
                let step = mine.lowerBound + bad / (batch * features)
                throw Failure(
                    message:
                        "error: \(inputName): value at step \(step) is not finite in \(precision) precision; no hidden states written",
                    code: 1)
            }
            let initialStates: [[S]]? = try readInitialStates(loaded, batch: batch, batched: source.batched)
            return RankSlice(
                loaded: loaded, layers: layers, batch: batch, steps: steps, batched: source.batched,
                mine: mine, x: x, initialStates: initialStates)
        }
        let (loaded, layers, batch, steps, batched) = (
            slice.loaded, slice.layers, slice.batch, slice.steps, slice.batched
        )
        let (mine, initialStates) = (slice.mine, slice.initialStates)
        mark = phases.add(.read, since: mark)

        // 2. Solve layer by layer across the ranks.
        let pool = threads.map { WorkerPool(threadCount: $0) } ?? WorkerPool.shared
        var options = SolverOptions(
            method: method.method, tolerance: tolerance, maxIterations: maxIterations,
            fallback: !noFallback, segmentLength: nil, pool: pool)
        options.tolerance = tolerance ?? SequenceSolver<ParaGRU<S>>.defaultTolerance
        options.coupling = MPICoupling(world)
        options.coupledTimings = phases.coupled
        // Each rank solves its steps in cache-sized pieces (as one process streams), then the
        // ranks correct their entering states; --in-memory: Newton iterations over the whole
        // sequence at once (the fused passes, two collectives per iteration).
        // The ranks on one host share its last-level cache: each plans for all of their threads
        // and takes its share (Open MPI's OMPI_COMM_WORLD_LOCAL_SIZE ranks on this host).
        if !inMemory {
            let local = max(
                1, ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) } ?? 1)
            options.segmentLength =
                segmentLength
                ?? (try? SegmentPlan.length(
                    steps: mine.count * local, batch: batch, features: loaded.inputSize, layers: layers,
                    scalarBytes: MemoryLayout<S>.size,
                    maxMemory: maxMemory.flatMap(parseByteSize) ?? SegmentPlan.defaultMaxMemory,
                    threads: pool.threadCount * local)).map { max(SegmentPlan.minimumCacheSteps, $0 / local) }
                ?? SegmentPlan.minimumCacheSteps
        }
        let solveStart = ContinuousClock.now
        let usageBefore = DistributedPhases.usage()
        var hidden = slice.x
        var solutions: [Solution<S>] = []
        var finite = true
        for (l, layer) in layers.enumerated() {
            let result: LayerSolution<S>
            do {
                result = try layer.solve(
                    inputs: hidden, steps: mine.count, batch: batch, options: options,
                    initialStates: initialStates.map { [$0[l]] })
            } catch {
                // Inputs and options were checked on every rank: reaching this is a bug; the
                // other ranks are inside collectives, so the whole job ends here.
                Console.error("error: rank \(rank): layer \(l + 1): \(error.description)")
                world.abort(1)
            }
            solutions.append(result.solution)
            hidden = result.hidden
            // Tests end one rank here, mid-solve (`PARARNN_TEST_KILL_RANK=r`): the job must end
            // non-zero and leave no output.
            if ProcessInfo.processInfo.environment["PARARNN_TEST_KILL_RANK"] == String(rank) { kill(getpid(), SIGKILL) }
            finite = world.allAgree(result.solution.nonFiniteState == nil)
            if !finite { break }
        }
        let solveSeconds = seconds(ContinuousClock.now - solveStart)
        mark = phases.add(.solve, since: solveStart)
        let usageAfter = DistributedPhases.usage()
        phases[.solveCPU] = usageAfter.cpu - usageBefore.cpu
        phases[.solveFaults] = usageAfter.faults - usageBefore.faults
        let converged = finite && solutions.allSatisfy(\.converged)

        // 3. The collective write.
        let d = loaded.outputSize
        let outShape = batched ? [batch, steps, d] : [steps, d]
        let writeHidden = output != nil && finite && (converged || allowUnconverged)
        if writeHidden, let output {
            try writeCollectively(
                hidden, to: URL(fileURLWithPath: output), shape: outShape, type: computeType,
                steps: steps, batch: batch, width: d, mine: mine, world: world, agreement: agreement,
                phases: &phases)
        }
        phases.add(.write, since: mark)
        phases.finish(began: began, startOffset: startOffset)
        let gathered = phases.gathered(world: world, inPieces: !inMemory && method.method != .sequential)

        // 4. Summary (rank 0) and the exit status, the same on every rank.
        if rank == 0 {
            var text =
                "distributed solve: \(ranks) rank\(ranks == 1 ? "" : "s") × \(pool.threadCount) thread\(pool.threadCount == 1 ? "" : "s"), T = \(steps) (\(steps / ranks)–\((steps + ranks - 1) / ranks) steps per rank), B = \(batch), \(precision)\n"
            for (l, s) in solutions.enumerated() {
                let iterations = s.attempts.reduce(0) { $0 + $1.iterations }
                text +=
                    "layer \(l + 1): \(s.method.rawValue), \(iterations) iteration\(iterations == 1 ? "" : "s"), residual \(format(s.finalResidual)) (tolerance \(format(s.tolerance)))\(s.converged ? ", certified" : ", NOT converged")"
                if let last = s.attempts.last { text += ": \(last.outcome)" }
                text += "\n"
                if s.decision.hasPrefix("across") { text += "  \(s.decision)\n" }
            }
            text += gathered.text
            text += String(
                format: "solve %.3f s, total %.3f s (the slowest rank, since its process started)\n", solveSeconds,
                gathered.maxTotal)
            if writeHidden, let output { text += "wrote \(output) \(outShape)\n" }
            print(text, terminator: "")
        }
        if !finite {
            throw Failure(
                message: rank == 0
                    ? "error: \(inputName): a hidden state is not finite: \(modelName) overflows in \(precision) precision; no hidden states written"
                    : "",
                code: 2)
        }
        if !converged {
            throw Failure(
                message: rank == 0
                    ? "error: \(inputName): the solve did not converge\(allowUnconverged ? "" : "; no hidden states written")"
                    : "",
                code: 2)
        }
    }

    /// Rank 0 creates `<output>.<id>.partial` with the header (sized to the whole array); every
    /// rank writes its steps' rows at their offsets ([B, T, d] batch-major: one run per batch
    /// entry; B = 1: the states as they are, no copy), then, once all have written, syncs; rank 0
    /// renames the file into place once all succeeded, else removes it.
    func writeCollectively<S: CellMath>(
        _ hidden: [S], to url: URL, shape: [Int], type: ScalarType, steps: Int, batch: Int,
        width d: Int, mine: Range<Int>, world: Communicator, agreement: Agreement, phases: inout DistributedPhases
    ) throws {
        var mark = ContinuousClock.now
        // One temporary name for all ranks: rank 0's process id, broadcast.
        var id = [UInt8](repeating: 0, count: 8)
        if world.rank == 0 { withUnsafeBytes(of: UInt64(getpid()).littleEndian) { id = Array($0) } }
        world.broadcast(&id)
        let tag = id.withUnsafeBytes { $0.load(as: UInt64.self) }
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(tag).partial")
        let header = NPY.header(shape: shape, type: type)
        let scalar = type.byteSize
        let total = header.count + shape.reduce(1, *) * scalar
        try agreement.run {
            guard world.rank == 0 else { return }
            try createParentFolder(of: url)
            let fd = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            if fd < 0 {
                throw Failure(
                    message:
                        "error: \(url.lastPathComponent): cannot create \(temporary.path): \(String(cString: strerror(errno)))",
                    code: 1)
            }
            defer { close(fd) }
            let wrote = header.withUnsafeBytes { pwrite(fd, $0.baseAddress, header.count, 0) }
            if wrote != header.count || ftruncate(fd, off_t(total)) != 0 {
                let why = String(cString: strerror(errno))
                unlink(temporary.path)
                throw Failure(message: "error: \(url.lastPathComponent): cannot write: \(why)", code: 1)
            }
        }
        mark = phases.add(.writeHeader, since: mark)
        let removeOnFailure = { if world.rank == 0 { unlink(temporary.path) } }
        do {
            try agreement.run {
                let fd = open(temporary.path, O_WRONLY)
                if fd < 0 {
                    throw Failure(
                        message:
                            "error: \(url.lastPathComponent): cannot open \(temporary.path): \(String(cString: strerror(errno)))",
                        code: 1)
                }
                defer { close(fd) }
                // This rank's rows, batch entry by batch entry: hidden is [t][B][d] (time-major).
                // One sequence: hidden is already the run of rows, written as it is.
                if batch == 1 {
                    let offset = header.count + mine.lowerBound * d * scalar
                    let bytes = mine.count * d * scalar
                    let wrote = hidden.withUnsafeBytes { pwrite(fd, $0.baseAddress, bytes, off_t(offset)) }
                    if wrote != bytes {
                        throw Failure(
                            message:
                                "error: \(url.lastPathComponent): cannot write rows \(mine): \(String(cString: strerror(errno)))",
                            code: 1)
                    }
                }
                var run = [S](repeating: 0, count: batch == 1 ? 0 : mine.count * d)
                for e in 0..<(batch == 1 ? 0 : batch) {
                    for t in 0..<mine.count {
                        for i in 0..<d { run[t * d + i] = hidden[(t * batch + e) * d + i] }
                    }
                    let offset = header.count + ((e * steps + mine.lowerBound) * d) * scalar
                    let bytes = run.count * scalar
                    let wrote = run.withUnsafeBytes { pwrite(fd, $0.baseAddress, bytes, off_t(offset)) }
                    if wrote != bytes {
                        throw Failure(
                            message:
                                "error: \(url.lastPathComponent): cannot write rows \(mine): \(String(cString: strerror(errno)))",
                            code: 1)
                    }
                }
            }
            mark = phases.add(.writeRows, since: mark)
            // Every rank's rows are in place before any rank syncs: a sync while another rank
            // still writes the file holds up its writes (measured on the 2-core VM: rows
            // 60–140 ms instead of 2–3 ms for 8 MB).
            try agreement.run {
                let fd = open(temporary.path, O_WRONLY)
                if fd < 0 || fsync(fd) != 0 {
                    let why = String(cString: strerror(errno))
                    if fd >= 0 { close(fd) }
                    throw Failure(message: "error: \(url.lastPathComponent): cannot sync: \(why)", code: 1)
                }
                close(fd)
            }
            mark = phases.add(.writeSync, since: mark)
            try agreement.run {
                guard world.rank == 0 else { return }
                if rename(temporary.path, url.path) != 0 {
                    throw Failure(
                        message:
                            "error: \(url.lastPathComponent): cannot move the finished file into place: \(String(cString: strerror(errno)))",
                        code: 1)
                }
            }
            phases.add(.writeRename, since: mark)
        } catch {
            removeOnFailure()
            throw error
        }
    }
}

/// What rank r holds after reading: the model, the input's shape, its steps and their inputs.
struct RankSlice<S: CellMath> {
    var loaded: Model
    var layers: [AnyLayer<S>]
    var batch: Int, steps: Int, batched: Bool
    var mine: Range<Int>
    var x: [S]
    var initialStates: [[S]]?
}

/// A phase every rank runs, then learns whether all got through it (`MPI_Allreduce`): a
/// failing rank reports its own error, rank 0 reports for ranks that failed elsewhere, and
/// every rank throws, so that no rank goes on alone into a collective.
struct Agreement {
    let world: Communicator

    func run<T>(_ body: () throws -> T) throws -> T {
        var result: Result<T, Failure>
        do { result = .success(try body()) } catch let error as Failure { result = .failure(error) } catch {
            result = .failure(Failure(message: "error: \(error)", code: 1))
        }
        var failure: Failure? = nil
        if case .failure(let error) = result { failure = error }
        let failedRanks = world.allreduceSum(failure == nil ? 0 : 1)
        if let failure {
            // Failed everywhere (a bad option, model or input header): rank 0 says it once.
            if failedRanks == world.size {
                throw Failure(message: world.rank == 0 ? failure.message : "", code: failure.code)
            }
            throw Failure(message: failure.message + " (rank \(world.rank) of \(world.size))", code: failure.code)
        }
        if failedRanks > 0 {
            if world.rank == 0 {
                Console.error(
                    "error: \(failedRanks) of \(world.size) ranks failed (see their messages); no output written")
            }
            throw Failure(message: "", code: 1)
        }
        return try result.get()
    }
}
