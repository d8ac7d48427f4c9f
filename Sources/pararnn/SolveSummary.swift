import Foundation
import ModelIO
import ParaRNN
import SequenceIO

/// The result of `--verify`.
struct Verification {
    var sequentialSeconds: Double
    var maxAbsDifference: Double
    var speedup: Double?
}

/// The human summary and the JSON report of one `pararnn solve` run.
/// How a streamed solve went (see ``Solve/executeStreaming(loaded:layers:began:)``).
struct StreamingInfo {
    var segmentLength: Int
    var segments: Int
    /// The --max-memory budget in bytes.
    var maxMemory: Int
    /// Whether --segment-length fixed the length (otherwise the plan chose it).
    var segmentLengthRequested: Bool
    /// Newton iterations of every segment, per layer.
    var segmentIterations: [[Int]]
    /// getrusage's peak resident set size at the end, in bytes.
    var peakResidentBytes: Int
    /// Seconds the solver waited for input segments (read one segment ahead, on another
    /// thread) and for the output (a full write queue, the last writes, the sync if asked, the
    /// rename); the solving itself is ``SolveSummary/solveSeconds``.
    var readSeconds: Double
    var writeSeconds: Double
}

struct SolveSummary<S: CellMath> {
    var modelName: String
    var model: Model
    var inputName: String
    var inputShape: [Int]
    /// What reading the input reported: audio sample rate and encoding, skipped/filled table cells.
    var inputNotes: [String] = []
    var inputType: ScalarType
    var steps: Int
    var batch: Int
    var precision: Precision
    var threads: Int
    var requested: SolverMethod
    var options: SolverOptions
    var result: StackSolution<S>
    var solveSeconds: Double
    /// Reading, solving and verifying; for a streamed solve everything up to the output's
    /// rename (writing and syncing included).
    var totalSeconds: Double
    var verification: Verification?
    var output: String?
    var outputShape: [Int]
    var reportFile: String?
    /// Set for a streamed solve: how it was cut, and what it used.
    var streaming: StreamingInfo? = nil

    /// The tolerance the solve certified against (the default for `S` when none was set).
    var tolerance: Double { options.tolerance ?? SolverOptions.defaultTolerance(for: S.self) }

    /// The lines printed on stdout.
    var text: String {
        var lines: [String] = []
        func add(_ key: String, _ value: String) {
            lines.append(key.padding(toLength: 11, withPad: " ", startingAt: 0) + value)
        }
        add("model", "\(modelName): \(model.summary)")
        if !model.module.isEmpty { add("module", String(model.module.dropLast())) }
        if !model.ignoredTensors.isEmpty {
            add(
                "ignored",
                "\(model.ignoredTensors.count) tensor\(model.ignoredTensors.count == 1 ? "" : "s") not in the model: \(model.ignoredTensors.joined(separator: ", "))"
            )
        }
        add(
            "input",
            "\(inputName): shape \(shape(inputShape)) \(inputType.rawValue) → T = \(steps), B = \(batch), m = \(model.inputSize)"
        )
        for note in inputNotes { add("note", note) }
        add("compute", "\(precision), \(threads) thread\(threads == 1 ? "" : "s")")
        for (l, s) in result.layers.enumerated() {
            let prefix = result.layers.count > 1 ? "\(result.labels[l]): " : ""
            let why = requested == .automatic ? "automatic: \(s.decision)" : "requested"
            var line = "\(prefix)\(s.method)"
            if s.segments > 1 {
                // One or more attempts per segment: count them by method.
                var counts: [(SolverMethod, Int)] = []
                for a in s.attempts {
                    if let i = counts.firstIndex(where: { $0.0 == a.method }) {
                        counts[i].1 += 1
                    } else {
                        counts.append((a.method, 1))
                    }
                }
                line += " (attempts: " + counts.map { "\($0.1)× \($0.0)" }.joined(separator: ", ") + ")"
            } else {
                let chain = s.attempts.map(\.method.rawValue).joined(separator: " → ")
                if s.attempts.count > 1 || chain != s.method.rawValue { line += " (attempts: \(chain))" }
            }
            line += " — \(why)"
            if s.segments > 1 { line += "; \(s.segments) segments" }
            add("method", line)
            add("iterations", "\(prefix)\(s.iterations)\(residualTrail(s))")
            if let c = s.contractivity { add("contracts", "\(prefix)\(c)") }
        }
        var verdict = result.converged ? "converged" : "NOT converged"
        if let (layer, state) = result.nonFiniteState {
            verdict +=
                " (non-finite state \(state.valueName) at step \(state.step)\(result.layers.count > 1 || model.layers.count > 1 ? ", layer \(layer + 1)" : ""))"
        }
        add("residual", "\(format(result.finalResidual)) (tolerance \(format(tolerance))): \(verdict)")
        if let st = streaming {
            add(
                "segments",
                "\(st.segments) of \(st.segmentLength) step\(st.segmentLength == 1 ? "" : "s") (\(st.segmentLengthRequested ? "--segment-length" : "cache-sized within --max-memory \(formatBytes(st.maxMemory))")), each read ahead, solved and written behind"
            )
            let rest = totalSeconds - solveSeconds - st.readSeconds - st.writeSeconds
            add(
                "time",
                "\(milliseconds(solveSeconds)) solve; \(milliseconds(totalSeconds)) wall in all since the process started (waiting for input \(milliseconds(st.readSeconds)), for writes \(milliseconds(st.writeSeconds)), starting, loading and the rest \(milliseconds(rest)))"
            )
            add("memory", "peak RSS \(formatBytes(st.peakResidentBytes))")
        } else {
            add(
                "time",
                "\(milliseconds(solveSeconds)) solve; \(milliseconds(totalSeconds)) wall in all (reading, solving\(verification == nil ? "" : ", verifying"))"
            )
        }
        if let v = verification {
            var line =
                "sequential \(milliseconds(v.sequentialSeconds)); max |h − h_seq| = \(format(v.maxAbsDifference))"
            if result.layers.allSatisfy({ $0.method == .sequential && $0.attempts.count == 1 }) {
                line += "; the solve was sequential too (no parallel speedup to report)"
            } else if let speedup = v.speedup {
                line += "; speedup \(String(format: "%.2f", speedup))× (sequential time / solve time)"
            }
            add("verify", line)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The lines about the files written, printed once they are written.
    var writtenText: String {
        var lines: [String] = []
        func add(_ key: String, _ value: String) {
            lines.append(key.padding(toLength: 11, withPad: " ", startingAt: 0) + value)
        }
        if let output {
            add("output", "\(output): shape \(shape(outputShape)) \(S.self == Float.self ? "float32" : "float64")")
        }
        if let reportFile { add("report", reportFile) }
        return lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
    }

    private func residualTrail(_ s: Solution<S>) -> String {
        let newton = s.attempts.filter { $0.method != .sequential }
        guard !newton.isEmpty else { return "" }
        // A streamed solve has thousands of segments: format only what is shown.
        let all = newton.flatMap(\.residualHistory)
        let items =
            all.count > 8
            ? all.prefix(4).map { format($0) } + ["…"] + all.suffix(2).map { format($0) } : all.map { format($0) }
        let trail = items.joined(separator: " → ")
        return " (residuals \(trail))"
    }

    /// The JSON report.
    var json: Report {
        Report(
            command: "pararnn solve",
            model: .init(
                file: modelName, cell: model.kind.rawValue,
                layers: model.layers.map {
                    .init(
                        inputSize: $0.inputSize, hiddenSize: $0.hiddenSize, heads: $0.heads,
                        outputSize: $0.outputSize, directions: $0.directions, projectionSize: $0.projectionSize)
                },
                module: model.module.isEmpty ? nil : String(model.module.dropLast()),
                ignoredTensors: model.ignoredTensors),
            input: .init(
                file: inputName, shape: inputShape, dtype: inputType.rawValue, steps: steps, batch: batch,
                features: model.inputSize,
                notes: inputNotes.isEmpty ? nil : inputNotes),
            precision: precision.rawValue, threads: threads,
            options: .init(
                method: requested.rawValue, tolerance: tolerance, maxIterations: options.maxIterations,
                fallback: options.fallback, segmentLength: options.segmentLength),
            converged: result.converged, finalResidual: finite(result.finalResidual),
            tolerance: tolerance, iterations: result.iterations, solveSeconds: solveSeconds, totalSeconds: totalSeconds,
            layers: result.layers.enumerated().map { l, s in
                .init(
                    index: l, label: result.labels[l], method: s.method.rawValue, decision: s.decision,
                    converged: s.converged,
                    finalResidual: finite(s.finalResidual), iterations: s.iterations, segments: s.segments,
                    nonFiniteState: s.nonFiniteState.map {
                        .init(step: $0.step, stateIndex: $0.offset, value: $0.valueName)
                    },
                    contractivity: s.contractivity.map {
                        .init(window: $0.window, lyapunov: finite($0.lyapunov), maxNorm: finite($0.maxNorm))
                    },
                    segmentIterations: streaming.map { l < $0.segmentIterations.count ? $0.segmentIterations[l] : [] },
                    attempts: s.attempts.map {
                        .init(
                            method: $0.method.rawValue, iterations: $0.iterations,
                            residualHistory: $0.residualHistory.map(finite), converged: $0.converged,
                            outcome: $0.outcome)
                    })
            },
            verify: verification.map {
                .init(
                    sequentialSeconds: $0.sequentialSeconds, maxAbsDifference: finite($0.maxAbsDifference),
                    speedup: $0.speedup)
            },
            output: output.map {
                .init(file: $0, shape: outputShape, dtype: S.self == Float.self ? "float32" : "float64")
            },
            streaming: streaming.map {
                .init(
                    segmentLength: $0.segmentLength, segments: $0.segments, maxMemory: $0.maxMemory,
                    peakResidentBytes: $0.peakResidentBytes, readSeconds: $0.readSeconds, writeSeconds: $0.writeSeconds)
            })
    }
}

/// The `--report` JSON (camelCase keys; non-finite numbers are `null`).
struct Report: Codable {
    struct ModelInfo: Codable {
        struct Layer: Codable {
            var inputSize: Int
            var hiddenSize: Int
            var heads: Int
            /// (p or d) × directions: what the next layer reads.
            var outputSize: Int
            var directions: Int
            var projectionSize: Int?
        }
        var file: String
        var cell: String
        var layers: [Layer]
        /// The recurrent module's prefix in a PyTorch state dict, if not at the top.
        var module: String?
        /// Tensors of the file that are not part of the model.
        var ignoredTensors: [String]
    }
    struct InputInfo: Codable {
        var file: String
        var shape: [Int]
        var dtype: String
        var steps: Int
        var batch: Int
        var features: Int
        /// Notes from reading the input (audio sample rate and encoding, table columns skipped, cells filled).
        var notes: [String]?
    }
    struct Options: Codable {
        var method: String
        var tolerance: Double
        var maxIterations: Int?
        var fallback: Bool
        var segmentLength: Int?
    }
    struct Attempt: Codable {
        var method: String
        var iterations: Int
        /// Residual before each iteration and after the last.
        var residualHistory: [Double?]
        var converged: Bool
        var outcome: String
    }
    struct Layer: Codable {
        /// Position in `layers`: one entry per layer and direction.
        var index: Int
        /// "layer 1", "layer 1 reverse", ….
        var label: String
        var method: String
        var decision: String
        var converged: Bool
        var finalResidual: Double?
        var iterations: Int
        var segments: Int
        /// Where the first NaN or Inf state is (absent when all are finite).
        var nonFiniteState: NonFinite?
        /// The contractivity estimate along the first steps (absent for a sequential solve).
        var contractivity: Contracts?
        /// Newton iterations of each segment (streamed solves).
        var segmentIterations: [Int]?
        var attempts: [Attempt]
    }
    struct Contracts: Codable {
        /// Steps of the rollout window.
        var window: Int
        /// Largest Lyapunov exponent estimate (natural log per step; null if −∞).
        var lyapunov: Double?
        /// max_t ‖J_t‖∞ over the window.
        var maxNorm: Double?
    }
    /// A streamed solve: segments, the memory budget and what was used.
    struct Streaming: Codable {
        var segmentLength: Int
        var segments: Int
        var maxMemory: Int
        var peakResidentBytes: Int
        var readSeconds: Double
        var writeSeconds: Double
    }
    struct NonFinite: Codable {
        var step: Int
        var stateIndex: Int
        /// "NaN", "+Inf" or "-Inf".
        var value: String
    }
    struct Verify: Codable {
        var sequentialSeconds: Double
        var maxAbsDifference: Double?
        var speedup: Double?
    }
    struct Output: Codable {
        var file: String
        var shape: [Int]
        var dtype: String
    }
    var command: String
    var model: ModelInfo
    var input: InputInfo
    var precision: String
    var threads: Int
    var options: Options
    var converged: Bool
    var finalResidual: Double?
    var tolerance: Double
    var iterations: Int
    var solveSeconds: Double
    var totalSeconds: Double
    var layers: [Layer]
    var verify: Verify?
    var output: Output?
    var streaming: Streaming?
}

func finite(_ x: Double) -> Double? { x.isFinite ? x : nil }

func shape(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }

func milliseconds(_ s: Double) -> String { String(format: "%.2f ms", s * 1000) }
