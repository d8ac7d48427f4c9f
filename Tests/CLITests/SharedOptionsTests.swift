import Foundation
import Testing

/// The options `solve`, `fit`, `harness` and `bench` share are declared once (option groups and
/// typed enums): the same value is refused the same way by every command, with one line that
/// names the option and, for a list of names, the valid ones.
@Suite("pararnn: shared options and typed lists")
struct SharedOptionsTests {
    @Test("--threads 0 is refused alike by solve, fit and harness")
    func threads() throws {
        let w = Workspace()
        defer { w.cleanup() }
        for command in [["solve", "--model", "m.safetensors", "--input", "x.npy"], ["fit"], ["harness"]] {
            let r = try w.run(command + ["--threads", "0"])
            #expect(r.status == 1, "\(command)")
            #expect(r.stderr.contains("--threads must be at least 1 (got 0)"), "\(command): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1)
        }
    }

    @Test("unknown bench groups, bench presets and harness presets list the valid values")
    func unknownNames() throws {
        let w = Workspace()
        defer { w.cleanup() }
        let group = try w.run(["bench", "--groups", "scan,nonsense"])
        #expect(group.status == 1)
        #expect(
            group.stderr.contains(
                "unknown group 'nonsense': use conv, linear, newton, packed, plstm, pool, scan, train, xlstm"))
        let preset = try w.run(["bench", "--preset", "huge"])
        #expect(preset.status == 1)
        #expect(preset.stderr.contains("'quick'") && preset.stderr.contains("'standard'"))
        let grid = try w.run(["harness", "--preset", "tiny"])
        #expect(grid.status == 1)
        #expect(grid.stderr.contains("'quick'") && grid.stderr.contains("'full'") && grid.stderr.contains("'study'"))
        let threads = try w.run(["bench", "--threads", "1,0"])
        #expect(threads.status == 1)
        #expect(threads.stderr.contains("--threads takes a comma-separated list of positive integers"))
    }

    @Test("--version prints the package version and exits 0, at the root and after a subcommand")
    func version() throws {
        let w = Workspace()
        defer { w.cleanup() }
        let root = try w.run(["--version"])
        #expect(root.status == 0, "\(root.stderr)")
        #expect(root.stderr.isEmpty)
        // One line, major.minor.patch.
        let parts = root.stdout.trimmingCharacters(in: .newlines).split(
            separator: ".", omittingEmptySubsequences: false)
        #expect(root.stdout.hasSuffix("\n") && root.stdout.split(separator: "\n").count == 1, "\(root.stdout)")
        #expect(parts.count == 3 && parts.allSatisfy { Int($0) != nil }, "\(root.stdout)")
        // A subcommand takes it too, before its required options are checked.
        let solve = try w.run(["solve", "--version"])
        #expect(solve.status == 0 && solve.stdout == root.stdout, "\(solve.stdout) \(solve.stderr)")
        // The root's help lists it.
        let help = try w.run(["--help"])
        #expect(help.stdout.contains("--version"))
    }
}
