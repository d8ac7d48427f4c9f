import Foundation
import ParaRNN
import ParallelScan

/// One solver attempt, as reported.
public struct AttemptRecord: Codable, Equatable, Sendable {
    public var method: SolverMethod
    public var iterations: Int
    public var converged: Bool
    /// The solver's reason for stopping ("converged", "iteration limit 100 reached",
    /// "stagnated at residual …", "non-finite residual (overflow or divergence)").
    public var outcome: String

    public init(method: SolverMethod, iterations: Int, converged: Bool, outcome: String) {
        self.method = method
        self.iterations = iterations
        self.converged = converged
        self.outcome = outcome
    }
}

/// The measurements of one case.
public struct CaseResult: Codable, Equatable, Sendable {
    public var key: CaseKey
    /// Whether the parallel solve (run with `fallback = false`) met the tolerance.
    public var converged: Bool
    /// Newton iterations (linear scans) of the parallel solve.
    public var iterations: Int
    /// max_t ‖r_t‖ (relative) before each iteration and after the last.
    public var residualHistory: [Double]
    /// The certified final residual.
    public var finalResidual: Double
    /// The tolerance used.
    public var tolerance: Double
    /// max |s_parallel − s_sequential| over all states (NaN/Inf if the solve diverged).
    public var maxAbsError: Double
    /// Wall time of the parallel solve (projection + Newton), seconds.
    public var parallelSeconds: Double
    /// Wall time of the sequential rollout (projection + rollout), seconds.
    public var sequentialSeconds: Double
    /// sequentialSeconds / parallelSeconds (> 1: parallel was faster). Measured, never asserted.
    public var speedup: Double
    /// What `.automatic` would pick for this T and B on this pool, and why.
    public var automaticMethod: SolverMethod
    public var automaticReason: String
    /// Every attempt (one: fallback is off).
    public var attempts: [AttemptRecord]
    /// Set when the case could not run at all (a cell or solver error).
    public var failure: String?
    /// Set when the solver declared stagnation although the residual had fallen at least 2×
    /// over the attempt's last 25 iterations (a linearly converging attempt cut short).
    public var diagnosis: String?
    /// Restarts from the last iterate (`continueAfterStagnation`); 0 otherwise.
    public var restarts: Int?
    /// The worker threads the case was solved with (`nil` in reports older than this field).
    public var threads: Int?
    /// Whether other cases ran beside this one (its wall times and speedup were then measured
    /// on a shared machine; see ``HarnessRunner``); `nil` in older reports.
    public var concurrent: Bool?
    /// The contractivity along the first ≤ 512 steps of the rollout (`nil` in older reports).
    public var contractivity: Contractivity?
    /// The parallel method `.automatic` picks from ``contractivity`` once its cost model
    /// predicts a parallel win (newton, elk, or sequential when λ ≥ 0) — what it would run on a
    /// machine with enough cores for this case; `nil` in older reports.
    public var parallelChoice: SolverMethod?

    /// The last attempt's outcome.
    public var outcome: String { failure ?? attempts.last?.outcome ?? "no attempt" }
}

/// Where and when a report was produced.
public struct MachineInfo: Codable, Equatable, Sendable {
    public var cores: Int
    public var threads: Int
    public var date: String
    public var os: String
    public var buildConfiguration: String

    public static func current(threads: Int) -> MachineInfo {
        let formatter = ISO8601DateFormatter()
        #if DEBUG
            let build = "debug"
        #else
            let build = "release"
        #endif
        return MachineInfo(
            cores: WorkerPool.activeProcessorCount, threads: threads,
            date: formatter.string(from: Date()),
            os: ProcessInfo.processInfo.operatingSystemVersionString, buildConfiguration: build)
    }
}

/// A harness run: the grid, the machine, and every case.
public struct HarnessReport: Codable, Equatable, Sendable {
    public var formatVersion: Int
    public var config: GridConfig
    public var machine: MachineInfo
    /// The precisions present in the grid ("float", "double").
    public var precisions: [HarnessPrecision]
    public var cases: [CaseResult]
    /// Total wall time of the run, seconds.
    public var totalSeconds: Double

    public init(
        config: GridConfig, machine: MachineInfo, cases: [CaseResult], totalSeconds: Double
    ) {
        formatVersion = 1
        self.config = config
        self.machine = machine
        precisions = config.precisions
        self.cases = cases
        self.totalSeconds = totalSeconds
    }

    /// JSON with sorted keys; non-finite numbers are written as the strings "inf", "-inf", "nan".
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }

    public static func decode(_ data: Data) throws -> HarnessReport {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(HarnessReport.self, from: data)
    }

    /// Reads a report, with a readable error.
    public static func load(path: String) throws(HarnessError) -> HarnessReport {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HarnessError("cannot read report '\(path)'")
        }
        do { return try decode(data) } catch {
            throw HarnessError("'\(path)' is not a harness report: \(describeDecodingError(error))")
        }
    }
}

/// A decoding error in words (key path and reason).
func describeDecodingError(_ error: any Error) -> String {
    guard let error = error as? DecodingError else { return "\(error)" }
    func path(_ context: DecodingError.Context) -> String {
        let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
        return keys.isEmpty ? "top level" : keys.joined(separator: ".")
    }
    switch error {
    case .keyNotFound(let key, let context):
        return "missing key '\(key.stringValue)' at \(path(context))"
    case .typeMismatch(_, let context), .valueNotFound(_, let context):
        return "\(context.debugDescription) at \(path(context))"
    case .dataCorrupted(let context):
        return "\(context.debugDescription) at \(path(context))"
    @unknown default:
        return "\(error)"
    }
}
