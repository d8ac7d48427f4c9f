import Foundation
import Testing

/// `pararnn harness --results/--resume/--shard/--merge` end to end (issue 26).
@Suite("harness: kill, resume, shards, merge")
struct HarnessResumeTests {
    static let grid = #"""
        {"name": "resume-test", "cells": ["paragru", "elman"], "methods": ["newton", "quasi-newton", "damped"],
         "steps": [600], "hiddenSizes": [4], "batchSizes": [1], "weightScales": [0.5, 1, 2], "seeds": [1, 2]}
        """#
    static let caseCount = 36

    /// The cases of a JSON report without wall times, comparable across runs.
    func cases(_ ws: Workspace, _ name: String) throws -> [NSDictionary] {
        let data = try Data(contentsOf: ws.path(name))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cases = try #require(report["cases"] as? [[String: Any]])
        return cases.map { c in
            var c = c
            for key in ["parallelSeconds", "sequentialSeconds", "speedup", "concurrent"] { c[key] = nil }
            return c as NSDictionary
        }
    }

    func lineCount(_ ws: Workspace, _ name: String) -> Int {
        guard let data = FileManager.default.contents(atPath: ws.path(name).path) else { return 0 }
        return data.filter { $0 == 0x0A }.count
    }

    @Test("a run killed mid-grid, resumed, equals the uninterrupted run; shards merged equal the whole")
    func killResumeShardMerge() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        ws.writeBytes("grid.json", Data(Self.grid.utf8))
        let whole = try ws.run(["harness", "--config", "grid.json", "--output", "whole.json", "--markdown", "whole.md"])
        #expect(whole.status == 0, "\(whole.stderr)")
        let reference = try cases(ws, "whole.json")
        #expect(reference.count == Self.caseCount)

        // Kill a run after a few cases (same scheduling as the reference: the wall times aside,
        // a case's record depends only on the thread count it was solved with).
        let process = Process()
        process.executableURL = pararnnExecutable
        process.arguments = ["harness", "--config", "grid.json", "--results", "run.jsonl", "--output", "never.json"]
        process.currentDirectoryURL = ws.url
        var environment = ProcessInfo.processInfo.environment
        environment["PARARNN_THREADS"] = "2"
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while lineCount(ws, "run.jsonl") < 4, process.isRunning, Date() < deadline { usleep(2_000) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let killedAt = lineCount(ws, "run.jsonl") - 1
        #expect(killedAt >= 3 && killedAt < Self.caseCount, "killed after \(killedAt) cases")
        #expect(!ws.exists("never.json"))

        // Without --resume the file is kept; with it the run completes (grid from the file).
        let refused = try ws.run(["harness", "--config", "grid.json", "--results", "run.jsonl"])
        #expect(refused.status == 1 && refused.stderr.contains("--resume"), "\(refused.stderr)")
        let resumed = try ws.run([
            "harness", "--resume", "run.jsonl", "--output", "resumed.json", "--markdown", "resumed.md",
        ])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("already done"), "\(resumed.stderr)")
        #expect(try cases(ws, "resumed.json") == reference)
        #expect(lineCount(ws, "run.jsonl") == 1 + Self.caseCount)

        // Shards, then merge.
        for i in 1...3 {
            let r = try ws.run(["harness", "--config", "grid.json", "--shard", "\(i)/3", "--results", "s\(i).jsonl"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(lineCount(ws, "s\(i).jsonl") == 1 + Self.caseCount / 3)
        }
        let merged = try ws.run(["harness", "--merge", "s3.jsonl", "s1.jsonl", "s2.jsonl", "--output", "merged.json"])
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(try cases(ws, "merged.json") == reference)

        // One-line errors.
        for (arguments, text) in [
            (["--shard", "4/3"], "bad shard"), (["--shard", "x"], "bad shard"),
            (["--merge", "nope.jsonl"], "cannot read results file 'nope.jsonl'"),
            (["--merge", "grid.json"], "line 1"),
        ] {
            let r = try ws.run(
                (arguments[0] == "--merge" ? ["harness"] : ["harness", "--config", "grid.json"]) + arguments)
            #expect(r.status != 0 && r.stderr.contains(text), "\(arguments): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        }
    }
}
