import ConvergenceHarness
import Foundation
import ParaRNN
import ParallelScan
import Testing

/// A small grid (16 cases, debug-cheap) with converging and failing cases.
let smallGrid = GridConfig(
    name: "small-lines", cells: [.paragru, .elman], methods: [.newton, .quasiNewton],
    steps: [48, 160], hiddenSizes: [3], batchSizes: [1], weightScales: [0.5, 3], seeds: [5])

/// A case without its wall times (the only fields that may differ between two runs).
func withoutTimes(_ c: CaseResult) -> CaseResult {
    var c = c
    c.parallelSeconds = 0
    c.sequentialSeconds = 0
    c.speedup = 0
    c.concurrent = nil
    return c
}

/// The Markdown summary without wall times.
func summaryWithoutTimes(_ report: HarnessReport) -> String {
    var r = report
    r.cases = r.cases.map(withoutTimes)
    r.totalSeconds = 0
    r.machine.date = ""
    return r.markdown()
}

/// The uninterrupted run of `smallGrid` (2 cases at a time, as by default), run once.
let smallReport: HarnessReport = {
    do {
        return try HarnessRunner(config: smallGrid, pool: WorkerPool(threadCount: 2, choice: .allThreads)).run()
    } catch {
        fatalError("small grid failed: \(error)")
    }
}()

func temporaryFile(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("harness-\(UUID().uuidString)-\(name)").path
}

/// An error that stops a run after `limit` cases, like a kill between two cases.
final class Interrupt: @unchecked Sendable {
    let lock = NSLock()
    var count = 0
    let limit: Int
    init(after limit: Int) { self.limit = limit }
    func check() throws(HarnessError) {
        lock.lock()
        defer { lock.unlock() }
        count += 1
        if count > limit { throw HarnessError("interrupted") }
    }
}

@Suite struct ResultsLogTests {
    let pool = WorkerPool(threadCount: 2, choice: .allThreads)

    /// The uninterrupted run of `smallGrid`, the reference of the tests below.
    func reference() throws -> HarnessReport { smallReport }

    @Test func interruptedRunResumesToTheSameSummary() throws {
        let whole = try reference()
        let path = temporaryFile("resume.jsonl")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let machine = MachineInfo.current(threads: 2)
        // First run: stopped after 5 cases; then a torn line, as a kill in the middle of a write.
        let first = try ResultsLog.open(path: path, config: smallGrid, shard: nil, machine: machine, resume: false)
        let stop = Interrupt(after: 5)
        #expect(throws: HarnessError("interrupted")) {
            _ = try HarnessRunner(config: smallGrid, pool: pool).run(
                shard: nil, resuming: [],
                onResult: { (r: CaseResult) throws(HarnessError) in
                    try stop.check()
                    try first.append(r)
                })
        }
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"key":{"cell":"paragru","meth"#.utf8))
        try handle.close()
        let partial = try ResultsLog.read(path: path)
        #expect(partial.cases.count == 5)
        // Without --resume the file is not overwritten.
        #expect(throws: HarnessError.self) {
            try ResultsLog.open(path: path, config: smallGrid, shard: nil, machine: machine, resume: false)
        }
        // A different grid is refused.
        var other = smallGrid
        other.seeds = [6]
        #expect(throws: HarnessError.self) {
            try ResultsLog.open(path: path, config: other, shard: nil, machine: machine, resume: true)
        }
        // Resume: only the missing cases run; the summary from the lines equals the whole run's.
        let log = try ResultsLog.open(path: path, config: smallGrid, shard: nil, machine: machine, resume: true)
        #expect(log.previous.count == 5)
        let ran = Interrupt(after: .max)
        let resumed = try HarnessRunner(config: smallGrid, pool: pool).run(
            shard: nil, resuming: log.previous,
            onResult: { (r: CaseResult) throws(HarnessError) in
                try ran.check()
                try log.append(r)
            })
        #expect(ran.count == whole.cases.count - 5)
        let (fromLines, missing) = try HarnessReport.merge(paths: [path])
        #expect(missing.isEmpty)
        #expect(fromLines.cases.map(withoutTimes) == whole.cases.map(withoutTimes))
        #expect(resumed.cases.map(withoutTimes) == whole.cases.map(withoutTimes))
        #expect(summaryWithoutTimes(fromLines) == summaryWithoutTimes(whole))
        // One header and one line per case: the torn line is gone.
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1 + whole.cases.count)
    }

    @Test func shardsMergedEqualTheWhole() throws {
        let whole = try reference()
        let n = 3
        var paths: [String] = []
        defer { for p in paths { try? FileManager.default.removeItem(atPath: p) } }
        var seen = Set<CaseKey>()
        for i in 1...n {
            let shard = try HarnessShard(index: i, count: n)
            let path = temporaryFile("shard\(i).jsonl")
            paths.append(path)
            let log = try ResultsLog.open(
                path: path, config: smallGrid, shard: shard, machine: .current(threads: 2), resume: false)
            let part = try HarnessRunner(config: smallGrid, pool: pool).run(
                shard: shard, resuming: [], onResult: { (r: CaseResult) throws(HarnessError) in try log.append(r) })
            #expect(part.cases.count == shard.select(smallGrid.cases).count)
            #expect(seen.isDisjoint(with: part.cases.map(\.key)))
            seen.formUnion(part.cases.map(\.key))
        }
        #expect(seen == Set(smallGrid.cases))
        let (merged, missing) = try HarnessReport.merge(paths: paths.reversed())
        #expect(missing.isEmpty)
        #expect(merged.cases.map(withoutTimes) == whole.cases.map(withoutTimes))
        #expect(summaryWithoutTimes(merged) == summaryWithoutTimes(whole))
        // Two shards only: the third's cases are reported missing.
        let (some, absent) = try HarnessReport.merge(paths: Array(paths.prefix(2)))
        #expect(absent == (try HarnessShard(index: 3, count: n)).select(smallGrid.cases))
        #expect(some.cases.count + absent.count == smallGrid.cases.count)
    }

    @Test func badShardsAndCorruptFilesAreOneLineErrors() throws {
        for text in ["0/3", "4/3", "1/0", "a/b", "1", "1/2/3", ""] {
            #expect(throws: HarnessError.self) { try HarnessShard(parsing: text) }
        }
        #expect(try HarnessShard(parsing: "2/5") == HarnessShard(index: 2, count: 5))
        let path = temporaryFile("corrupt.jsonl")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let log = try ResultsLog.open(
            path: path, config: smallGrid, shard: nil, machine: .current(threads: 1), resume: false)
        let one = HarnessRunner(config: smallGrid, pool: .serial).run(smallGrid.cases[0])
        try log.append(one)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("not json\n".utf8))
        try handle.close()
        do {
            _ = try ResultsLog.read(path: path)
            Issue.record("a corrupt line was accepted")
        } catch {
            #expect(error.description.contains("line 3"), "\(error)")
            #expect(!error.description.contains("\n"))
        }
        #expect(throws: HarnessError.self) { try ResultsLog.read(path: "/nonexistent/results.jsonl") }
        try Data("{}\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: HarnessError.self) { try ResultsLog.read(path: path) }
        #expect(throws: HarnessError.self) { try HarnessReport.merge(paths: []) }
    }
}

@Suite struct ConcurrencyTests {
    @Test func concurrentCasesMatchOneAtATime() throws {
        // One thread per case, two cases at once vs one case at a time on one thread: the
        // same results (the solver's plans depend only on sizes and thread counts).
        let concurrent = smallReport
        let serial = try HarnessRunner(config: smallGrid, pool: .serial, jobs: 1).run()
        #expect(concurrent.cases.allSatisfy { $0.concurrent == true && $0.threads == 1 })
        #expect(serial.cases.allSatisfy { $0.concurrent == false && $0.threads == 1 })
        // `.automatic` is asked on the runner's pool (2 threads vs 1), everything else is equal.
        func comparable(_ c: CaseResult) -> CaseResult {
            var c = withoutTimes(c)
            c.automaticReason = ""
            return c
        }
        #expect(concurrent.cases.map(comparable) == serial.cases.map(comparable))
        #expect(concurrent.cases.map(\.key) == smallGrid.cases)
        #expect(concurrent.markdown().contains("16 of the 16 cases ran beside other cases"))
        #expect(!serial.markdown().contains("ran beside other cases"))
    }

    @Test func concurrentQuickMatchesTwoThreadsOneAtATime() throws {
        // `quickReport` ran cases concurrently on 1 thread each; a sixth of `quick` run one
        // at a time on 2 threads (as before concurrency) converges identically.
        let shard = try HarnessShard(index: 1, count: 6)
        let alone = try HarnessRunner(
            config: HarnessPreset.quick, pool: WorkerPool(threadCount: 2, choice: .allThreads), jobs: 1
        )
        .run(shard: shard, resuming: [], onResult: nil)
        #expect(alone.cases.count == 10)
        for c in alone.cases {
            let other = try #require(quickReport.cases.first { $0.key == c.key })
            #expect(c.threads == 2 && c.concurrent == false)
            #expect(other.converged == c.converged && other.iterations == c.iterations, "\(c.key)")
            #expect(other.automaticMethod == c.automaticMethod)
        }
    }

    @Test func progressShowsThroughputAndETA() {
        let lines = ProgressTests.Lines()
        let bar = ProgressBar(total: 10, alreadyDone: 4, interactive: false) { lines.append($0) }
        bar.update(done: 5, label: "x")
        #expect(lines.text.contains("5/10 cases (50 %)"))
        #expect(lines.text.contains("cases/s, ETA "))
        #expect(ProgressBar.duration(42) == "42 s")
        #expect(ProgressBar.duration(725) == "12 min 5 s")
        #expect(ProgressBar.duration(12_000) == "3 h 20 min")
    }
}
