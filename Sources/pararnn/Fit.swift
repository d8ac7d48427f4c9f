import ArgumentParser
import Foundation
import ModelIO
import ParaRNN
import ParallelScan
import SequenceIO
import Training

/// Cells `fit` can train: the catalogue's trainable cells.
extension CellKind: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument) }
    public static var allValueStrings: [String] { trainable.map(\.rawValue) }
    /// The cells whose catalogue entry can be trained.
    static var trainable: [CellKind] { allCases.filter(\.schema.trainable) }
}

struct Fit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fit",
        abstract: "Train a recurrent model for next-step prediction on a recording.",
        discussion: """
            Reads a recording (.npy [T, m], an HDF5 dataset file.h5:/group/dataset, .csv/.tsv one \
            row per step, audio channels as features), \
            normalises each feature (mean 0, standard deviation 1), holds out the last \
            --validation-fraction of the steps, and trains a stack of recurrent layers plus a \
            linear readout to predict x_{t+1} from x_0…x_t (or, with --targets, the chosen \
            columns y_{t+1}, normalised likewise) with mean squared error, AdamW \
            (gradient clipping, linear warm-up then cosine decay) on mini-batches of windows \
            drawn from the training part. Forward passes are solved in parallel over time \
            (Newton or sequential, per --method); gradients come from the adjoint reverse scan.

            Tables (.csv, .tsv): --columns chooses the features (header names or 1-based \
            numbers, e.g. --columns co2 or 2-4), --targets the columns to predict (same syntax; \
            they may also be features, e.g. --columns temp,co2 --targets co2), read in one pass \
            with the features (--missing drop drops a row missing either), --missing \
            error|drop|ffill|interpolate handles empty cells, --decimal-comma reads 1,5; \
            date/time columns are skipped with a note (see `pararnn solve --help`). For .npy, \
            HDF5 and audio, --targets takes feature numbers (e.g. 3 or 1-2). A model trained \
            with --targets has no input skip and stores the targets' normalisation in \
            __metadata__ output_mean / output_std.

            Prints the validation loss next to the "repeat the last value" predictor's, and \
            writes the model as .safetensors (recurrent layers in the format `pararnn solve` \
            reads, plus readout.weight / readout.bias and the normalisation in __metadata__). \
            Deterministic for a given --seed and --threads. A progress bar is shown on a \
            terminal, one line per validation otherwise.

            Before any training: --output must be a .safetensors file and --history a .json \
            file, neither may be the same file as --input (or each other, symbolic links \
            resolved), and their folders must be writable. The model and the history are \
            written together at the end (both or neither); checkpoints replace --output \
            atomically. Temporary files (.NAME.<UUID>.tmp) that an interrupted run left for \
            these outputs are removed on start, and on SIGINT/SIGTERM before exiting.

            Exit codes: 0 trained and written; 1 usage or input error, or training failed \
            (one line on stderr; nothing written but earlier checkpoints); 130/143 interrupted \
            by SIGINT/SIGTERM (the last checkpoint, if any, is complete).
            """)

    @Option(
        name: .customLong("input"),
        help: ArgumentHelp(
            "The recording (.npy, .csv, .tsv, audio: .wav, .flac, .ogg, .aiff, or an HDF5 dataset: file.h5:/group/dataset). Repeat it, or name a folder, to train on several recordings (windows never span two).",
            valueName: "file|folder"))
    var inputs: [String] = ["data/default/input.npy"]

    /// The (first) input.
    var input: String { inputs[0] }

    @Option(
        name: .customLong("validation-files"),
        help: ArgumentHelp(
            "With several recordings: hold these out whole for validation (comma-separated file names or paths among the inputs) instead of the last --validation-fraction of each.",
            valueName: "a.npy,b.npy"))
    var validationFiles: String?

    @OptionGroup var table: TableInputOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Columns to predict (next step), by header name or 1-based number as for --columns (e.g. co2 or 2); they may also be features. Default: every feature.",
            valueName: "list"))
    var targets: String?

    @Option(name: .long, help: ArgumentHelp("Where to write the trained model (.safetensors).", valueName: "file"))
    var output: String = "out/model.safetensors"

    @Option(name: .long, help: "Cell: \(CellKind.trainable.map(\.rawValue).joined(separator: ", ")).")
    var cell: CellKind = .paragru

    @Option(name: .long, help: "Hidden channels per layer.")
    var hidden: Int = 8

    @Option(name: .long, help: "Recurrent layers.")
    var layers: Int = 1

    @Option(name: .long, help: "Optimiser steps.")
    var steps: Int = 300

    @Option(name: .customLong("batch-size"), help: "Windows per mini-batch.")
    var batchSize: Int = 8

    @Option(name: .long, help: "Window length (time steps) of a training sample.")
    var window: Int = 512

    @Option(name: .customLong("learning-rate"), help: "Peak learning rate.")
    var learningRate: Double = 1e-2

    @Option(name: .customLong("weight-decay"), help: "AdamW decoupled weight decay.")
    var weightDecay: Double = 0

    @Option(name: .customLong("validation-fraction"), help: "Fraction of the recording (its end) held out.")
    var validationFraction: Double = 0.1

    @OptionGroup var solverMethod: MethodOptionGroup
    @OptionGroup var threading: ThreadsOption
    @OptionGroup var computePrecision: PrecisionOption

    var method: MethodOption { solverMethod.method }
    var threads: Int? { threading.threads }
    var precision: Precision { computePrecision.precision }

    @Option(
        name: .customLong("validation-every"),
        help: ArgumentHelp(
            "Take the validation loss every n steps (and after the last); default: steps / 10.", valueName: "n"))
    var validationEvery: Int?

    @Option(name: .long, help: "Random seed (initialisation and batches).")
    var seed: UInt64 = 0

    @Option(name: .long, help: ArgumentHelp("Also write the training history (JSON).", valueName: "file"))
    var history: String?

    @Option(
        name: .customLong("checkpoint-every"),
        help: ArgumentHelp(
            "Write the model to --output every n steps while training (atomic; the last write is the final model).",
            valueName: "n"))
    var checkpointEvery: Int?

    func validate() throws {
        if hidden < 1 || layers < 1 || steps < 1 || batchSize < 1 || window < 2 {
            throw ValidationError("--hidden, --layers, --steps, --batch-size must be ≥ 1 and --window ≥ 2")
        }
        if !(0.01...0.9).contains(validationFraction) {
            throw ValidationError("--validation-fraction must lie in [0.01, 0.9]")
        }
        if !(learningRate > 0) { throw ValidationError("--learning-rate must be positive") }
        if let checkpointEvery, checkpointEvery < 1 { throw ValidationError("--checkpoint-every must be ≥ 1") }
        if let validationEvery, validationEvery < 1 { throw ValidationError("--validation-every must be ≥ 1") }
        if severalRecordings {
            if let validationFiles, validationFiles.split(separator: ",").isEmpty {
                throw ValidationError("--validation-files names no file")
            }
            if targets != nil {
                throw ValidationError(
                    "--targets applies to one recording; several recordings are trained for next-step prediction of every feature"
                )
            }
            if let dataset = inputs.first(where: { FileArgument($0).dataset != nil }) {
                throw ValidationError(
                    "--input \(dataset): an HDF5 dataset (file.h5:/dataset) applies to one recording; several recordings are read as whole files (a .h5 file holding one dataset may be named alone)"
                )
            }
        } else {
            let inputExtension = FileArgument(input).url.pathExtension.lowercased()
            if !(["npy", "csv", "tsv"].contains(inputExtension) || Audio.extensions.contains(inputExtension)
                || HDF5.extensions.contains(inputExtension))
            {
                throw ValidationError(
                    "--input must name a .npy, .csv, .tsv, audio (.wav, .flac, .ogg, .aiff) or HDF5 (file.h5:/dataset) recording (got \(input))"
                )
            }
        }
        if URL(fileURLWithPath: output).pathExtension.lowercased() != "safetensors" {
            throw ValidationError("--output must name a .safetensors file (got \(output))")
        }
        if let history, URL(fileURLWithPath: history).pathExtension.lowercased() != "json" {
            throw ValidationError("--history must name a .json file (got \(history))")
        }
    }

    /// The files this run writes.
    var outputURLs: [URL] { [URL(fileURLWithPath: output)] + (history.map { [URL(fileURLWithPath: $0)] } ?? []) }

    func run() throws {
        // Before any work: outputs never replace the input or each other, and can be written.
        do {
            try PathChecks.check(
                outputs: [("--output", output)] + (history.map { [("--history", $0)] } ?? []),
                inputs: inputs.filter { !RecordingList.isDirectory($0) }.map { ("--input", FileArgument($0).path) })
        } catch {
            Console.failure("error: \(error.message)")
            throw ExitCode(1)
        }
        let guard_ = OutputGuard(urls: outputURLs)
        guard_.removeStaleTemporaryFiles()
        guard_.installSignalHandlers()
        do {
            try fit(guard_)
        } catch let failure as Failure {
            Console.failure(failure.message)
            throw ExitCode(failure.code)
        }
    }

    func fit(_ guard_: OutputGuard) throws {
        if severalRecordings { return try fitSeveral(guard_) }
        let inputURL = FileArgument(input).url
        let recording: Tensor
        var goal: Targets?
        do {
            (recording, goal) = try readRecording(inputURL)
        } catch {
            throw Failure(message: "error: \(error.description)", code: 1)
        }
        guard recording.shape.count == 2 else {
            throw Failure(
                message:
                    "error: \(inputURL.lastPathComponent): fit needs one recording [T, m]; got shape \(recording.shape)",
                code: 1)
        }
        let (t, m) = (recording.shape[0], recording.shape[1])
        if Double(t) * validationFraction < 3 || Double(t) * (1 - validationFraction) < 3 {
            throw Failure(
                message: "error: \(inputURL.lastPathComponent): \(t) steps are too few to train and validate", code: 1)
        }
        try dispatch(.one(raw: recording.asDouble(), steps: t, targets: goal), m, guard_)
    }

    /// Trains the cell and precision asked for (any trainable cell of the catalogue).
    func dispatch(_ source: FitSource, _ m: Int, _ guard_: OutputGuard) throws {
        guard cell.schema.trainable else {
            throw Failure(
                message:
                    "error: --cell \(cell): this cell cannot be trained yet (trainable: \(CellKind.trainable.map(\.rawValue).joined(separator: ", ")))",
                code: 1)
        }
        let notTrainable = Failure(
            message: "error: --cell \(cell): the catalogue has no trainable type for it", code: 1)
        switch precision {
        case .float:
            guard let type = cell.entry.trainableType(Float.self) else { throw notTrainable }
            try train(type, source, m, guard_)
        case .double:
            guard let type = cell.entry.trainableType(Double.self) else { throw notTrainable }
            try train(type, source, m, guard_)
        }
    }

    /// `--targets`: the columns to predict, `[T, p]`, and their names.
    struct Targets {
        var values: Tensor
        var names: [String]
    }

    /// The features `[T, m]` and, with `--targets` naming columns other than exactly the
    /// features, the targets. A table is read once for both (missing cells handled over both);
    /// other recordings take `--targets` as 1-based feature numbers.
    func readRecording(_ url: URL) throws(SequenceIOError) -> (Tensor, Targets?) {
        let name = url.lastPathComponent
        guard let targets else { return (try table.read(url, dataset: FileArgument(input).dataset), nil) }
        if ["csv", "tsv"].contains(url.pathExtension.lowercased()) {
            var options = table.tableOptions
            options.targets = targets
            let read = try CSV.readTable(contentsOf: url, options: options)
            for note in read.notes { Console.failure("note: \(name): \(note)") }
            try SequenceInput.checkFinite(read.tensor, name: name)
            guard let values = read.targets else { return (read.tensor, nil) }
            try SequenceInput.checkFinite(values, name: name)
            if read.targetColumns == read.columns { return (read.tensor, nil) }
            let names = read.targetHeader ?? read.targetColumns.map { "column \($0)" }
            return (read.tensor, Targets(values: values, names: names))
        }
        let recording = try table.read(url, dataset: FileArgument(input).dataset)
        guard recording.rank == 2 else { return (recording, nil) }
        let m = recording.shape[1]
        let chosen = try Audio.channelIndices(targets, count: m, name: name, option: "--targets")
        if chosen == Array(0..<m) { return (recording, nil) }
        let x = recording.asDouble()
        let t = recording.shape[0]
        var y = [Double](repeating: 0, count: t * chosen.count)
        for r in 0..<t { for (o, c) in chosen.enumerated() { y[r * chosen.count + o] = x[r * m + c] } }
        return (
            recording,
            Targets(values: Tensor(shape: [t, chosen.count], float64: y), names: chosen.map { "column \($0 + 1)" })
        )
    }

    /// Per-column mean and standard deviation (floored at 1e-12) over every row of the training
    /// `parts` (each `[T_i][m]`).
    func statistics(_ parts: [ArraySlice<Double>], _ m: Int) -> (mean: [Double], std: [Double]) {
        let split = parts.reduce(0) { $0 + $1.count } / m
        var mean = [Double](repeating: 0, count: m)
        var std = [Double](repeating: 0, count: m)
        for part in parts { for (k, v) in part.enumerated() { mean[k % m] += v } }
        for i in 0..<m { mean[i] /= Double(split) }
        for part in parts { for (k, v) in part.enumerated() { std[k % m] += (v - mean[k % m]) * (v - mean[k % m]) } }
        for i in 0..<m { std[i] = max(1e-12, (std[i] / Double(split)).squareRoot()) }
        return (mean, std)
    }

    /// `raw` `[T][m]` normalised by (mean, std) in `S`; statistics or values that overflow are
    /// an error naming the recording(s) `name` and the column (`what`: "feature" or "target").
    func normalise<S: BinaryFloatingPoint>(
        _ raw: [Double], _ m: Int, _ mean: [Double], _ std: [Double], what: String, name inputName: String
    ) throws -> [S] {
        // Statistics that overflow (values near Double's range) cannot normalise the data, and
        // a model holding them could not be loaded again: refuse before training.
        for i in 0..<m where !(mean[i].isFinite && std[i].isFinite) {
            throw Failure(
                message:
                    "error: \(inputName): \(what) \(i + 1): values too large to normalise (mean \(mean[i]), standard deviation \(std[i])); rescale the recording",
                code: 1)
        }
        let normalised: [S] = (0..<raw.count).map { S((raw[$0] - mean[$0 % m]) / std[$0 % m]) }
        if let bad = normalised.firstIndex(where: { !$0.isFinite }) {
            throw Failure(
                message:
                    "error: \(inputName): step \(bad / m), \(what) \(bad % m + 1): the normalised value is not finite in \(precision) precision; rescale the recording",
                code: 1)
        }
        return normalised
    }

    func train<C: TrainableCell>(_: C.Type, _ source: FitSource, _ m: Int, _ guard_: OutputGuard) throws {
        typealias S = C.Scalar
        let inputName =
            severalRecordings ? "\(inputs.joined(separator: ", "))" : FileArgument(input).url.lastPathComponent
        // Per-feature (and per-target) normalisation from the training part(s).
        let data: TrainingData<S>
        let dataLine: String
        let mean: [Double]
        let std: [Double]
        var p = m
        var targetScale: (mean: [Double], std: [Double])?
        switch source {
        case .one(let raw, let t, let goal):
            let split = Int(Double(t) * (1 - validationFraction))
            (mean, std) = statistics([raw[0..<(split * m)]], m)
            let normalised: [S] = try normalise(raw, m, mean, std, what: "feature", name: inputName)
            var predicting = ""
            if let goal {
                p = goal.values.shape[1]
                let y = goal.values.asDouble()
                let (ym, ys) = statistics([y[0..<(split * p)]], p)
                targetScale = (ym, ys)
                data = .nextStepTargets(
                    inputs: normalised, targets: try normalise(y, p, ym, ys, what: "target", name: inputName),
                    steps: t, features: m, outputs: p)
                predicting = "; predicting \(goal.names.joined(separator: ", ")) (p = \(p)) at t+1"
            } else {
                data = .nextStep(recording: normalised, steps: t, features: m)
            }
            dataLine = "\(inputName): T = \(t), m = \(m)\(predicting); training \(split) steps, validating \(t - split)"
        case .several(let training, let validation, let line):
            (mean, std) = statistics(training.map { $0[...] }, m)
            data = .recordings(
                training: try training.map { try normalise($0, m, mean, std, what: "feature", name: inputName) },
                validation: try validation.map { try normalise($0, m, mean, std, what: "feature", name: inputName) },
                features: m)
            dataLine = line
        }

        var options = TrainingOptions()
        options.steps = steps
        options.batchSize = batchSize
        options.windowLength = window
        options.learningRate = learningRate
        options.warmupSteps = min(20, steps / 10)
        options.weightDecay = weightDecay
        options.seed = seed
        options.validationFraction = validationFraction
        options.validationInterval = validationEvery ?? max(1, steps / 10)
        options.solver = SolverOptions(method: method.method, pool: WorkerPool(threadCount: threads))
        let trainer = Trainer<C>(options: options)
        var rng = SplitMix(seed: seed)
        var model: RecurrentModel<C>
        do {
            model = try RecurrentModel<C>.initialized(
                inputSize: m, hiddenSize: hidden, layerCount: layers, outputSize: p,
                inputSkip: targetScale == nil, using: &rng)
        } catch {
            throw Failure(message: "error: cannot initialise the model: \(error.description)", code: 1)
        }
        let baseline: Double
        let initial: Double
        do {
            baseline = try trainer.repeatLastValueLoss(data)
            initial = try trainer.validationLoss(model, data)
        } catch {
            throw Failure(message: "error: \(inputName): \(error.description)", code: 1)
        }
        print("data       \(dataLine)")
        print(
            "model      \(C.cellName), \(layers) layer\(layers == 1 ? "" : "s") × \(hidden) channels, \(model.parameterVector.count) parameters, \(precision)"
        )
        print(
            "baseline   repeat-the-last-value validation MSE \(format(baseline, significant: 4)); untrained model \(format(initial, significant: 4))"
        )
        let start = DispatchTime.now().uptimeNanoseconds
        let line = Console.stderrIsTTY ? StatusLine() : nil
        let records: [TrainingRecord]
        do {
            records = try trainer.fit(
                &model, data: data, checkpointInterval: checkpointEvery,
                checkpoint: { step, snapshot throws(TrainingError) in
                    do throws(OutputError) {
                        let encoded = try encode(snapshot, mean: mean, std: std, m: m, output: targetScale)
                        try guard_.write([(encoded, URL(fileURLWithPath: output))])
                    } catch {
                        throw .invalidModel("checkpoint at step \(step): \(error.message)")
                    }
                }
            ) { record in
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
                if let line {
                    let bar = StatusLine.bar(Double(record.step) / Double(steps), width: 30, empty: "·")
                    line.show(
                        "\(bar) \(record.step)/\(steps) loss \(format(record.loss, significant: 4)) iters \(record.solverIterations) \(fixed(elapsed, 1)) s "
                    )
                    if record.step == steps { line.keep() }
                } else if let validation = record.validationLoss {
                    Console.error(
                        "step \(record.step)/\(steps): train loss \(format(record.loss, significant: 4)), validation \(format(validation, significant: 4)), solver iterations \(record.solverIterations), \(fixed(elapsed, 1)) s"
                    )
                }
            }
        } catch {
            line?.keep()
            throw Failure(message: "error: \(inputName): training failed: \(error)", code: 1)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        for (layer, choice) in (records.first?.solverChoices ?? []).enumerated() {
            print("solver     layer \(layer + 1): \(choice)")
        }
        let final = records.last?.validationLoss ?? initial
        // A relative change only means something against a positive, finite baseline (a
        // constant recording has baseline 0).
        let versus =
            baseline > 0 && baseline.isFinite && final.isFinite
            ? "\(String(format: "%+.1f", (final - baseline) / baseline * 100)) % vs repeat-last-value \(format(baseline, significant: 4))"
            : "repeat-last-value \(format(baseline, significant: 4))"
        print(
            "trained    \(steps) steps in \(fixed(seconds, 1)) s; validation MSE \(format(final, significant: 4)) (\(versus))"
        )

        // Both files are encoded and checked first, then written together: both or neither.
        var writes: [(Data, URL)]
        do {
            writes = [
                (try encode(model, mean: mean, std: std, m: m, output: targetScale), URL(fileURLWithPath: output))
            ]
            if let history {
                let url = URL(fileURLWithPath: history)
                let record = FitHistory(
                    baselineLoss: baseline, initialLoss: initial, finalLoss: final, seconds: seconds, records: records)
                writes.append((try JSONReport.encode(record, name: url.lastPathComponent), url))
            }
            try guard_.write(writes)
        } catch {
            throw Failure(message: "error: \(error)", code: 1)
        }
        print("model      written to \(output)\(history.map { "; history to \($0)" } ?? "")")
    }

    /// The model file (recurrent layers, readout, normalisation) as bytes, checked to load back:
    /// a model that `pararnn solve` could not read (a weight that is not finite after training,
    /// or beyond Float's range) is refused.
    /// `output`: the targets' normalisation when they are not the features (no input skip).
    func encode<C: TrainableCell>(
        _ model: RecurrentModel<C>, mean: [Double], std: [Double], m: Int,
        output: (mean: [Double], std: [Double])? = nil
    ) throws(OutputError) -> Data {
        let name = URL(fileURLWithPath: self.output).lastPathComponent
        do {
            var stack: [ModelLayer] = []
            for layer in model.layers { stack.append(try ModelLayer(cell: layer)) }
            var file = try Model(kind: cell, layers: stack, sourceName: name)
            let p = model.outputSize
            file.readout = Readout(
                weight: ParameterTensor(shape: [p, hidden], values: model.readout.weights.map { Double($0) }),
                bias: ParameterTensor(shape: [p], values: model.readout.bias.map { Double($0) }),
                inputMean: mean, inputStandardDeviation: std, inputSkip: output == nil,
                outputMean: output?.mean, outputStandardDeviation: output?.std)
            let contents = ModelFile.encode(file, dtype: precision == .float ? .float32 : .float64)
            _ = try ModelFile.decode(contents, name: name)
            return SafeTensors.encode(contents)
        } catch {
            throw OutputError(
                "\(error.description.hasPrefix(name) ? "" : "\(name): ")\(error.description) (the trained model is not valid; nothing written)"
            )
        }
    }

}

/// A file that cannot be produced; `message` is one line starting with the file name.
struct OutputError: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// `fit`'s outputs: writes them atomically (together when there are several) while holding a
/// lock, removes stale temporary files left for them, and on SIGINT/SIGTERM removes the
/// temporary files of a write in progress before exiting with 128 + the signal number.
final class OutputGuard: @unchecked Sendable {
    let urls: [URL]
    private let lock = NSLock()
    private var sources: [DispatchSourceSignal] = []

    init(urls: [URL]) { self.urls = urls }

    /// Removes `.NAME.<UUID>.tmp` files of the outputs (an interrupted or killed run's).
    func removeStaleTemporaryFiles() {
        for url in urls { AtomicFile.removeTemporaryFiles(for: url) }
    }

    /// On SIGINT or SIGTERM: wait for a write in progress (it holds the lock), remove the
    /// temporary files, exit 130 or 143. The lock is never released, so no write starts after.
    func installSignalHandlers() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                lock.lock()
                removeStaleTemporaryFiles()
                Console.error("\ninterrupted by \(number == SIGINT ? "SIGINT" : "SIGTERM"); temporary files removed")
                _exit(128 + number)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Creates the folders, then writes `files` atomically and together (see
    /// `AtomicFile.write(_:)`); errors are one line naming the file.
    func write(_ files: [(Data, URL)]) throws(OutputError) {
        lock.lock()
        defer { lock.unlock() }
        for (_, url) in files {
            let folder = url.deletingLastPathComponent()
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            } catch {
                throw OutputError(
                    "\(url.lastPathComponent): cannot create the folder \(folder.path): \(systemReason(error))")
            }
        }
        do { try AtomicFile.write(files.map { (data: $0.0, url: $0.1) }) } catch {
            throw OutputError(error.description)
        }
    }
}

/// The system's reason behind a Foundation error ("Permission denied"), not its dump.
func systemReason(_ error: Error) -> String {
    let ns = error as NSError
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(underlying.code)))
    }
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
    switch ns.code {
    case NSFileWriteNoPermissionError, NSFileReadNoPermissionError: return "permission denied"
    case NSFileWriteFileExistsError: return "a file is in the way"
    case NSFileWriteOutOfSpaceError: return "no space left on the device"
    case NSFileWriteVolumeReadOnlyError: return "read-only file system"
    default: return ns.localizedDescription
    }
}

/// The `--history` file of `pararnn fit`.
struct FitHistory: Codable {
    var baselineLoss: Double
    var initialLoss: Double
    var finalLoss: Double
    var seconds: Double
    var records: [TrainingRecord]
}
