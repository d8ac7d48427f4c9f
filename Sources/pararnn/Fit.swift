import ArgumentParser
import Foundation
import ModelIO
import ParaRNN
import ParallelScan
import SequenceIO
import Training

/// Cells `fit` can train.
enum FitCell: String, CaseIterable, ExpressibleByArgument {
    case paragru, paralstm, gru, lstm
}

struct Fit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a recurrent model for next-step prediction on a recording.",
        discussion: """
            Reads a recording (.npy [T, m], .csv one row per step, .wav channels as features), \
            normalises each feature (mean 0, standard deviation 1), holds out the last \
            --validation-fraction of the steps, and trains a stack of recurrent layers plus a \
            linear readout to predict x_{t+1} from x_0…x_t with mean squared error, AdamW \
            (gradient clipping, linear warm-up then cosine decay) on mini-batches of windows \
            drawn from the training part. Forward passes are solved in parallel over time \
            (Newton or sequential, per --method); gradients come from the adjoint reverse scan.

            Prints the validation loss next to the "repeat the last value" predictor's, and \
            writes the model as .safetensors (recurrent layers in the format `pararnn solve` \
            reads, plus readout.weight / readout.bias and the normalisation in __metadata__). \
            Deterministic for a given --seed and --threads. A progress bar is shown on a \
            terminal, one line per validation otherwise.

            Exit codes: 0 trained and written; 1 usage or input error (nothing written).
            """)

    @Option(name: .long, help: ArgumentHelp("The recording (.npy, .csv or .wav).", valueName: "file"))
    var input: String = "data/default/input.npy"

    @Option(name: .long, help: ArgumentHelp("Where to write the trained model (.safetensors).", valueName: "file"))
    var output: String = "out/model.safetensors"

    @Option(name: .long, help: "Cell: \(FitCell.allCases.map(\.rawValue).joined(separator: ", ")).")
    var cell: FitCell = .paragru

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

    @Option(name: .long, help: "Solver for the forward passes: automatic, newton or sequential.")
    var method: MethodOption = .automatic

    @Option(name: .long, help: "Worker threads (default: PARARNN_THREADS or all cores).")
    var threads: Int?

    @Option(name: .long, help: "Compute precision: float or double.")
    var precision: Precision = .float

    @Option(name: .long, help: "Random seed (initialisation and batches).")
    var seed: UInt64 = 0

    @Option(name: .long, help: ArgumentHelp("Also write the training history (JSON).", valueName: "file"))
    var history: String?

    @Option(name: .customLong("checkpoint-every"), help: ArgumentHelp("Write the model to --output every n steps while training (atomic; the last write is the final model).", valueName: "n"))
    var checkpointEvery: Int?

    func validate() throws {
        if hidden < 1 || layers < 1 || steps < 1 || batchSize < 1 || window < 2 {
            throw ValidationError("--hidden, --layers, --steps, --batch-size must be ≥ 1 and --window ≥ 2")
        }
        if !(0.01...0.9).contains(validationFraction) {
            throw ValidationError("--validation-fraction must lie in [0.01, 0.9]")
        }
        if !(learningRate > 0) { throw ValidationError("--learning-rate must be positive") }
        if let threads, threads < 1 { throw ValidationError("--threads must be ≥ 1") }
        if let checkpointEvery, checkpointEvery < 1 { throw ValidationError("--checkpoint-every must be ≥ 1") }
    }

    func run() throws {
        let inputURL = URL(fileURLWithPath: input)
        let recording: Tensor
        do { recording = try SequenceInput.read(contentsOf: inputURL) } catch {
            Console.error(error.description)
            throw ExitCode(1)
        }
        guard recording.shape.count == 2 else {
            Console.error("\(inputURL.lastPathComponent): fit needs one recording [T, m]; got shape \(recording.shape)")
            throw ExitCode(1)
        }
        let (t, m) = (recording.shape[0], recording.shape[1])
        if Double(t) * validationFraction < 3 || Double(t) * (1 - validationFraction) < 3 {
            Console.error("\(inputURL.lastPathComponent): \(t) steps are too few to train and validate")
            throw ExitCode(1)
        }
        switch (cell, precision) {
        case (.paragru, .float): try train(ParaGRU<Float>.self, recording, t, m)
        case (.paragru, .double): try train(ParaGRU<Double>.self, recording, t, m)
        case (.paralstm, .float): try train(ParaLSTM<Float>.self, recording, t, m)
        case (.paralstm, .double): try train(ParaLSTM<Double>.self, recording, t, m)
        case (.gru, .float): try train(GRU<Float>.self, recording, t, m)
        case (.gru, .double): try train(GRU<Double>.self, recording, t, m)
        case (.lstm, .float): try train(LSTM<Float>.self, recording, t, m)
        case (.lstm, .double): try train(LSTM<Double>.self, recording, t, m)
        }
    }

    func train<C: TrainableCell>(_: C.Type, _ recording: Tensor, _ t: Int, _ m: Int) throws {
        typealias S = C.Scalar
        // Per-feature normalisation from the training part.
        let raw = recording.asDouble()
        let split = Int(Double(t) * (1 - validationFraction))
        var mean = [Double](repeating: 0, count: m), std = [Double](repeating: 0, count: m)
        for s in 0..<split { for i in 0..<m { mean[i] += raw[s * m + i] } }
        for i in 0..<m { mean[i] /= Double(split) }
        for s in 0..<split { for i in 0..<m { std[i] += (raw[s * m + i] - mean[i]) * (raw[s * m + i] - mean[i]) } }
        for i in 0..<m { std[i] = max(1e-12, (std[i] / Double(split)).squareRoot()) }
        let normalised: [S] = (0..<(t * m)).map { S((raw[$0] - mean[$0 % m]) / std[$0 % m]) }

        var options = TrainingOptions()
        options.steps = steps
        options.batchSize = batchSize
        options.windowLength = window
        options.learningRate = learningRate
        options.warmupSteps = min(20, steps / 10)
        options.weightDecay = weightDecay
        options.seed = seed
        options.validationFraction = validationFraction
        options.validationInterval = max(1, steps / 10)
        options.solver = SolverOptions(method: method.method, pool: WorkerPool(threadCount: threads))
        let trainer = Trainer<C>(options: options)
        let data = TrainingData<S>.nextStep(recording: normalised, steps: t, features: m)
        var rng = SplitMix(seed: seed)
        var model: RecurrentModel<C>
        do {
            model = try RecurrentModel<C>.initialized(
                inputSize: m, hiddenSize: hidden, layerCount: layers, outputSize: m,
                inputSkip: true, using: &rng)
        } catch {
            Console.error("cannot initialise the model: \(error.description)")
            throw ExitCode(1)
        }
        let baseline = try trainer.repeatLastValueLoss(data)
        let initial = try trainer.validationLoss(model, data)
        print("data       \(URL(fileURLWithPath: input).lastPathComponent): T = \(t), m = \(m); training \(split) steps, validating \(t - split)")
        print("model      \(C.cellName), \(layers) layer\(layers == 1 ? "" : "s") × \(hidden) channels, \(model.parameterVector.count) parameters, \(precision)")
        print("baseline   repeat-the-last-value validation MSE \(format(baseline)); untrained model \(format(initial))")
        let start = DispatchTime.now().uptimeNanoseconds
        let tty = Console.stderrIsTTY
        let records = try trainer.fit(
            &model, data: data, checkpointInterval: checkpointEvery,
            checkpoint: { step, snapshot throws(TrainingError) in
                do { try save(snapshot, mean: mean, std: std, m: m) } catch {
                    throw .invalidModel("checkpoint at step \(step): \(error)")
                }
            }
        ) { record in
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            if tty {
                let width = 30, done = record.step * width / steps
                let bar = String(repeating: "█", count: done) + String(repeating: "·", count: width - done)
                Console.raw("\r\(bar) \(record.step)/\(steps) loss \(format(record.loss)) iters \(record.solverIterations) \(String(format: "%.1f", elapsed)) s ")
                if record.step == steps { Console.raw("\n") }
            } else if let validation = record.validationLoss {
                Console.error("step \(record.step)/\(steps): train loss \(format(record.loss)), validation \(format(validation)), solver iterations \(record.solverIterations), \(String(format: "%.1f", elapsed)) s")
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        let final = records.last?.validationLoss ?? initial
        let change = (baseline - final) / baseline * 100
        print("trained    \(steps) steps in \(String(format: "%.1f", seconds)) s; validation MSE \(format(final)) (\(String(format: "%+.1f", -change)) % vs repeat-last-value \(format(baseline)))")

        do {
            try save(model, mean: mean, std: std, m: m)
            if let history {
                let historyURL = URL(fileURLWithPath: history)
                try FileManager.default.createDirectory(at: historyURL.deletingLastPathComponent(), withIntermediateDirectories: true)
                try JSONReport.write(FitHistory(baselineLoss: baseline, initialLoss: initial, finalLoss: final, seconds: seconds, records: records), to: historyURL)
            }
        } catch let error as ModelError {
            Console.error(error.description)
            throw ExitCode(1)
        } catch let error as SequenceIOError {
            Console.error(error.description)
            throw ExitCode(1)
        }
        print("model      written to \(output)")
    }

    /// Writes the model (recurrent layers, readout, normalisation) to --output atomically.
    func save<C: TrainableCell>(_ model: RecurrentModel<C>, mean: [Double], std: [Double], m: Int) throws {
        var stack: [ModelLayer] = []
        for layer in model.layers { stack.append(try ModelLayer(cell: layer)) }
        var file = try Model(kind: CellKind(rawValue: C.cellName)!, layers: stack)
        file.readout = Readout(
            weight: ParameterTensor(shape: [m, hidden], values: model.readout.weights.map { Double($0) }),
            bias: ParameterTensor(shape: [m], values: model.readout.bias.map { Double($0) }),
            inputMean: mean, inputStandardDeviation: std, inputSkip: true)
        let url = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try ModelFile.save(file, to: url, dtype: precision == .float ? .float32 : .float64)
    }

    func format(_ x: Double) -> String { String(format: "%.4g", x) }
}

/// The `--history` file of `pararnn fit`.
struct FitHistory: Codable {
    var baselineLoss: Double
    var initialLoss: Double
    var finalLoss: Double
    var seconds: Double
    var records: [TrainingRecord]
}
