import ArgumentParser
import Foundation
import ParaRNN

/// The compute precision.
enum Precision: String, CaseIterable, ExpressibleByArgument {
    case float, double
}

/// `--method` values (``SolverMethod``'s raw values).
enum MethodOption: String, CaseIterable, ExpressibleByArgument {
    case automatic, sequential, newton
    case quasiNewton = "quasi-newton"
    case damped, elk

    /// The solver method of the same name.
    var method: SolverMethod {
        switch self {
        case .automatic: .automatic
        case .sequential: .sequential
        case .newton: .newton
        case .quasiNewton: .quasiNewton
        case .damped: .damped
        case .elk: .elk
        }
    }
}

/// `--threads n`, shared by `solve`, `fit` and `harness`: the worker threads (`nil`: the
/// default pool, `PARARNN_THREADS` or the active cores).
///
///     @OptionGroup var threading: ThreadsOption
///     let pool = WorkerPool(threadCount: threading.threads)
struct ThreadsOption: ParsableArguments {
    static let help = ArgumentHelp("Worker threads (default: PARARNN_THREADS or the active cores).", valueName: "n")

    @Option(name: .long, help: help)
    var threads: Int?

    func validate() throws { try Self.validate(threads) }

    /// The check of a `--threads` value (also `solve`'s, which declares the option itself).
    static func validate(_ threads: Int?) throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1 (got \(threads))") }
    }
}

/// `--precision float|double`, shared by `solve` and `fit`.
struct PrecisionOption: ParsableArguments {
    static let help = ArgumentHelp(
        "Compute precision: float or double. Weights and inputs are converted.", valueName: "p")

    @Option(name: .long, help: help)
    var precision: Precision = .float
}

/// `--method`, shared by `solve` and `fit` (the solver of the forward passes).
struct MethodOptionGroup: ParsableArguments {
    static let help = ArgumentHelp(
        "The solver. 'automatic' picks sequential or a parallel method from T, batch, state size and threads, then (if parallel) Newton, ELK or sequential from the contractivity along the first steps, and says why. 'elk': damped Newton as a Kalman filter, for recurrences that expand in places.",
        valueName: "method")

    @Option(name: .long, help: help)
    var method: MethodOption = .automatic
}

/// `--tolerance` and `--max-iterations`: when a Newton attempt is certified and how long it may
/// run.
struct ConvergenceOptions: ParsableArguments {
    static let toleranceHelp = ArgumentHelp(
        "Residual tolerance (default: 1e-5 for float, 1e-10 for double).", valueName: "x")
    static let maxIterationsHelp = ArgumentHelp(
        "Newton iterations per attempt (default: min(T + 1, 100)).", valueName: "n")

    @Option(name: .long, help: toleranceHelp)
    var tolerance: Double?

    @Option(name: .long, help: maxIterationsHelp)
    var maxIterations: Int?

    func validate() throws { try Self.validate(tolerance: tolerance, maxIterations: maxIterations) }

    /// The checks of `--tolerance` and `--max-iterations` values (also `solve`'s, which
    /// declares the options itself).
    static func validate(tolerance: Double?, maxIterations: Int?) throws {
        if let tolerance, !(tolerance > 0 && tolerance.isFinite) {
            throw ValidationError("--tolerance must be a positive number (got \(tolerance))")
        }
        if let maxIterations, maxIterations < 1 {
            throw ValidationError("--max-iterations must be at least 1 (got \(maxIterations))")
        }
    }
}

/// A comma-separated list of values of an ``ExpressibleByArgument`` type (`--groups scan,newton`,
/// `--threads 1,2,4`): an unknown element is refused with a message naming it and, for
/// `CaseIterable` types, the valid values.
///
///     @Option(transform: CommaList<BenchGroup>.parse) var groups: [BenchGroup] = []
enum CommaList<Element: ExpressibleByArgument> {
    static func parse(_ text: String, what: String, valid: String) throws -> [Element] {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        var out: [Element] = []
        for part in parts {
            guard let value = Element(argument: part) else {
                throw ValidationError("unknown \(what) '\(part)': use \(valid)")
            }
            out.append(value)
        }
        return out
    }
}

extension CommaList where Element: CaseIterable & RawRepresentable, Element.RawValue == String {
    /// Parses `text`, listing the valid values (sorted) if an element is unknown.
    static func parse(_ text: String, what: String) throws -> [Element] {
        try parse(text, what: what, valid: Element.allCases.map(\.rawValue).sorted().joined(separator: ", "))
    }
}
