import ArgumentParser
import Foundation
import PerformanceSuite
import SequenceIO

/// `pararnn`: the command-line front end. Subcommands live one per file (`Solve.swift`; later
/// `fit`, `harness`, `bench`).
@main
struct PararnnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pararnn",
        abstract:
            "Parallel-in-time evaluation of nonlinear RNNs (ParaGRU, ParaLSTM, GRU, LSTM, Elman) on multicore CPUs.",
        discussion: """
            Exit codes: 0 success; 1 usage or input error (one line on stderr naming the file \
            and the problem; no output file is created); 2 the solve did not converge, a hidden \
            state is not finite (overflow), or --verify found a mismatch.
            Threads default to PARARNN_THREADS or the number of active cores.
            """,
        version: PararnnVersion.current,
        subcommands: [Solve.self, Fit.self, Harness.self, Bench.self])

    /// Like ArgumentParser's `main()`, but usage errors exit with 1 (not 64), so that every
    /// usage or input error has the same exit code.
    static func main() {
        ThreadingPolicy.keepBLASSingleThreaded()
        MemoryPolicy.retainFreedMemory()
        StartupWarmup.start(arguments: CommandLine.arguments)
        do {
            var command = try parseAsRoot()
            if let problem = threadsVariableProblem() {
                Console.error("error: \(problem)")
                Foundation.exit(1)
            }
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                let message = fullMessage(for: error)
                if !message.isEmpty { print(message) }
                Foundation.exit(0)
            }
            if code == .validationFailure {
                // A usage error: one line, the problem and where to look (not the whole usage).
                let message = self.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid usage"
                Console.error("error: \(escapingControlCharacters(message)) (see pararnn --help)")
                Foundation.exit(1)
            }
            let message = fullMessage(for: error)
            if !message.isEmpty { Console.error(message) }
            Foundation.exit(code.rawValue)
        }
    }

    /// Why `PARARNN_THREADS` cannot be used, if it is set to something other than a positive
    /// integer (an empty value counts as unset).
    static func threadsVariableProblem() -> String? {
        guard let text = ProcessInfo.processInfo.environment["PARARNN_THREADS"], !text.isEmpty else { return nil }
        if let n = Int(text.trimmingCharacters(in: .whitespaces)), n >= 1 { return nil }
        return "PARARNN_THREADS must be a positive integer (got '\(escapingControlCharacters(text))')"
    }
}

/// pararnn parallelises over its own worker pool and calls BLAS from inside workers, so
/// OpenBLAS must not run a thread pool of its own: idle OpenBLAS threads spin on the cores the
/// workers need (measured on a 16-core VM: 2.1 cores busy during a 1-thread solve; 2-thread
/// Newton 143 → 113 ms without them). OpenBLAS sizes its pool from OPENBLAS_NUM_THREADS when it
/// is loaded; it is opened with dlopen on the first BLAS call (`Sources/CBLAS/shim.h`), so
/// setting the variable here, first thing in `main`, is enough (it used to be linked and read
/// the variable before `main`, which cost a re-execution of the process). A value the user set
/// is kept.
enum ThreadingPolicy {
    static func keepBLASSingleThreaded() {
        setenv("OPENBLAS_NUM_THREADS", "1", 0)
    }
}

/// Writing to stdout/stderr.
enum Console {
    /// One line (or more) on stderr. Messages made of file contents or names go through
    /// ``escapingControlCharacters(_:)`` first (see ``failure(_:)``).
    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }

    /// One line on stderr with control characters escaped (an error message).
    static func failure(_ text: String) {
        error(escapingControlCharacters(text))
    }

    /// Raw text on stderr (progress lines).
    static func raw(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// Whether stderr is a terminal.
    static var stderrIsTTY: Bool { isatty(2) != 0 }
}
