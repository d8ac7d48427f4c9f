import Foundation

/// A deterministic subset of a grid: shard `index` of `count` (1-based) holds the cases whose
/// position in ``GridConfig/cases`` is `index − 1` modulo `count`, so the shards are disjoint,
/// cover the grid, and each mixes cheap and expensive cases.
///
///     let shard = try HarnessShard(parsing: "2/4")
///     let mine = shard.select(HarnessPreset.full.cases)  // 2 880 of 11 520 cases
public struct HarnessShard: Codable, Equatable, Sendable, CustomStringConvertible {
    /// 1-based shard number.
    public var index: Int
    /// The number of shards.
    public var count: Int

    public init(index: Int, count: Int) throws(HarnessError) {
        guard count >= 1, (1...count).contains(index) else {
            throw HarnessError("bad shard \(index)/\(count): expected i/n with 1 ≤ i ≤ n")
        }
        self.index = index
        self.count = count
    }

    /// Parses `"i/n"` (e.g. `"1/3"`).
    public init(parsing text: String) throws(HarnessError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0].trimmingCharacters(in: .whitespaces)),
            let n = Int(parts[1].trimmingCharacters(in: .whitespaces))
        else {
            throw HarnessError("bad shard '\(text)': expected i/n with 1 ≤ i ≤ n, e.g. 1/4")
        }
        try self.init(index: i, count: n)
    }

    /// The cases of this shard, in grid order.
    public func select(_ cases: [CaseKey]) -> [CaseKey] {
        cases.enumerated().filter { $0.offset % count == index - 1 }.map(\.element)
    }

    public var description: String { "\(index)/\(count)" }
}

/// The first line of a results file: what grid (and shard) its cases belong to.
public struct ResultsHeader: Codable, Equatable, Sendable {
    /// Always `"pararnn-harness-results"`.
    public var format: String
    public var version: Int
    public var config: GridConfig
    /// `nil`: the whole grid.
    public var shard: HarnessShard?
    public var machine: MachineInfo

    public init(config: GridConfig, shard: HarnessShard?, machine: MachineInfo) {
        format = ResultsLog.format
        version = 1
        self.config = config
        self.shard = shard
        self.machine = machine
    }
}

/// An append-only JSON-lines results file: a ``ResultsHeader`` line, then one ``CaseResult``
/// per line, appended (one `write`) as each case finishes. A run killed at any point loses at
/// most the cases in flight; a torn last line (no final newline) is dropped on reading.
///
///     let log = try ResultsLog.open(path: "full.jsonl", config: grid, shard: nil,
///                                   machine: .current(threads: 2), resume: true)
///     let report = try HarnessRunner(config: grid).run(resuming: log.previous) { log.append($0) }
public final class ResultsLog: @unchecked Sendable {
    public static let format = "pararnn-harness-results"

    /// The file's path.
    public let path: String
    /// The cases already in the file when it was opened (resume).
    public let previous: [CaseResult]
    let handle: FileHandle
    let lock = NSLock()

    init(path: String, previous: [CaseResult], handle: FileHandle) {
        self.path = path
        self.previous = previous
        self.handle = handle
    }

    deinit { try? handle.close() }

    /// Opens `path` for appending. With `resume` and an existing file, its header must describe
    /// the same grid and shard, and its cases are returned in ``previous``; otherwise the file
    /// must not exist yet (so that no results are overwritten) and is created with a header.
    public static func open(
        path: String, config: GridConfig, shard: HarnessShard?, machine: MachineInfo,
        resume: Bool
    ) throws(HarnessError) -> ResultsLog {
        let exists = FileManager.default.fileExists(atPath: path)
        if exists && !resume {
            throw HarnessError("results file '\(path)' already exists; pass --resume \(path) to continue it")
        }
        var previous: [CaseResult] = []
        var keep: UInt64 = 0
        if exists {
            let contents = try read(path: path)
            if contents.header.config != config {
                throw HarnessError(
                    "'\(path)' holds results of grid '\(contents.header.config.name)', which differs from the grid of this run ('\(config.name)')"
                )
            }
            if contents.header.shard != shard {
                throw HarnessError(
                    "'\(path)' holds shard \(contents.header.shard.map(\.description) ?? "all"), not \(shard.map(\.description) ?? "all")"
                )
            }
            previous = contents.cases
            keep = contents.validBytes
        } else if !FileManager.default.createFile(atPath: path, contents: nil) {
            throw HarnessError("cannot create results file '\(path)'")
        }
        guard let handle = FileHandle(forUpdatingAtPath: path) else {
            throw HarnessError("cannot open results file '\(path)' for writing")
        }
        let log = ResultsLog(path: path, previous: previous, handle: handle)
        do {
            // Drop a torn last line, then append after the last complete one.
            try handle.truncate(atOffset: keep)
            try handle.seekToEnd()
        } catch {
            throw HarnessError("cannot write results file '\(path)': \(error.localizedDescription)")
        }
        if !exists {
            try log.writeLine(ResultsHeader(config: config, shard: shard, machine: machine))
        }
        return log
    }

    /// Appends one case (thread-safe; written with one `write` call).
    public func append(_ result: CaseResult) throws(HarnessError) {
        try writeLine(result)
    }

    func writeLine<T: Encodable>(_ value: T) throws(HarnessError) {
        do {
            var data = try ResultsLog.encoder.encode(value)
            data.append(0x0A)
            lock.lock()
            defer { lock.unlock() }
            try handle.write(contentsOf: data)
        } catch {
            throw HarnessError("cannot write results file '\(path)': \(error.localizedDescription)")
        }
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    /// A results file's header and cases (a later line for the same case replaces an earlier
    /// one), and how many bytes of it are complete lines.
    public struct Contents: Sendable {
        public var header: ResultsHeader
        public var cases: [CaseResult]
        public var validBytes: UInt64
    }

    /// Reads a results file; errors name the file and line.
    public static func read(path: String) throws(HarnessError) -> Contents {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HarnessError("cannot read results file '\(path)'")
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var header: ResultsHeader?
        var cases: [CaseResult] = []
        var index: [CaseKey: Int] = [:]
        var start = data.startIndex
        var line = 0
        while start < data.endIndex {
            guard let end = data[start...].firstIndex(of: 0x0A) else { break }  // torn last line
            line += 1
            let text = data[start..<end]
            start = end + 1
            if text.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) { continue }
            do {
                if header == nil {
                    let h = try decoder.decode(ResultsHeader.self, from: text)
                    if h.format != format { throw HarnessError("format '\(h.format)'") }
                    header = h
                } else {
                    let result = try decoder.decode(CaseResult.self, from: text)
                    if let i = index[result.key] {
                        cases[i] = result
                    } else {
                        index[result.key] = cases.count
                        cases.append(result)
                    }
                }
            } catch {
                throw HarnessError(
                    "'\(path)' line \(line) is not a harness \(header == nil ? "results header" : "case result"): \(describeDecodingError(error))"
                )
            }
        }
        guard let header else {
            throw HarnessError("'\(path)' is not a harness results file: no header line")
        }
        return Contents(header: header, cases: cases, validBytes: UInt64(start - data.startIndex))
    }
}

extension HarnessReport {
    /// A report built from results files (a run's, a resumed run's, or several shards'): their
    /// headers must name the same grid; the cases are put in grid order, duplicates keep the
    /// last one read. `missing` lists the grid's cases no file holds. `totalSeconds` is the sum
    /// of the cases' solve times (the runs' wall times are not recorded in the files).
    ///
    ///     let (report, missing) = try HarnessReport.merge(paths: ["a.jsonl", "b.jsonl"])
    public static func merge(paths: [String]) throws(HarnessError) -> (
        report: HarnessReport, missing: [CaseKey]
    ) {
        guard let first = paths.first else { throw HarnessError("nothing to merge: no results files given") }
        var config: GridConfig?
        var machine: MachineInfo?
        var byKey: [CaseKey: CaseResult] = [:]
        for path in paths {
            let contents = try ResultsLog.read(path: path)
            if let config, contents.header.config != config {
                throw HarnessError(
                    "cannot merge '\(path)' (grid '\(contents.header.config.name)') with '\(first)' (grid '\(config.name)'): the grids differ"
                )
            }
            config = contents.header.config
            machine = machine ?? contents.header.machine
            for c in contents.cases { byKey[c.key] = c }
        }
        let grid = config!
        let order = grid.cases
        let cases = order.compactMap { byKey[$0] }
        let missing = order.filter { byKey[$0] == nil }
        let report = HarnessReport(
            config: grid, machine: machine!, cases: cases,
            totalSeconds: cases.reduce(0) { $0 + $1.parallelSeconds + $1.sequentialSeconds })
        return (report, missing)
    }
}
