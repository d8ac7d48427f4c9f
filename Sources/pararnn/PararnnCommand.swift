import ArgumentParser
import Foundation
import PerformanceSuite

/// `pararnn`: the command-line front end. Subcommands live one per file (`Solve.swift`; later
/// `fit`, `harness`, `bench`).
@main
struct PararnnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pararnn",
        abstract: "Parallel-in-time evaluation of nonlinear RNNs (ParaGRU, ParaLSTM, GRU, LSTM, Elman) on multicore CPUs.",
        discussion: """
            Exit codes: 0 success; 1 usage or input error (one line on stderr naming the file \
            and the problem; no output file is created); 2 the solve did not converge.
            Threads default to PARARNN_THREADS or the number of active cores.
            """,
        subcommands: [Solve.self, Fit.self, Harness.self, Bench.self])

    /// Like ArgumentParser's `main()`, but usage errors exit with 1 (not 64), so that every
    /// usage or input error has the same exit code.
    static func main() {
        MemoryPolicy.retainFreedMemory()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                Foundation.exit(0)
            }
            if !message.isEmpty { Console.error(message) }
            Foundation.exit(code == .validationFailure ? 1 : code.rawValue)
        }
    }
}

/// Writing to stdout/stderr.
enum Console {
    /// One line (or more) on stderr.
    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }

    /// Raw text on stderr (progress lines).
    static func raw(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// Whether stderr is a terminal.
    static var stderrIsTTY: Bool { isatty(2) != 0 }
}
