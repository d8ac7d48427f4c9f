import Foundation

/// `mpirun` on PATH (Debian's openmpi-bin), or nil.
let mpirunPath: String? = {
    let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
    for dir in paths + ["/usr/bin"] {
        let candidate = "\(dir)/mpirun"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}()

/// An executable `swift build` made: next to the test bundle, else under the package's
/// `.build` (debug, then release).
func builtExecutable(_ name: String) -> URL? {
    let fm = FileManager.default
    var candidates: [URL] = []
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<4 {
        candidates.append(dir.appendingPathComponent(name))
        dir = dir.deletingLastPathComponent()
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    candidates.append(root.appendingPathComponent(".build/debug/\(name)"))
    candidates.append(root.appendingPathComponent(".build/release/\(name)"))
    return candidates.first { fm.isExecutableFile(atPath: $0.path) }
}

struct MPIRun {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `mpirun --oversubscribe -np ranks executable arguments…` in `directory` (loopback
/// only; root allowed through Open MPI's two environment variables), PARARNN_THREADS=1.
func mpirun(
    ranks: Int, _ executable: URL, _ arguments: [String], in directory: URL? = nil,
    environment extra: [String: String] = [:]
) throws -> MPIRun {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: mpirunPath!)
    // ob1 over shared memory: loopback needs no UCX, whose start-up probing costs ≈ 250 ms a job.
    process.arguments =
        ["--oversubscribe", "--mca", "pml", "ob1", "--mca", "btl", "self,vader", "-np", String(ranks), executable.path]
        + arguments
    var environment = ProcessInfo.processInfo.environment
    environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    environment["PARARNN_THREADS"] = "1"
    for (key, value) in extra { environment[key] = value }
    process.environment = environment
    if let directory { process.currentDirectoryURL = directory }
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("mpirun-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let out = scratch.appendingPathComponent("out")
    let err = scratch.appendingPathComponent("err")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    _ = FileManager.default.createFile(atPath: err.path, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: err)
    try process.run()
    process.waitUntilExit()
    return MPIRun(
        status: process.terminationStatus,
        stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
}
