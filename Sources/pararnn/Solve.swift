import ArgumentParser
import Foundation
import ModelIO
import ParaRNN
import ParallelScan
import SequenceIO

/// A failure that has already been explained on stderr; carries the exit code.
struct Failure: Error {
    var message: String
    var code: Int32
}

/// Creates the folder that will hold `url` (and its parents) unless it exists.
/// - Throws: a ``Failure`` (exit code 1) naming the file when the folder cannot be made.
func createParentFolder(of url: URL) throws(Failure) {
    do {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    } catch {
        throw Failure(
            message: "error: \(url.lastPathComponent): cannot create its folder: \(error.localizedDescription)", code: 1
        )
    }
}

struct Solve: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "solve",
        abstract: "Solve a model's recurrence over a recorded sequence, in parallel over time.",
        discussion: """
            Reads a model (.safetensors: ParaGRU/ParaLSTM tensors A, B, b[, C] with __metadata__ \
            "cell", or a plain PyTorch export, safetensors.torch.save_file(model.state_dict(), \
            path): nn.GRU/nn.LSTM/nn.RNN, multi-layer, bidirectional, LSTM proj_size, \
            bias=False, nn.GRUCell/LSTMCell/RNNCell, under any submodule prefix; the cell is \
            inferred from the names and shapes, other tensors are listed as ignored) and an input \
            sequence \
            (.npy [T, m] or [B, T, m], an HDF5 dataset file.h5:/group/dataset, .csv/.tsv one row \
            per step, audio channels as features), solves \
            the layers one after the other (layer l+1 reads layer l's h) and writes the last \
            layer's hidden states as .npy (or as an HDF5 dataset, --output out.h5:/hidden): [T, d] \
            for a 2-D input, [B, T, d] for a 3-D one \
            (d = 2·H_out for a bidirectional model, [forward, reverse] as PyTorch's output), \
            float32 or float64 per --precision. The reverse direction of a bidirectional layer \
            is solved by the same method over reversed time and certified the same way.

            Initial states use PyTorch's shapes: --initial-state h0.npy [layers·directions, B, \
            H_out] ([layers·directions, H_out] for a 2-D input), --initial-cell c0.npy \
            [layers·directions, B, d] for an LSTM; index layer·directions + direction; either \
            may be left out (zeros).

            Tables (.csv, .tsv): a header row is optional; the separator (comma, tab or \
            semicolon) is detected; fields may be quoted; lines starting with # are comments. \
            --columns chooses the features by header name or 1-based number (e.g. \
            --columns realgdp,realcons or --columns 3-5,7); without it every column is read and \
            date/time columns (1995-01-01, 1995-01-01 00:00:00, Jan-1-1995, ...) are skipped \
            with a note on stderr, and a note on their spacing (regular, gaps, or irregular: a \
            warning, the model sees one step per row). --missing says what an empty (or NA) \
            cell does: error (default), drop the row, ffill (carry the last value forward) or \
            interpolate (linear in the row number); cells before the first or after the last \
            value take that value. Decimal commas (1,5) are read in ';'-separated tables \
            (detected) or with --decimal-comma.

            HDF5 (.h5, .hdf5, .he5) through libhdf5: --input file.h5:/group/dataset names a 2-D \
            [T, m] or 3-D [B, T, m] dataset (float32 kept, float64 and integers converted to \
            float64; chunked and compressed datasets are read as they are); a file holding one \
            dataset may be named alone. --output out.h5:/group/name (default dataset /hidden) \
            writes the hidden states as a float32/float64 dataset after an in-memory solve.

            Audio (.wav PCM 8/16/24/32-bit, float or extensible, .flac, .ogg, .aiff) is read \
            through libsndfile as float32 in [-1, 1], one feature per channel, without \
            resampling; the sample rate and encoding are printed as a note on stderr. \
            --channels 1,3-4 picks channels (1-based).

            Every result is certified by its residual max_t |h_t - f(h_{t-1}, x_t)| (relative to \
            max(1, |f|)). A Newton attempt that misses the tolerance falls back to damped Newton \
            and then to the sequential rollout unless --no-fallback is given.

            Recordings of any length are streamed: the input is read a segment of steps at a \
            time (.npy by offset, audio by frame offset; a table is read whole first), each \
            segment is solved layer by layer from the exact end state of the previous one and \
            certified on its own, and its hidden states go straight into the output .npy, which \
            appears only when complete (an error or an interrupt leaves no output file). Memory \
            is bounded by the segment, not by T: --max-memory caps it (default: a quarter of the \
            physical memory) and within the cap segments are cache-sized; --segment-length fixes \
            them. --verify and bidirectional models solve in memory.

            Prints a summary on stdout (for a streamed solve: the segments, the time of solving, \
            waiting for input and for the output within the whole-process wall time, and the \
            peak RSS); with --verify also runs the sequential rollout and prints the largest \
            difference and the speedup. While a long streamed solve runs, a progress bar (steps/s, \
            ETA) is shown on stderr if stderr is a terminal; in memory, a progress line per \
            Newton iteration.

            Exit codes: 0 converged (outputs written); 1 usage or input error (one line on stderr \
            naming the file and the problem; no output is created; an --output or --report that \
            is the same file as --input or --model is refused before any work); 2 did not \
            converge (the hidden states are written only with --allow-unconverged), or a hidden \
            state is NaN or Inf (the model overflows at this precision: the hidden states are \
            never written), or --verify found max |h − h_seq| not finite or above \
            max(0.01, 1000 × tolerance) (hidden states not written). With exit 2 the --report, \
            if asked for, is still written and records the failure.
            """)

    @Option(name: .long, help: ArgumentHelp("The model file (.safetensors).", valueName: "file"))
    var model: String

    @Option(
        name: .customLong("input"),
        help: ArgumentHelp(
            "The input sequence (.npy, .csv, .tsv, audio: .wav, .flac, .ogg, .aiff, or an HDF5 dataset: file.h5:/group/dataset). Repeat it, or name a folder (every such file in it, by name), to solve several recordings as one packed problem; --output is then a folder receiving <stem>.npy per recording.",
            valueName: "file|folder"))
    var inputs: [String]

    /// The (first) input.
    var input: String { inputs[0] }

    // The shared options below are declared here rather than as option groups (`fit` uses
    // ``TableInputOptions``, ``MethodOptionGroup``, ``ThreadsOption``, ``PrecisionOption``, with
    // the same help and checks): every option group costs each `solve` process its
    // reflection, decoding and conformance look-ups at start-up, on the main thread before
    // any work. Same options, in the same order (`--help` reads the same).
    @Option(name: .long, help: TableInputOptions.columnsHelp)
    var columns: String?

    @Option(name: .long, help: TableInputOptions.missingHelp)
    var missing: TableOptions.Missing = .error

    @Flag(name: .long, help: TableInputOptions.decimalCommaHelp)
    var decimalComma = false

    @Option(name: .long, help: TableInputOptions.channelsHelp)
    var channels: String?

    /// What `--columns`, `--missing`, `--decimal-comma` and `--channels` chose.
    var table: InputSelection {
        InputSelection(columns: columns, missing: missing, decimalComma: decimalComma, channels: channels)
    }

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The recurrent module's prefix in a state dict holding several (e.g. encoder.rnn).", valueName: "prefix"))
    var module: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "nn.RNN's activation, tanh or relu (a state dict cannot tell; default: __metadata__ \"nonlinearity\", else tanh).",
            valueName: "f"))
    var nonlinearity: NonlinearityOption?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "h0 (.npy) in PyTorch's shape [layers·directions, B, H_out] (default: zeros).", valueName: "file"))
    var initialState: String?

    @Option(
        name: .long,
        help: ArgumentHelp("c0 of an LSTM (.npy), [layers·directions, B, d] (default: zeros).", valueName: "file"))
    var initialCell: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Where to write the hidden states: .npy, or an HDF5 dataset file.h5:/dataset (default dataset /hidden). Its folder is created if missing.",
            valueName: "file"))
    var output: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Where to write a JSON report (per-layer attempts, residual history per iteration, timings).",
            valueName: "file"))
    var report: String?

    @Option(name: .long, help: MethodOptionGroup.help)
    var method: MethodOption = .automatic

    @Option(name: .long, help: ConvergenceOptions.toleranceHelp)
    var tolerance: Double?

    @Option(name: .long, help: ConvergenceOptions.maxIterationsHelp)
    var maxIterations: Int?

    @Option(name: .long, help: ThreadsOption.help)
    var threads: Int?

    @Option(name: .long, help: PrecisionOption.help)
    var precision: Precision = .float

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Solve in segments of n steps, each from the exact end state of the previous one (default: chosen from --max-memory and the cache).",
            valueName: "n"))
    var segmentLength: Int?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Memory for the streamed solve's segment buffers, e.g. 512M or 2G (default: a quarter of the physical memory; segments are kept cache-sized when they fit).",
            valueName: "bytes"))
    var maxMemory: String?

    @Flag(
        name: .long,
        help: ArgumentHelp(
            "Hold the whole sequence in memory instead of streaming it (as --verify and bidirectional models do).",
            visibility: .hidden))
    var inMemory = false

    @Flag(
        name: .long,
        help:
            "Flush a streamed output to the disk (fsync) before moving it into place, so that it survives a machine crash (default: the operating system writes it back; an interrupted run leaves no output file either way)."
    )
    var sync = false

    @Flag(name: .long, help: "Also run the sequential rollout; print the largest difference and the speedup.")
    var verify = false

    @Flag(name: .long, help: "Write the hidden states even if the solve did not converge (the exit code is still 2).")
    var allowUnconverged = false

    @Flag(
        name: .long,
        help: "Do not fall back to damped Newton and the sequential rollout when an attempt misses the tolerance.")
    var noFallback = false

    @Flag(
        name: .long,
        help:
            "Split the sequence over MPI ranks: run as `mpirun -np R pararnn solve --distributed …` (implied when mpirun starts more than one rank). Every method (ELK and damped only in pieces, not with --in-memory); .npy, table or audio input; no --verify or --report."
    )
    var distributed = false

    func validate() throws {
        // The shared options' checks first, as their groups ran them (``ConvergenceOptions``,
        // ``ThreadsOption``).
        try ConvergenceOptions.validate(tolerance: tolerance, maxIterations: maxIterations)
        try ThreadsOption.validate(threads)
        if let segmentLength, segmentLength < 1 {
            throw ValidationError("--segment-length must be at least 1 (got \(segmentLength))")
        }
        if let maxMemory, parseByteSize(maxMemory) == nil {
            throw ValidationError("--max-memory must be a positive size such as 512M or 2G (got \(maxMemory))")
        }
        if packed {
            try validatePacked()
        } else if let output {
            let out = FileArgument(output)
            if out.isHDF5 {
                if let dataset = out.dataset, !HDF5.isDatasetPath(dataset) {
                    throw ValidationError(
                        "--output \(output): '\(dataset)' is not a dataset path such as /hidden or /group/h")
                }
            } else if out.url.pathExtension.lowercased() != "npy" {
                throw ValidationError(
                    "--output must name a .npy file or an HDF5 dataset file.h5:/dataset (got \(output))")
            }
        }
        if let report, URL(fileURLWithPath: report).pathExtension.lowercased() != "json" {
            throw ValidationError("--report must name a .json file (got \(report))")
        }
        if let output, let report,
            URL(fileURLWithPath: output).standardizedFileURL == URL(fileURLWithPath: report).standardizedFileURL
        {
            throw ValidationError("--output and --report name the same file")
        }
        if runsDistributed, verify || report != nil {
            throw ValidationError("--distributed does not support --verify or --report yet")
        }
    }

    func run() throws {
        if packed {
            do {
                switch precision {
                case .float: try executePacked(Float.self)
                case .double: try executePacked(Double.self)
                }
            } catch let failure as Failure {
                Console.failure(failure.message)
                throw ExitCode(failure.code)
            }
            return
        }
        do {
            // Before any work: no output may replace an input, and outputs must be writable.
            var outputs: [(String, String)] = []
            if let output { outputs.append(("--output", FileArgument(output).path)) }
            if let report { outputs.append(("--report", report)) }
            do {
                try PathChecks.check(
                    outputs: outputs, inputs: [("--input", FileArgument(input).path), ("--model", model)])
            } catch {
                throw Failure(message: "error: \(error.message)", code: 1)
            }
            switch (precision, runsDistributed) {
            case (.float, false): try execute(Float.self)
            case (.double, false): try execute(Double.self)
            case (.float, true): try executeDistributed(Float.self)
            case (.double, true): try executeDistributed(Double.self)
            }
        } catch let failure as Failure {
            // Empty: another rank of a distributed solve has said it.
            if !failure.message.isEmpty { Console.failure(failure.message) }
            throw ExitCode(failure.code)
        }
    }

    /// The model file and its layers in `S` (any problem: exit 1).
    func loadLayers<S: CellMath>() throws -> (Model, [AnyLayer<S>]) {
        let loaded: Model
        let loadOptions = LoadOptions(
            module: module, nonlinearity: nonlinearity?.nonlinearity)
        do { loaded = try ModelFile.load(contentsOf: URL(fileURLWithPath: model), options: loadOptions) } catch {
            throw Failure(message: "error: \(error.description)", code: 1)
        }
        do { return (loaded, try loaded.cells(as: S.self)) } catch {
            throw Failure(message: "error: \(error.description) (in \(precision) precision)", code: 1)
        }
    }

    /// `--initial-state` / `--initial-cell` as one state row per layer and direction, or `nil`
    /// (zeros); any problem: exit 1.
    func readInitialStates<S: CellMath>(_ loaded: Model, batch: Int, batched: Bool) throws -> [[S]]? {
        guard initialState != nil || initialCell != nil else { return nil }
        func read(_ path: String?) throws -> Tensor? {
            guard let path else { return nil }
            do { return try NPY.read(contentsOf: URL(fileURLWithPath: path)) } catch {
                throw Failure(message: "error: \(error.description)", code: 1)
            }
        }
        let h0Name = initialState.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "h0"
        let c0Name = initialCell.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "c0"
        let initialStates: [[S]]
        do {
            let rows = try loaded.initialStates(
                h0: try read(initialState), h0Name: h0Name, c0: try read(initialCell), c0Name: c0Name,
                batch: batch, batched: batched)
            initialStates = rows.map { $0.map { S($0) } }
        } catch let error as ModelError {
            throw Failure(message: "error: \(error.description)", code: 1)
        }
        if let bad = initialStates.joined().firstIndex(where: { !$0.isFinite }) {
            throw Failure(
                message: "error: \(h0Name): initial state value \(bad) is not finite in \(precision) precision", code: 1
            )
        }
        return initialStates
    }

    /// Loads, solves, reports and writes, in compute type `S`, with the whole sequence in memory.
    func execute<S: CellMath>(_: S.Type) throws {
        let began = ContinuousClock.now
        let modelURL = URL(fileURLWithPath: model)
        let inputURL = FileArgument(input).url
        let modelName = modelURL.lastPathComponent
        let inputName = inputURL.lastPathComponent

        // 1. Read everything; any problem is an input error (exit 1) before anything is written.
        let (loaded, layers): (Model, [AnyLayer<S>]) = try loadLayers()
        // An HDF5 output is written whole at the end: solved in memory.
        if !verify, !inMemory, layers.allSatisfy({ $0.directions == 1 }),
            !(output.map { FileArgument($0).isHDF5 } ?? false)
        {
            return try executeStreaming(loaded: loaded, layers: layers, began: began)
        }
        let tensor: Tensor
        let inputNotes: [String]
        do { (tensor, inputNotes) = try table.readWithNotes(inputURL, dataset: FileArgument(input).dataset) } catch {
            throw Failure(message: "error: \(error.description)", code: 1)
        }
        let batched = tensor.rank == 3
        let batch = batched ? tensor.shape[0] : 1
        let steps = batched ? tensor.shape[1] : tensor.shape[0]
        let features = tensor.shape[tensor.rank - 1]
        if features != loaded.inputSize {
            throw Failure(
                message:
                    "error: \(inputName): input has \(features) feature\(features == 1 ? "" : "s") per step (shape \(tensor.shape)) but the model \(modelName) expects m = \(loaded.inputSize)",
                code: 1)
        }
        let inputs: [S] = timeMajor(tensor, batch: batch, steps: steps, features: features)
        let initialStates: [[S]]? = try readInitialStates(loaded, batch: batch, batched: batched)
        if let bad = inputs.firstIndex(where: { !$0.isFinite }) {
            // Finite in the file, but not in the compute precision (a float64 value beyond Float's range).
            throw Failure(
                message: "error: \(inputName): value at flat index \(bad) is not finite in \(precision) precision",
                code: 1)
        }

        // 2. Solve.
        let pool = threads.map { WorkerPool(threadCount: $0) } ?? WorkerPool.shared
        var options = SolverOptions(
            method: method.method, tolerance: tolerance, maxIterations: maxIterations,
            fallback: !noFallback, segmentLength: segmentLength, pool: pool)
        let certified = tolerance ?? SolverOptions.defaultTolerance(for: S.self)
        options.tolerance = certified
        options.estimatesContractivity = true
        let progress = Console.stderrIsTTY ? ProgressLine(layers: layers.count) : nil
        let start = ContinuousClock.now
        var callback: (@Sendable (Int, SolverProgress) -> Void)? = nil
        if let progress { callback = { layer, p in progress.update(layer: layer, p) } }
        let result: StackSolution<S>
        do {
            result = try solveStack(
                layers, inputs: inputs, steps: steps, batch: batch, options: options,
                initialStates: initialStates, progress: callback)
        } catch {
            progress?.finish()
            throw Failure(message: "error: \(inputName): \(error.description)", code: 1)
        }
        let solveSeconds = seconds(ContinuousClock.now - start)
        progress?.finish()

        // 3. Optional sequential reference.
        var verification: Verification?
        if verify {
            var sequential = options
            sequential.method = .sequential
            let t0 = ContinuousClock.now
            let reference: StackSolution<S>
            do {
                reference = try solveStack(
                    layers, inputs: inputs, steps: steps, batch: batch, options: sequential,
                    initialStates: initialStates)
            } catch {
                throw Failure(message: "error: \(inputName): \(error.description)", code: 1)
            }
            let sequentialSeconds = seconds(ContinuousClock.now - t0)
            var worst = 0.0
            for (a, b) in zip(result.hidden, reference.hidden) {
                let diff = abs(Double(a) - Double(b))
                if !(diff <= worst) { worst = diff.isNaN ? .infinity : diff }
            }
            verification = Verification(
                sequentialSeconds: sequentialSeconds, maxAbsDifference: worst,
                speedup: solveSeconds > 0 ? sequentialSeconds / solveSeconds : nil)
        }

        // 4. Summary.
        let d = loaded.outputSize
        let outShape = batched ? [batch, steps, d] : [steps, d]
        let converged = result.converged
        // A non-finite state or a failed verification is never written.
        let nonFinite = result.nonFiniteState
        let verifyLimit = max(0.01, 1000 * certified)
        let verifyFailed = verification.map { !($0.maxAbsDifference <= verifyLimit) } ?? false
        let writeHidden = output != nil && nonFinite == nil && !verifyFailed && (converged || allowUnconverged)
        let summary = SolveSummary(
            modelName: modelName, model: loaded, inputName: inputName, inputShape: tensor.shape, inputNotes: inputNotes,
            inputType: tensor.scalarType, steps: steps, batch: batch, precision: precision,
            threads: pool.threadCount, requested: method.method, options: options, result: result,
            solveSeconds: solveSeconds, totalSeconds: seconds(ContinuousClock.now - began),
            verification: verification,
            output: writeHidden ? output : nil, outputShape: outShape, reportFile: report)
        print(summary.text, terminator: "")

        // 5. Outputs: encoded first, then written atomically; nothing is left half-done.
        var writes: [(URL, Data)] = []
        if writeHidden, let output {
            let hidden = batchMajor(result.hidden, batch: batch, steps: steps, features: d)
            let tensor =
                S.self == Float.self
                ? Tensor(shape: outShape, float32: hidden.map { Float($0) })
                : Tensor(shape: outShape, float64: hidden.map { Double($0) })
            let out = FileArgument(output)
            if out.isHDF5 {
                do {
                    writes.append(
                        (out.url, try HDF5.encode(tensor, dataset: out.outputDataset, name: out.url.lastPathComponent)))
                } catch {
                    throw Failure(message: "error: \(error.description)", code: 1)
                }
            } else {
                writes.append((out.url, NPY.encode(tensor)))
            }
        }
        if let report {
            let url = URL(fileURLWithPath: report)
            do { writes.append((url, try JSONReport.encode(summary.json, name: url.lastPathComponent))) } catch {
                throw Failure(message: "error: \(error.description)", code: 1)
            }
        }
        var written: [URL] = []
        for (url, data) in writes {
            do {
                try FileManager.default.createDirectory(
                    at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try AtomicFile.write(data, to: url)
                written.append(url)
            } catch {
                for url in written { try? FileManager.default.removeItem(at: url) }
                let text =
                    (error as? SequenceIOError)?.description
                    ?? "\(url.lastPathComponent): cannot create its folder: \(error.localizedDescription)"
                throw Failure(message: "error: \(text)", code: 1)
            }
        }
        // What was written is said only once it is written.
        print(summary.writtenText, terminator: "")
        if nonFinite != nil {
            try failIfUnfinished(
                result, nonFinite: nonFinite, converged: converged, tolerance: certified,
                inputName: inputName, modelName: modelName)
        }
        if verifyFailed, let v = verification {
            throw Failure(
                message:
                    "error: \(inputName): --verify: max |h − h_seq| = \(format(v.maxAbsDifference)) exceeds \(format(verifyLimit)): the solution does not match the sequential rollout; no hidden states written",
                code: 2)
        }
        try failIfUnfinished(
            result, nonFinite: nil, converged: converged, tolerance: certified, inputName: inputName,
            modelName: modelName)
    }

    /// What happened to the hidden states of a solve that did not converge (the end of its
    /// error line): nothing without --output, else written or not per --allow-unconverged.
    var unconvergedOutputNote: String {
        guard output != nil else { return "" }
        return allowUnconverged
            ? "; hidden states written anyway (--allow-unconverged)"
            : "; no hidden states written (use --allow-unconverged to write them)"
    }

    /// Ends a finished solve with exit 2 when its states overflowed (`nonFinite`: the first
    /// layer and state, never written) or it did not converge (written only with
    /// `--allow-unconverged`); returns when neither.
    func failIfUnfinished<S>(
        _ result: StackSolution<S>, nonFinite: (layer: Int, state: NonFiniteState)?, converged: Bool,
        tolerance: Double, inputName: String, modelName: String
    ) throws {
        if let (layer, state) = nonFinite {
            throw Failure(
                message:
                    "error: \(inputName): non-finite hidden state at step \(state.step), \(layer < result.labels.count ? result.labels[layer] : "layer \(layer + 1)") (\(state.valueName), state index \(state.offset)): \(modelName) overflows in \(precision) precision; no hidden states written",
                code: 2)
        }
        if !converged {
            let worst = result.layers.indices.first { !result.layers[$0].converged }
            let where_ = worst.map { " (\(result.labels[$0]))" } ?? ""
            throw Failure(
                message:
                    "error: \(inputName): did not converge\(where_): residual \(format(result.finalResidual)) > tolerance \(format(tolerance))\(unconvergedOutputNote)",
                code: 2)
        }
    }
}

/// `--nonlinearity` values.
enum NonlinearityOption: String, CaseIterable, ExpressibleByArgument {
    case tanh, relu

    /// ModelIO's value of the same name.
    var nonlinearity: Nonlinearity {
        switch self {
        case .tanh: .tanh
        case .relu: .relu
        }
    }
}

/// `[T, m]` or `[B, T, m]` (row-major) → time-major `[T][B][m]` in `S`.
func timeMajor<S: BinaryFloatingPoint>(_ tensor: Tensor, batch: Int, steps: Int, features: Int) -> [S] {
    let values: [S]
    switch tensor.storage {
    case .float32(let v): values = v.map { S($0) }
    case .float64(let v): values = v.map { S($0) }
    }
    return swappingLeadingAxes(values, rows: batch, columns: steps, features: features)
}

/// Time-major `[T][B][d]` → `[B][T][d]`.
func batchMajor<S>(_ values: [S], batch: Int, steps: Int, features: Int) -> [S] {
    swappingLeadingAxes(values, rows: steps, columns: batch, features: features)
}

/// `[rows][columns][features]` → `[columns][rows][features]` (row-major); the values
/// themselves when either axis has length 1.
func swappingLeadingAxes<S>(_ values: [S], rows: Int, columns: Int, features: Int) -> [S] {
    if rows == 1 || columns == 1 { return values }
    var out = values
    for c in 0..<columns {
        for r in 0..<rows {
            let src = (r * columns + c) * features
            let dst = (c * rows + r) * features
            for i in 0..<features { out[dst + i] = values[src + i] }
        }
    }
    return out
}

/// The progress line of an in-memory solve on a terminal (stderr), rewritten at every Newton
/// iteration:
///
///     layer 2/3 · segment 1/4 · newton iteration 5 · residual 3.2e-07
final class ProgressLine: Sendable {
    private let layers: Int
    private let line = StatusLine()

    init(layers: Int) { self.layers = layers }

    func update(layer: Int, _ p: SolverProgress) {
        var text = ""
        if layers > 1 { text += "layer \(layer + 1)/\(layers) · " }
        if p.segments > 1 { text += "segment \(p.segment + 1)/\(p.segments) · " }
        text += "\(p.method) iteration \(p.iteration) · residual \(format(p.residual))"
        line.show(text)
    }

    func finish() { line.erase() }
}
