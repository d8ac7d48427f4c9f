import Foundation
import ModelIO
import ParaRNN
import ParallelScan
import SequenceIO

#if canImport(Glibc)
    import Glibc
#endif

extension Solve {
    /// The streamed solve: the input is read a segment of steps at a time, every layer solves
    /// the segment from its exact end state of the previous one (certified per segment), and
    /// the last layer's h goes straight into the output `.npy`, which appears, complete, only
    /// at the end. Memory is bounded by the segment (``SegmentPlan``), not by T.
    ///
    /// Exit codes and messages are those of the in-memory solve; a NaN or infinity in the
    /// input is found when its segment is read: exit 1 naming the step, and no output.
    func executeStreaming<S: CellMath>(loaded: Model, layers: [AnyLayer<S>], began: ContinuousClock.Instant) throws {
        let inputURL = FileArgument(input).url
        let modelName = URL(fileURLWithPath: model).lastPathComponent
        let inputName = inputURL.lastPathComponent
        let computeType: ScalarType = S.self == Float.self ? .float32 : .float64

        // 1. Open the input (a .npy: its header only) and check everything before any work.
        let source: any SegmentSource
        do { source = try openSegmentSource(inputURL, table: table, dataset: FileArgument(input).dataset) } catch {
            throw Failure(message: "error: \(error.description)", code: 1)
        }
        let (batch, steps, features, batched) = (source.batch, source.steps, source.features, source.batched)
        if features != loaded.inputSize {
            throw Failure(
                message:
                    "error: \(inputName): input has \(features) feature\(features == 1 ? "" : "s") per step (shape \(source.shape)) but the model \(modelName) expects m = \(loaded.inputSize)",
                code: 1)
        }
        let initialStates: [[S]]? = try readInitialStates(loaded, batch: batch, batched: batched)
        let budget = maxMemory.flatMap(parseByteSize) ?? SegmentPlan.defaultMaxMemory
        let segmentSteps: Int
        if let segmentLength {
            segmentSteps = min(segmentLength, steps)
        } else {
            do {
                segmentSteps = try SegmentPlan.length(
                    steps: steps, batch: batch, features: features, layers: layers,
                    scalarBytes: MemoryLayout<S>.size, maxMemory: budget,
                    threads: threads ?? WorkerPool.defaultThreadCount)
            } catch {
                throw Failure(message: "error: \(error.message)", code: 1)
            }
        }
        let segments = (steps + segmentSteps - 1) / segmentSteps

        let pool = threads.map { WorkerPool(threadCount: $0) } ?? WorkerPool.shared
        var options = SolverOptions(
            method: method.method, tolerance: tolerance, maxIterations: maxIterations,
            fallback: !noFallback, segmentLength: nil, pool: pool)
        options.tolerance = tolerance ?? SolverOptions.defaultTolerance(for: S.self)
        let stack = StreamingStack(
            layers: layers, steps: steps, batch: batch, options: options, initialStates: initialStates)

        // The reading and writing threads take idle cores only while a batch-split rollout's
        // fixed shares keep the workers busy; Newton's dynamic chunks absorb them (``IOLane``).
        let yieldIO = stack.tallies.allSatisfy { $0.method == .sequential }
        let d = loaded.outputSize
        let outShape = batched ? [batch, steps, d] : [steps, d]
        var writer: HiddenWriter<S>?
        if let output {
            let url = URL(fileURLWithPath: output)
            try createParentFolder(of: url)
            do {
                writer = try HiddenWriter<S>(
                    url: url, steps: steps, batch: batch, width: d, batched: batched, segmentSteps: segmentSteps,
                    durable: sync, yieldsToSolver: yieldIO)
            } catch {
                throw Failure(message: "error: \(error.description)", code: 1)
            }
        }
        // Any failure from here on removes the partial output.
        defer { writer?.discard() }

        // 2. Stream: segment k + 1 is read (SegmentReader) while segment k is solved, and
        // segment k's states are written (HiddenWriter) while k + 1 is solved; buffers reused.
        let progress = Console.stderrIsTTY && steps >= 1_000_000 ? StreamProgress(total: steps) : nil
        let reader = SegmentReader<S>(
            source: source, segmentSteps: segmentSteps, computeType: computeType, yieldsToSolver: yieldIO)
        var readSeconds = 0.0
        var writeSeconds = 0.0
        var solveSeconds = 0.0
        var writeOutput = writer != nil
        var stoppedEarly = false
        // Where a layer runs parallel passes, segment k's write and the read ahead that
        // segment k + 1 frees a buffer for are offered to segment k + 1's passes
        // (``HiddenWriter/offer(_:steps:)``, ``SegmentReader/next(offeringReadAhead:)``): the
        // first workers to run out of chunks do them, instead of the reading and writing
        // threads taking cores from workers. Handed to those threads as before where no pass
        // took them.
        let offersWork = !yieldIO
        var offered: (work: [SideWork], hidden: [S], range: Range<Int>)?
        /// Queues the offered write if no pass took it (a pass takes all its pieces or none);
        /// the caller times it.
        func settleOffer() throws(SequenceIOError) {
            guard let pending = offered else { return }
            offered = nil
            let untaken = pending.work.filter { $0.claim() }
            if untaken.count == pending.work.count {
                try writer?.write(pending.hidden, steps: pending.range)
            } else {
                untaken.forEach { $0.run() }  // not expected: the rest of a pass's pieces
            }
        }
        while true {
            let t0 = ContinuousClock.now
            let (next, readAhead) = reader.next(offeringReadAhead: offersWork)
            guard let segment = next else { break }
            let range = segment.range
            let x: [S]
            switch segment.values {
            case .success(let values): x = values
            case .failure(.source(let error)):
                progress?.finish()
                let step = nonFiniteStep(error).map { " (step \($0))" } ?? ""
                throw Failure(message: "error: \(error.description)\(step); no hidden states written", code: 1)
            case .failure(.notFiniteInComputeType(let bad)):
                // Finite in the file, but not in the compute precision (a float64 value beyond Float's range).
                progress?.finish()
                let step = range.lowerBound + bad / (batch * features)
                throw Failure(
                    message:
                        "error: \(inputName): value at step \(step) (index \(batched ? "[\(bad / features % batch), \(step), \(bad % features)]" : "[\(step), \(bad % features)]")) is not finite in \(precision) precision; no hidden states written",
                    code: 1)
            }
            let t1 = ContinuousClock.now
            readSeconds += seconds(t1 - t0)
            let hidden: [S]?
            do {
                hidden = try stack.solve(
                    segment: x, steps: range.count, offset: range.lowerBound,
                    sideWork: [readAhead].compactMap { $0 } + (offered?.work ?? []))
            } catch {
                progress?.finish()
                throw Failure(message: "error: \(inputName): \(error.description)", code: 1)
            }
            solveSeconds += seconds(ContinuousClock.now - t1)
            reader.settleOffer()
            if writeOutput, offered != nil {
                let t2 = ContinuousClock.now
                do { try settleOffer() } catch {
                    progress?.finish()
                    throw Failure(message: "error: \(error.description)", code: 1)
                }
                writeSeconds += seconds(ContinuousClock.now - t2)
            }
            guard let hidden else {
                stoppedEarly = true  // a non-finite state: nothing is written
                break
            }
            if writeOutput, !stack.tallies.allSatisfy(\.converged), !allowUnconverged {
                writeOutput = false  // not converged: the output will not be kept; stop writing it
                offered = nil
                writer?.discard()
            }
            if writeOutput, let writer, offersWork, range.upperBound < steps {
                let chunks = SegmentChunks.plan(steps: range.count, threads: pool.threadCount).chunks
                offered = (
                    writer.offer(hidden, steps: range, pieces: HiddenWriter<S>.pieces(chunks: chunks)), hidden, range
                )
            } else if writeOutput, let writer {
                let t2 = ContinuousClock.now
                do { try writer.write(hidden, steps: range) } catch {
                    progress?.finish()
                    throw Failure(message: "error: \(error.description)", code: 1)
                }
                writeSeconds += seconds(ContinuousClock.now - t2)
            }
            progress?.update(done: range.upperBound)
        }
        progress?.finish()
        if writeOutput {
            do { try settleOffer() } catch { throw Failure(message: "error: \(error.description)", code: 1) }
        }

        // 3. Keep the output only if every segment of every layer converged and is finite.
        let result = stack.solution
        let nonFinite = result.nonFiniteState
        let converged = result.converged && !stoppedEarly
        let writeHidden = output != nil && nonFinite == nil && (converged || allowUnconverged)
        if writeHidden, let writer {
            let t2 = ContinuousClock.now
            do { try writer.commit() } catch {
                throw Failure(message: "error: \(error.description)", code: 1)
            }
            writeSeconds += seconds(ContinuousClock.now - t2)
        } else {
            writer?.discard()
        }
        let summary = SolveSummary(
            modelName: modelName, model: loaded, inputName: inputName, inputShape: source.shape,
            inputNotes: source.notes, inputType: source.scalarType, steps: steps, batch: batch,
            precision: precision, threads: pool.threadCount, requested: method.method, options: options,
            result: result, solveSeconds: solveSeconds,
            totalSeconds: max(seconds(ContinuousClock.now - began), secondsSinceProcessStart() ?? 0),
            verification: nil, output: writeHidden ? output : nil, outputShape: outShape, reportFile: report,
            streaming: StreamingInfo(
                segmentLength: segmentSteps, segments: segments, maxMemory: budget,
                segmentLengthRequested: segmentLength != nil,
                segmentIterations: stack.tallies.map(\.segmentIterations),
                peakResidentBytes: peakResidentBytes(), readSeconds: readSeconds, writeSeconds: writeSeconds))
        if let report {
            let url = URL(fileURLWithPath: report)
            do {
                try FileManager.default.createDirectory(
                    at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try AtomicFile.write(try JSONReport.encode(summary.json, name: url.lastPathComponent), to: url)
            } catch {
                if writeHidden, let output { try? FileManager.default.removeItem(atPath: output) }
                let text =
                    (error as? SequenceIOError)?.description
                    ?? "\(url.lastPathComponent): cannot create its folder: \(error.localizedDescription)"
                throw Failure(message: "error: \(text)", code: 1)
            }
        }
        print(summary.text + summary.writtenText, terminator: "")
        try failIfUnfinished(
            result, nonFinite: nonFinite, converged: converged, tolerance: options.tolerance!, inputName: inputName,
            modelName: modelName)
    }
}

/// The step of a non-finite input value error (`[t, i]` or `[b, t, i]`).
private func nonFiniteStep(_ error: SequenceIOError) -> Int? {
    guard case .nonFinite(_, let index, _) = error, index.count >= 2 else { return nil }
    return index[index.count - 2]
}
