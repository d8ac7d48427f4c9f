import ArgumentParser
import Foundation
import ModelIO
import ParaRNN
import ParallelScan
import SequenceIO

/// The recordings a command reads from `--input` values: each a file, or a folder whose
/// recordings (.npy, .csv, .tsv, audio) are taken in name order (not recursively).
enum RecordingList {
    static let extensions: Set<String> = Set(["npy", "csv", "tsv"]).union(Audio.extensions)

    static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// The files, in order; throws a one-line reason for an empty folder, a missing file or two
    /// recordings with the same stem (their outputs would collide).
    static func files(_ inputs: [String]) throws(PathError) -> [URL] {
        var files: [URL] = []
        for input in inputs {
            if isDirectory(input) {
                let names: [String]
                do { names = try FileManager.default.contentsOfDirectory(atPath: input) } catch {
                    throw PathError("\(input): cannot list the folder: \(error.localizedDescription)")
                }
                let found = names.filter {
                    !$0.hasPrefix(".") && extensions.contains(URL(fileURLWithPath: $0).pathExtension.lowercased())
                }
                .sorted()
                .map { URL(fileURLWithPath: input).appendingPathComponent($0) }
                if found.isEmpty {
                    throw PathError(
                        "\(input): the folder holds no recordings (.npy, .csv, .tsv, .wav, .flac, .ogg, .aiff)")
                }
                files += found
            } else {
                if !FileManager.default.fileExists(atPath: input) {
                    throw PathError("\(input): no such file or folder")
                }
                files.append(URL(fileURLWithPath: input))
            }
        }
        var seen: [String: String] = [:]
        for url in files {
            let stem = url.deletingPathExtension().lastPathComponent
            if let other = seen[stem] {
                throw PathError("\(other) and \(url.path) have the same name \(stem): their outputs would collide")
            }
            seen[stem] = url.path
        }
        return files
    }
}

/// One recording in a packed solve's report.
struct PackedRecordingReport: Codable {
    var file: String
    var steps: Int
    /// The certified residual of this recording, per layer (and direction), in `labels` order.
    var residuals: [Double]
    /// The largest of ``residuals`` (NaN if any is NaN, encoded as a string by the report).
    var residual: Double
    var output: String?
    /// With --verify: max |h − h_seq| over this recording's outputs (absent if not finite).
    var maxAbsDifference: Double?
}

/// The JSON report of `pararnn solve` on several recordings.
struct PackedSolveReport: Codable {
    var model: String
    var recordings: Int
    var totalSteps: Int
    var precision: String
    var threads: Int
    var requestedMethod: String
    var methods: [String]
    var labels: [String]
    var iterations: Int
    var tolerance: Double
    var residual: Double
    var converged: Bool
    var solveSeconds: Double
    var totalSeconds: Double
    /// With --verify: the sequential rollout's time and the largest difference over all (absent
    /// if not finite).
    var sequentialSeconds: Double?
    var maxAbsDifference: Double?
    var perRecording: [PackedRecordingReport]
}

extension Solve {
    /// Several `--input` values, or one folder: the packed solve.
    var packed: Bool { inputs.count > 1 || RecordingList.isDirectory(inputs[0]) }

    /// Options that a packed solve cannot honour are refused; `--output` is a folder.
    func validatePacked() throws {
        if initialState != nil || initialCell != nil {
            throw ValidationError(
                "--initial-state and --initial-cell apply to one recording; several recordings start from zero states")
        }
        if segmentLength != nil {
            throw ValidationError("--segment-length applies to one recording; a packed solve has no segments")
        }
        if let dataset = inputs.first(where: { FileArgument($0).dataset != nil }) {
            throw ValidationError(
                "--input \(dataset): an HDF5 dataset (file.h5:/dataset) applies to one recording; a packed solve reads whole files (a .h5 file holding one dataset may be named alone)"
            )
        }
        if let output {
            if FileArgument(output).isHDF5 {
                throw ValidationError(
                    "--output \(output): HDF5 output applies to one recording; several recordings need a folder (receiving <stem>.npy each)"
                )
            }
            if URL(fileURLWithPath: output).pathExtension.lowercased() == "npy" {
                throw ValidationError("--output must name a folder when solving several recordings (got \(output))")
            }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory), !isDirectory.boolValue {
                throw ValidationError("--output \(output) is a file; several recordings need a folder")
            }
        }
        if let report, URL(fileURLWithPath: report).pathExtension.lowercased() != "json" {
            throw ValidationError("--report must name a .json file (got \(report))")
        }
    }

    /// Reads every recording, solves them as one packed problem (see
    /// ``SequenceSolver/solve(inputs:lengths:batch:initialStates:)``), and writes
    /// `OUTDIR/<stem>.npy` per recording — all of them or none.
    func executePacked<S: CellMath>(_: S.Type) throws {
        let began = ContinuousClock.now
        let files: [URL]
        do { files = try RecordingList.files(inputs) } catch {
            throw Failure(message: "error: \(error.message)", code: 1)
        }
        let outputDirectory = output.map { URL(fileURLWithPath: $0) }
        // One <stem>.npy per recording in the output folder (none without --output).
        let outputURLs: [URL] =
            outputDirectory.map { folder in
                files.map { folder.appendingPathComponent($0.deletingPathExtension().lastPathComponent + ".npy") }
            } ?? []
        // Before any work: the output folder is none of the input folders, and no output
        // replaces an input or the model.
        if let output {
            for input in inputs where RecordingList.isDirectory(input) && PathChecks.sameFile(input, output) {
                throw Failure(
                    message: "error: --output \(output) is the input folder; the outputs would replace the recordings",
                    code: 1)
            }
        }
        do {
            var outputs: [(String, String)] = outputURLs.map { ("--output", $0.path) }
            if let report { outputs.append(("--report", report)) }
            try PathChecks.check(
                outputs: outputs, inputs: files.map { ("--input", $0.path) } + [("--model", model)])
        } catch {
            throw Failure(message: "error: \(error.message)", code: 1)
        }
        let (loaded, layers): (Model, [AnyLayer<S>]) = try loadLayers()
        let modelName = URL(fileURLWithPath: model).lastPathComponent

        // 1. Read every recording ([T, m]); any problem names the file (exit 1).
        var inputs: [S] = []
        var lengths: [Int] = []
        for url in files {
            let tensor: Tensor
            do { (tensor, _) = try table.readWithNotes(url) } catch {
                throw Failure(message: "error: \(error.description)", code: 1)
            }
            let name = url.lastPathComponent
            if tensor.rank != 2 {
                throw Failure(
                    message: "error: \(name): a recording of a packed solve must be [T, m] (shape \(tensor.shape))",
                    code: 1)
            }
            let (steps, features) = (tensor.shape[0], tensor.shape[1])
            if steps < 1 { throw Failure(message: "error: \(name): the recording has no steps", code: 1) }
            if features != loaded.inputSize {
                throw Failure(
                    message:
                        "error: \(name): input has \(features) feature\(features == 1 ? "" : "s") per step (shape \(tensor.shape)) but the model \(modelName) expects m = \(loaded.inputSize)",
                    code: 1)
            }
            let values: [S] = timeMajor(tensor, batch: 1, steps: steps, features: features)
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw Failure(
                    message: "error: \(name): value at flat index \(bad) is not finite in \(precision) precision",
                    code: 1)
            }
            inputs += values
            lengths.append(steps)
        }

        // 2. Solve all of them as one problem.
        let pool = threads.map { WorkerPool(threadCount: $0) } ?? WorkerPool.shared
        var options = SolverOptions(
            method: method.method, tolerance: tolerance, maxIterations: maxIterations,
            fallback: !noFallback, pool: pool)
        let certified = tolerance ?? SolverOptions.defaultTolerance(for: S.self)
        options.tolerance = certified
        let progress = Console.stderrIsTTY ? ProgressLine(layers: layers.count) : nil
        var callback: (@Sendable (Int, SolverProgress) -> Void)? = nil
        if let progress { callback = { layer, p in progress.update(layer: layer, p) } }
        let start = ContinuousClock.now
        let result: StackSolution<S>
        do {
            result = try solveStack(
                layers, inputs: inputs, lengths: lengths, batch: 1, options: options, progress: callback)
        } catch {
            progress?.finish()
            throw Failure(message: "error: \(error.description)", code: 1)
        }
        progress?.finish()
        let solveSeconds = seconds(ContinuousClock.now - start)
        let verification = try verifyPacked(
            layers, inputs: inputs, lengths: lengths, options: options, solveSeconds: solveSeconds,
            hidden: result.hidden, outputSize: loaded.outputSize)
        let verifyLimit = max(0.01, 1000 * certified)
        let verifyFailed = verification.map { !($0.total.maxAbsDifference <= verifyLimit) } ?? false

        // Per recording: its residual in every layer (a reverse direction lists them reversed).
        let perLayer: [[Double]] = zip(result.layers, result.labels).map { solution, label in
            let r = solution.sequenceResiduals ?? [Double](repeating: solution.finalResidual, count: files.count)
            return label.hasSuffix("reverse") ? r.reversed() : r
        }
        let totalSteps = lengths.reduce(0, +)
        let nonFinite = result.nonFiniteState
        let converged = result.converged
        let write =
            outputDirectory != nil && nonFinite == nil && !verifyFailed && (converged || allowUnconverged)
        var recordings: [PackedRecordingReport] = []
        for (i, url) in files.enumerated() {
            let residuals = perLayer.map { $0[i] }
            let worst = residuals.reduce(0.0) { $0.isNaN || $1.isNaN ? .nan : max($0, $1) }
            recordings.append(
                PackedRecordingReport(
                    file: url.lastPathComponent, steps: lengths[i], residuals: residuals, residual: worst,
                    output: write && i < outputURLs.count ? outputURLs[i].path : nil,
                    maxAbsDifference: verification.flatMap { finite($0.perRecording[i]) }))
        }

        // 3. Summary.
        let methods = result.layers.map(\.method.rawValue)
        var text =
            "model      \(modelName): \(loaded.layers.count) layer\(loaded.layers.count == 1 ? "" : "s"), m = \(loaded.inputSize), output d = \(loaded.outputSize)\n"
        text +=
            "input      \(files.count) recordings, \(totalSteps) steps in all (shortest \(lengths.min() ?? 0), longest \(lengths.max() ?? 0)), packed into one solve\n"
        text +=
            "method     \(Set(methods).sorted().joined(separator: ", ")) (requested \(method.rawValue)), \(pool.threadCount) thread\(pool.threadCount == 1 ? "" : "s"), \(precision)\n"
        text +=
            "result     \(converged ? "converged" : "NOT converged"): residual \(format(result.finalResidual)) (tolerance \(format(certified))), \(result.iterations) Newton iterations\n"
        if let worst = recordings.indices.max(by: { !(recordings[$0].residual >= recordings[$1].residual) }) {
            text += "worst      \(recordings[worst].file): residual \(format(recordings[worst].residual))\n"
        }
        text += String(format: "time       solve %.3f s\n", solveSeconds)
        if let v = verification {
            let worst = v.perRecording.indices.max { !(v.perRecording[$0] >= v.perRecording[$1]) } ?? 0
            text +=
                "verify     sequential \(String(format: "%.3f", v.total.sequentialSeconds)) s; max |h − h_seq| = \(format(v.total.maxAbsDifference)) (worst \(files[worst].lastPathComponent))\n"
        }
        print(text, terminator: "")

        // 4. Outputs: every file encoded, then written and renamed together (all or none).
        var writes: [(data: Data, url: URL)] = []
        if write, let outputDirectory {
            let d = loaded.outputSize
            var offset = 0
            for (i, length) in lengths.enumerated() {
                let slice = Array(result.hidden[(offset * d)..<((offset + length) * d)])
                offset += length
                let tensor =
                    S.self == Float.self
                    ? Tensor(shape: [length, d], float32: slice.map { Float($0) })
                    : Tensor(shape: [length, d], float64: slice.map { Double($0) })
                writes.append((NPY.encode(tensor), outputURLs[i]))
            }
            do {
                try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
            } catch {
                throw Failure(
                    message: "error: \(outputDirectory.path): cannot create the folder: \(error.localizedDescription)",
                    code: 1)
            }
        }
        if let report {
            let url = URL(fileURLWithPath: report)
            let json = PackedSolveReport(
                model: modelName, recordings: files.count, totalSteps: totalSteps,
                precision: precision.rawValue, threads: pool.threadCount,
                requestedMethod: method.rawValue, methods: methods, labels: result.labels,
                iterations: result.iterations, tolerance: certified,
                residual: result.finalResidual, converged: converged, solveSeconds: solveSeconds,
                totalSeconds: seconds(ContinuousClock.now - began),
                sequentialSeconds: verification?.total.sequentialSeconds,
                maxAbsDifference: verification.flatMap { finite($0.total.maxAbsDifference) }, perRecording: recordings)
            do {
                writes.append((try JSONReport.encode(json, name: url.lastPathComponent), url))
            } catch {
                throw Failure(message: "error: \(error.description)", code: 1)
            }
            try createParentFolder(of: url)
        }
        do { try AtomicFile.write(writes) } catch {
            throw Failure(message: "error: \(error.description)", code: 1)
        }
        if write, let outputDirectory {
            print("wrote      \(files.count) files <stem>.npy to \(outputDirectory.path)")
        }
        if let report { print("report     \(report)") }
        if let nonFinite {
            throw Failure(
                message:
                    "error: non-finite hidden state at packed step \(nonFinite.state.step) (\(result.labels[nonFinite.layer])): \(modelName) overflows in \(precision) precision; no hidden states written",
                code: 2)
        }
        if verifyFailed, let v = verification {
            throw Failure(
                message:
                    "error: --verify: max |h − h_seq| = \(format(v.total.maxAbsDifference)) exceeds \(format(verifyLimit)): the solution does not match the sequential rollout; no hidden states written",
                code: 2)
        }
        if !converged {
            throw Failure(
                message:
                    "error: did not converge: residual \(format(result.finalResidual)) > tolerance \(format(certified))\(unconvergedOutputNote)",
                code: 2)
        }
    }

    /// With --verify: the packed problem again by the sequential method (each recording rolled
    /// out from its own start), and max |h − h_seq| per recording and over all (NaN counts as
    /// infinite); nil without --verify.
    func verifyPacked<S: CellMath>(
        _ layers: [AnyLayer<S>], inputs: [S], lengths: [Int], options: SolverOptions, solveSeconds: Double,
        hidden: [S], outputSize d: Int
    ) throws -> (total: Verification, perRecording: [Double])? {
        guard verify else { return nil }
        var sequential = options
        sequential.method = .sequential
        sequential.progress = nil
        let start = ContinuousClock.now
        let reference: StackSolution<S>
        do {
            reference = try solveStack(layers, inputs: inputs, lengths: lengths, batch: 1, options: sequential)
        } catch {
            throw Failure(message: "error: --verify: \(error.description)", code: 1)
        }
        let sequentialSeconds = seconds(ContinuousClock.now - start)
        var perRecording: [Double] = []
        let total = lengths.reduce(0, +) * d
        if hidden.count != total || reference.hidden.count != total {
            // A stack that stopped at a non-finite layer has no output to compare.
            perRecording = [Double](repeating: .infinity, count: lengths.count)
        } else {
            var offset = 0
            for length in lengths {
                var worst = 0.0
                for k in (offset * d)..<((offset + length) * d) {
                    let diff = abs(Double(hidden[k]) - Double(reference.hidden[k]))
                    if !(diff <= worst) { worst = diff.isNaN ? .infinity : diff }
                }
                perRecording.append(worst)
                offset += length
            }
        }
        let verification = Verification(
            sequentialSeconds: sequentialSeconds, maxAbsDifference: perRecording.max() ?? 0,
            speedup: solveSeconds > 0 ? sequentialSeconds / solveSeconds : nil)
        return (verification, perRecording)
    }
}
