import ParaRNN
import ParallelScan

/// Training data: either windows of one long recording with next-step targets, or explicit
/// (input, target) sequence pairs.
public enum TrainingData<Scalar: CellMath>: Sendable {
    /// A recording `[T][m]`; a sample is a window x_{s…s+L−1} with targets x_{s+1…s+L}.
    case nextStep(recording: [Scalar], steps: Int, features: Int)
    /// A recording of features `[T][m]` and of targets `[T][outputs]` (other columns of the same
    /// steps): a sample is a window x_{s…s+L−1} with targets y_{s+1…s+L}.
    case nextStepTargets(inputs: [Scalar], targets: [Scalar], steps: Int, features: Int, outputs: Int)
    /// Pairs of `[T][m]` inputs and `[T][outputs]` targets (class indices for cross-entropy).
    case pairs(inputs: [[Scalar]], targets: [[Scalar]], steps: Int, features: Int, outputs: Int)
    /// Several recordings (each `[T_i][m]`) for next-step prediction: training windows are
    /// drawn from `training` (each window inside one recording, its start uniform over every
    /// valid position of every recording long enough), and the validation loss is taken over
    /// every step of every `validation` recording. See ``TrainingData/recordings(_:features:validationFraction:)``.
    case recordings(training: [[Scalar]], validation: [[Scalar]], features: Int)
}

extension TrainingData {
    /// Several recordings with the last `validationFraction` of each held out for validation.
    ///
    ///     let data = TrainingData.recordings([a, b, c], features: 2, validationFraction: 0.1)
    public static func recordings(_ recordings: [[Scalar]], features m: Int, validationFraction: Double) -> TrainingData
    {
        var training: [[Scalar]] = []
        var validation: [[Scalar]] = []
        for r in recordings {
            let t = r.count / max(1, m)
            let split = Int(Double(t) * (1 - validationFraction))
            training.append(Array(r[0..<(split * m)]))
            validation.append(Array(r[(split * m)...]))
        }
        return .recordings(training: training, validation: validation, features: m)
    }
}

/// Settings of ``Trainer``.
public struct TrainingOptions: Sendable {
    public var steps = 200
    public var batchSize = 8
    public var windowLength = 256
    public var learningRate = 1e-2
    public var warmupSteps = 10
    public var weightDecay = 0.0
    public var clipNorm: Double? = 1
    public var loss = Loss.meanSquaredError
    public var seed: UInt64 = 0
    /// Fraction of the recording (its end) held out for validation in next-step mode.
    public var validationFraction = 0.1
    /// Evaluate validation loss every this many steps (and at the end).
    public var validationInterval = 50
    public var solver = SolverOptions()
    public init() {}
}

/// One line of training history.
public struct TrainingRecord: Sendable, Codable {
    public var step: Int
    public var loss: Double
    public var gradientNorm: Double
    public var learningRate: Double
    public var validationLoss: Double?
    /// Newton iterations of the forward solves in this step (all layers).
    public var solverIterations: Int
    /// Per layer, the forward solve's method and why (`.automatic`: sequential or Newton, batch
    /// split or steps shared): recorded for the first step only.
    public var solverChoices: [String]? = nil
}

/// Mini-batch training of a ``RecurrentModel`` with AdamW, deterministic for a seed.
public struct Trainer<Cell: TrainableCell>: Sendable {
    public typealias Scalar = Cell.Scalar
    public var options: TrainingOptions

    public init(options: TrainingOptions) { self.options = options }

    /// Trains `model` in place; `progress` sees every record and `checkpoint` receives the
    /// model every `checkpointInterval` steps (and after the last). Returns the history.
    // Pre-specialised for the cells `pararnn fit` trains: the trainer, the model's forward and
    // backward passes, the loss and the optimiser are generic, and run unspecialised from other
    // modules (generic metadata lookups, per-element witness calls: ≈ 20 % of a d = 8 step).
    @_specialize(where Cell == ParaGRU<Float>)
    @_specialize(where Cell == ParaLSTM<Float>)
    @_specialize(where Cell == GRU<Float>)
    @_specialize(where Cell == LSTM<Float>)
    @_specialize(where Cell == ParaGRU<Double>)
    @_specialize(where Cell == ParaLSTM<Double>)
    @_specialize(where Cell == GRU<Double>)
    @_specialize(where Cell == LSTM<Double>)
    public func fit(
        _ model: inout RecurrentModel<Cell>, data: TrainingData<Scalar>,
        checkpointInterval: Int? = nil,
        checkpoint: (Int, RecurrentModel<Cell>) throws(TrainingError) -> Void = { _, _ in },
        progress: (TrainingRecord) -> Void = { _ in }
    ) throws(TrainingError) -> [TrainingRecord] {
        var rng = SplitMix(seed: options.seed)
        var optimizer = AdamW(weightDecay: options.weightDecay, clipNorm: options.clipNorm)
        let schedule = LearningRateSchedule(
            peak: options.learningRate, warmupSteps: options.warmupSteps, totalSteps: options.steps)
        var history: [TrainingRecord] = []
        var parameters = model.parameterVector
        for step in 0..<options.steps {
            let batch = try sampleBatch(data, training: true, rng: &rng)
            let (loss, gradient, iterations, choices) = try lossAndGradient(model, batch)
            let rate = schedule.rate(at: step)
            let norm = optimizer.update(&parameters, gradient: gradient, rate: rate)
            do { try model.setParameters(parameters) } catch { throw .invalidModel(error.description) }
            var record = TrainingRecord(
                step: step + 1, loss: loss, gradientNorm: norm, learningRate: rate, validationLoss: nil,
                solverIterations: iterations)
            if step == 0 { record.solverChoices = choices }
            if (step + 1) % options.validationInterval == 0 || step + 1 == options.steps {
                record.validationLoss = try validationLoss(model, data)
            }
            history.append(record)
            progress(record)
            if let interval = checkpointInterval, interval > 0,
                (step + 1) % interval == 0 || step + 1 == options.steps
            {
                try checkpoint(step + 1, model)
            }
        }
        return history
    }

    /// A batch: inputs `[L][B][m]`, targets `[L][B][outputs]`.
    struct Batch {
        var inputs: [Scalar], targets: [Scalar]
        var steps: Int, size: Int, outputs: Int
    }

    func lossAndGradient(_ model: RecurrentModel<Cell>, _ batch: Batch) throws(TrainingError) -> (
        Double, [Scalar], Int, [String]
    ) {
        do {
            let trace = try model.forward(
                inputs: batch.inputs, steps: batch.steps, batch: batch.size, options: options.solver, recording: true)
            let (loss, dy) = options.loss.evaluate(
                predictions: trace.outputs, targets: batch.targets, rows: batch.steps * batch.size,
                outputs: batch.outputs)
            let gradient = try model.backward(
                trace: trace, outputGradient: dy, steps: batch.steps, batch: batch.size, options: options.solver)
            return (
                loss, gradient, trace.solutions.reduce(0) { $0 + $1.iterations },
                trace.solutions.map { "\($0.method): \($0.decision)" }
            )
        } catch {
            throw .solver(error.description)
        }
    }

    /// Loss of `model` on the validation part of the data (whole held-out span, batch 1).
    public func validationLoss(_ model: RecurrentModel<Cell>, _ data: TrainingData<Scalar>) throws(TrainingError)
        -> Double
    {
        var losses: [(Double, Int)] = []
        for batch in try validationBatches(data) {
            do {
                let trace = try model.forward(
                    inputs: batch.inputs, steps: batch.steps, batch: batch.size, options: options.solver)
                losses.append(
                    (
                        options.loss.evaluate(
                            predictions: trace.outputs, targets: batch.targets, rows: batch.steps * batch.size,
                            outputs: batch.outputs
                        ).value, batch.steps * batch.size
                    ))
            } catch {
                throw .solver(error.description)
            }
        }
        return Self.pooled(losses)
    }

    /// The mean over all rows of per-batch mean losses (one batch: its loss unchanged).
    static func pooled(_ losses: [(Double, Int)]) -> Double {
        if losses.count == 1 { return losses[0].0 }
        let rows = losses.reduce(0) { $0 + $1.1 }
        return losses.reduce(0.0) { $0 + $1.0 * Double($1.1) } / Double(max(1, rows))
    }

    /// The validation batches: one, or one per validation recording.
    func validationBatches(_ data: TrainingData<Scalar>) throws(TrainingError) -> [Batch] {
        if case .recordings(_, let validation, let m) = data {
            var batches: [Batch] = []
            for r in validation where r.count / m >= 2 {
                let length = r.count / m - 1
                batches.append(
                    Batch(
                        inputs: Array(r[0..<(length * m)]), targets: Array(r[m..<((length + 1) * m)]),
                        steps: length, size: 1, outputs: m))
            }
            if batches.isEmpty { throw .invalidData("no validation recording has two steps or more") }
            return batches
        }
        var rng = SplitMix(seed: 0)
        return [try sampleBatch(data, training: false, rng: &rng)]
    }

    /// The validation MSE of predicting x_{t+1} = x_t ("repeat the last value"), for comparison.
    public func repeatLastValueLoss(_ data: TrainingData<Scalar>) throws(TrainingError) -> Double {
        Self.pooled(
            try validationBatches(data).map { batch in
                var predictions = batch.inputs
                if case .nextStepTargets(_, let targets, let total, _, let p) = data {
                    // The last target value y_t predicts y_{t+1}.
                    let split = Int(Double(total) * (1 - options.validationFraction))
                    predictions = Array(targets[(split * p)..<((split + batch.steps) * p)])
                }
                return (
                    Loss.meanSquaredError.evaluate(
                        predictions: predictions, targets: batch.targets, rows: batch.steps * batch.size,
                        outputs: batch.outputs
                    ).value, batch.steps * batch.size
                )
            })
    }

    func sampleBatch(_ data: TrainingData<Scalar>, training: Bool, rng: inout SplitMix) throws(TrainingError) -> Batch {
        switch data {
        case .nextStep(let recording, let total, let m):
            return try windows(recording, m, recording, m, total: total, training: training, rng: &rng)
        case .nextStepTargets(let inputs, let targets, let total, let m, let p):
            return try windows(inputs, m, targets, p, total: total, training: training, rng: &rng)
        case .recordings(let recordings, _, let m):
            // Windows of one length L inside one recording each, starts uniform over all valid
            // positions of the recordings with at least L + 1 steps.
            let longest = recordings.map { $0.count / m }.max() ?? 0
            let length = min(options.windowLength, longest - 1)
            if length < 1 { throw .invalidData("the training recordings are too short (longest \(longest) steps)") }
            let starts = recordings.map { max(0, $0.count / m - length) }
            let positions = starts.reduce(0, +)
            let count = options.batchSize
            var x = [Scalar](repeating: 0, count: length * count * m)
            var y = x
            for b in 0..<count {
                var pick = Int(rng.next() % UInt64(positions))
                var index = 0
                while pick >= starts[index] {
                    pick -= starts[index]
                    index += 1
                }
                let recording = recordings[index]
                for t in 0..<length {
                    for i in 0..<m {
                        x[(t * count + b) * m + i] = recording[(pick + t) * m + i]
                        y[(t * count + b) * m + i] = recording[(pick + t + 1) * m + i]
                    }
                }
            }
            return Batch(inputs: x, targets: y, steps: length, size: count, outputs: m)
        case .pairs(let inputs, let targets, let steps, let m, let outputs):
            if inputs.isEmpty || inputs.count != targets.count {
                throw .invalidData("need as many input as target sequences, at least one")
            }
            let holdout = max(1, Int(Double(inputs.count) * options.validationFraction))
            let pool =
                training
                ? Array(0..<max(1, inputs.count - holdout)) : Array(max(0, inputs.count - holdout)..<inputs.count)
            let count = training ? options.batchSize : pool.count
            let targetWidth = options.loss == .crossEntropy ? 1 : outputs
            var x = [Scalar](repeating: 0, count: steps * count * m)
            var y = [Scalar](repeating: 0, count: steps * count * targetWidth)
            for b in 0..<count {
                let index = training ? pool[Int(rng.next() % UInt64(pool.count))] : pool[b]
                for t in 0..<steps {
                    for i in 0..<m { x[(t * count + b) * m + i] = inputs[index][t * m + i] }
                    for o in 0..<targetWidth {
                        y[(t * count + b) * targetWidth + o] = targets[index][t * targetWidth + o]
                    }
                }
            }
            return Batch(inputs: x, targets: y, steps: steps, size: count, outputs: outputs)
        }
    }
}

extension Trainer {
    /// Next-step windows: inputs x_{s…s+L−1} (`[T][m]`) with targets y_{s+1…s+L} (`[T][p]`);
    /// random windows of the training part, or the whole validation part.
    func windows(_ xs: [Scalar], _ m: Int, _ ys: [Scalar], _ p: Int, total: Int, training: Bool, rng: inout SplitMix)
        throws(TrainingError) -> Batch
    {
        let split = Int(Double(total) * (1 - options.validationFraction))
        if training {
            let length = min(options.windowLength, split - 1)
            if length < 1 { throw .invalidData("the training part of the recording is too short (\(split) steps)") }
            let count = options.batchSize
            var x = [Scalar](repeating: 0, count: length * count * m)
            var y = [Scalar](repeating: 0, count: length * count * p)
            for b in 0..<count {
                let start = Int(rng.next() % UInt64(split - length))
                for t in 0..<length {
                    for i in 0..<m { x[(t * count + b) * m + i] = xs[(start + t) * m + i] }
                    for o in 0..<p { y[(t * count + b) * p + o] = ys[(start + t + 1) * p + o] }
                }
            }
            return Batch(inputs: x, targets: y, steps: length, size: count, outputs: p)
        }
        let length = total - split - 1
        if length < 1 { throw .invalidData("the validation part of the recording is too short") }
        let x = Array(xs[(split * m)..<((split + length) * m)])
        let y = Array(ys[((split + 1) * p)..<((split + 1 + length) * p)])
        return Batch(inputs: x, targets: y, steps: length, size: 1, outputs: p)
    }
}

/// Why training stopped.
public enum TrainingError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidData(String)
    case invalidModel(String)
    case solver(String)

    public var description: String {
        switch self {
        case .invalidData(let text): return "invalid training data: \(text)"
        case .invalidModel(let text): return "invalid model: \(text)"
        case .solver(let text): return "solver failed during training: \(text)"
        }
    }
}

/// The training module's generator: the shared ``ParallelScan/SplitMix64``.
public typealias SplitMix = SplitMix64
