import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a table (`.csv` / `.tsv`) is turned into a `[T, m]` sequence: which columns are features and
/// what happens to missing cells.
///
/// ```swift
/// let options = try TableOptions(columns: "co2", missing: .interpolate)
/// let table = try CSV.readTable(contentsOf: URL(fileURLWithPath: "co2.csv"), options: options)
/// print(table.tensor.shape, table.notes)   // [T, 1], ["skipped date/time column 1 ('date') ..."]
/// ```
public struct TableOptions: Sendable, Equatable {
    /// What to do with an empty cell (or `NA`, `N/A`) in a chosen column.
    public enum Missing: String, CaseIterable, Sendable {
        /// Stop with an error naming the row and column (the default).
        case error
        /// Drop every row with a missing cell in a chosen column.
        case drop
        /// Carry the last value forward; cells before the first value take the first value.
        case ffill
        /// Linear in the row number between the neighbouring values; cells before the first or after
        /// the last value take that value.
        case interpolate
    }

    /// The chosen columns as written on the command line (`NAME,NAME`, `1,3-5`, or a mix), or `nil`
    /// for every numeric column (date/time columns are then skipped with a note).
    public var columns: String?
    public var missing: Missing
    /// Whether numbers use a decimal comma (`1,5` for 1.5): `true` (`--decimal-comma`; the table
    /// must be separated by `;` or tabs), `false`, or `nil` to detect it: a `;`-separated table
    /// with a cell such as `-1,5` (digits, one comma, digits).
    public var decimalComma: Bool?
    /// Target columns (`fit --targets`), as for ``columns``; read with the features in one pass
    /// (missing cells handled over both) into ``TableRead/targets``. They may overlap the features.
    public var targets: String?

    public init(columns: String? = nil, missing: Missing = .error, decimalComma: Bool? = nil, targets: String? = nil) {
        self.columns = columns
        self.missing = missing
        self.decimalComma = decimalComma
        self.targets = targets
    }

    /// True when nothing differs from reading the whole table strictly.
    public var isDefault: Bool { columns == nil && missing == .error && decimalComma == nil && targets == nil }
}

/// A table read by ``CSV/readTable(contentsOf:options:)``.
public struct TableRead: Sendable {
    /// `[T, m]` float64 values of the chosen columns.
    public var tensor: Tensor
    /// The chosen columns' header names, or `nil` when the file has no header row.
    public var header: [String]?
    /// The chosen columns, 1-based, in the order of the tensor's features.
    public var columns: [Int]
    /// The field separator found: `,`, tab or `;`.
    public var delimiter: Character
    /// What was skipped, dropped or filled, one line each (for the summary on stderr).
    public var notes: [String]
    /// `[T, p]` float64 values of the ``TableOptions/targets`` columns (same rows), or nil.
    public var targets: Tensor?
    /// The target columns' header names (nil without a header or targets).
    public var targetHeader: [String]?
    /// The target columns, 1-based.
    public var targetColumns: [Int] = []
}

extension CSV {
    /// Reads the table at `url` (see ``decodeTable(_:name:options:)``).
    public static func readTable(contentsOf url: URL, options: TableOptions = TableOptions()) throws(SequenceIOError)
        -> TableRead
    {
        try decodeTable(
            try readFileData(url), name: url.lastPathComponent, options: options,
            tabSeparated: url.pathExtension.lowercased() == "tsv")
    }

    /// Decodes a table: one time step per row, one feature per column, with an optional header row
    /// (detected when every cell of the first row is neither a number nor a date).
    ///
    /// The separator is a comma, tab or semicolon, whichever occurs most often in the first row
    /// (tab for `tabSeparated`; a semicolon wins a tie). Numbers may use a decimal comma (`1,5`; see
    /// ``TableOptions/decimalComma``). Fields may be quoted (`"a, b"`, `""` for a quote; a quoted
    /// field stays on one line). Lines whose first non-blank character is `#` are comments.
    /// Date/time columns (`1995-01-01`, `1995-01-01 00:00:00`, `Jan-1-1995`, `1/31/1995`,
    /// `1995Q1`, …) are skipped when `options.columns` is nil, with a note, and a note on their
    /// spacing (``DateSpacing``). Errors name the file, the line (row), the column and the value.
    public static func decodeTable(
        _ data: Data, name: String, options: TableOptions = TableOptions(),
        tabSeparated: Bool = false
    ) throws(SequenceIOError) -> TableRead {
        var bytes = [UInt8](data)
        var start = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        if let nul = bytes.firstIndex(of: 0) {
            let row = bytes[..<nul].reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
            throw .csvParse(file: name, row: row, column: 1, detail: "NUL byte in text")
        }
        bytes.append(0)
        let end = bytes.count - 1
        return try bytes.withUnsafeBufferPointer { (buffer) throws(SequenceIOError) -> TableRead in
            var parser = TableParser(
                buf: buffer, start: start, end: end, name: name, options: options, tabSeparated: tabSeparated)
            return try parser.parse()
        }
    }
}

private struct TableParser {
    typealias Cell = (start: Int, end: Int)
    let buf: UnsafeBufferPointer<UInt8>
    let start: Int
    let end: Int
    let name: String
    let options: TableOptions
    let tabSeparated: Bool
    /// Numbers use a decimal comma (decided in ``parse()``).
    var decimalComma = false

    private static func isBlank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D }
    private static let quote = UInt8(ascii: "\"")

    private var base: UnsafePointer<CChar> { UnsafeRawPointer(buf.baseAddress!).assumingMemoryBound(to: CChar.self) }

    func blankLine(_ line: (Int, Int)) -> Bool { (line.0..<line.1).allSatisfy { Self.isBlank(buf[$0]) } }

    /// Cells of a line as trimmed [start, end) ranges; a quoted cell keeps its quotes.
    func cells(_ line: (Int, Int), row: Int, delimiter: UInt8) throws(SequenceIOError) -> [Cell] {
        var out: [Cell] = []
        var cellStart = line.0
        var inQuotes = false
        var i = line.0
        while true {
            if i == line.1 {
                if inQuotes {
                    throw .csvParse(
                        file: name, row: row, column: out.count + 1, detail: "quoted field is not closed on its line")
                }
            } else if buf[i] == Self.quote {
                inQuotes.toggle()
            }
            if i == line.1 || (!inQuotes && buf[i] == delimiter) {
                var a = cellStart
                var b = i
                while a < b, Self.isBlank(buf[a]) { a += 1 }
                while b > a, Self.isBlank(buf[b - 1]) { b -= 1 }
                out.append((a, b))
                if i == line.1 { return out }
                cellStart = i + 1
            }
            i += 1
        }
    }

    /// The cell's range without surrounding quotes.
    func unquoted(_ cell: Cell) -> Cell {
        if cell.end - cell.start >= 2, buf[cell.start] == Self.quote, buf[cell.end - 1] == Self.quote {
            return (cell.start + 1, cell.end - 1)
        }
        return cell
    }

    func number(_ raw: Cell) -> Double? {
        let cell = unquoted(raw)
        guard cell.0 < cell.1, !Self.isBlank(buf[cell.0]) else { return nil }
        if decimalComma, (cell.0..<cell.1).contains(where: { buf[$0] == UInt8(ascii: ",") }) {
            // strtod on a copy with the comma as a point (no allocation: a stack buffer).
            let n = cell.1 - cell.0
            guard n <= 64 else { return nil }
            return withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { tmp -> Double? in
                for k in 0..<n {
                    let b = buf[cell.0 + k]
                    tmp[k] = CChar(bitPattern: b == UInt8(ascii: ",") ? UInt8(ascii: ".") : b)
                }
                tmp[n] = 0
                var endPtr: UnsafeMutablePointer<CChar>?
                let v = strtod(tmp.baseAddress!, &endPtr)
                return endPtr == tmp.baseAddress! + n ? v : nil
            }
        }
        var endPtr: UnsafeMutablePointer<CChar>?
        let v = strtod(base + cell.0, &endPtr)
        guard let endPtr, endPtr == UnsafeMutablePointer(mutating: base + cell.1) else { return nil }
        return v
    }

    func text(_ raw: Cell) -> String {
        let quoted = unquoted(raw)
        let s = String(decoding: UnsafeBufferPointer(rebasing: buf[quoted.0..<quoted.1]), as: UTF8.self)
        return quoted.0 != raw.0 ? s.replacingOccurrences(of: "\"\"", with: "\"") : s
    }

    func isMissing(_ raw: Cell) -> Bool {
        let cell = unquoted(raw)
        switch cell.1 - cell.0 {
        case 0: return true
        case 2, 3:
            let t = text(cell).uppercased()
            return t == "NA" || t == "N/A"
        default: return false
        }
    }

    /// Whether the cell is `[+-]digits,digits` (a number written with a decimal comma).
    func isDecimalCommaNumber(_ raw: Cell) -> Bool {
        var (a, b) = unquoted(raw)
        if a < b, buf[a] == UInt8(ascii: "-") || buf[a] == UInt8(ascii: "+") { a += 1 }
        guard let comma = (a..<b).first(where: { buf[$0] == UInt8(ascii: ",") }), comma > a, comma + 1 < b else {
            return false
        }
        let digit = { (i: Int) in (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self.buf[i]) }
        return (a..<comma).allSatisfy(digit) && ((comma + 1)..<b).allSatisfy(digit)
    }

    mutating func parse() throws(SequenceIOError) -> TableRead {
        // Lines [start, end) without the newline, with their 1-based line numbers; comments dropped.
        var lines: [(Int, Int, Int)] = []
        var lineStart = start
        var lineNumber = 1
        func add(_ a: Int, _ b: Int) {
            var f = a
            while f < b, Self.isBlank(buf[f]) { f += 1 }
            if f == b || buf[f] != UInt8(ascii: "#") { lines.append((a, b, lineNumber)) }
            lineNumber += 1
        }
        for i in start..<end where buf[i] == 0x0A {
            add(lineStart, i)
            lineStart = i + 1
        }
        if lineStart < end { add(lineStart, end) }
        while let last = lines.last, blankLine((last.0, last.1)) { lines.removeLast() }
        while let first = lines.first, blankLine((first.0, first.1)) { lines.removeFirst() }
        guard !lines.isEmpty else {
            throw .csvParse(file: name, row: 1, column: 1, detail: "file holds no rows")
        }

        // Separator: the most frequent of , \t ; outside quotes in the first row (ties: tab over
        // comma, semicolon over both: commas inside a ';' table are decimal commas).
        let delimiter: UInt8
        if tabSeparated {
            delimiter = 0x09
        } else {
            var counts: [UInt8: Int] = [UInt8(ascii: ","): 0, 0x09: 0, UInt8(ascii: ";"): 0]
            var inQuotes = false
            for i in lines[0].0..<lines[0].1 {
                if buf[i] == Self.quote {
                    inQuotes.toggle()
                } else if !inQuotes, counts[buf[i]] != nil {
                    counts[buf[i]]! += 1
                }
            }
            var best = UInt8(ascii: ",")
            for candidate in [0x09, UInt8(ascii: ";")]
            where counts[candidate]! > counts[best]!
                || candidate == UInt8(ascii: ";") && counts[candidate]! > 0 && counts[candidate]! == counts[best]!
            { best = candidate }
            delimiter = best
        }
        let dates = DateMatcher()

        // Decimal commas: asked for, or detected in a ';'-separated table (first 200 rows).
        var decimalNote: String?
        switch options.decimalComma {
        case true?:
            guard delimiter != UInt8(ascii: ",") else {
                throw .invalidArgument(
                    file: name,
                    detail: "--decimal-comma needs a table separated by ';' or tabs; this one is separated by commas")
            }
            decimalComma = true
        case false?:
            decimalComma = false
        case nil:
            if delimiter == UInt8(ascii: ";") {
                for line in lines.prefix(200) {
                    let lineCells = try cells((line.0, line.1), row: line.2, delimiter: delimiter)
                    if let cell = lineCells.first(where: isDecimalCommaNumber) {
                        decimalComma = true
                        decimalNote =
                            "read numbers with a decimal comma (e.g. '\(text(cell).prefix(20))' = \(text(cell).prefix(20).replacingOccurrences(of: ",", with: "."))), as in a ';'-separated table"
                        break
                    }
                }
            }
        }

        let firstCells = try cells((lines[0].0, lines[0].1), row: lines[0].2, delimiter: delimiter)
        var header: [String]?
        var firstData = 0
        if firstCells.allSatisfy({ number($0) == nil && !dates.matches(text($0)) }) {
            header = firstCells.map(text)
            firstData = 1
        }
        let columns = firstCells.count
        guard lines.count > firstData else {
            throw .csvParse(file: name, row: lines[0].2 + 1, column: 1, detail: "no data rows after the header")
        }
        // Every data row: its cells (ragged rows and blank lines are errors).
        var rows: [[Cell]] = []
        rows.reserveCapacity(lines.count - firstData)
        for r in firstData..<lines.count {
            let rowCells =
                r == 0 ? firstCells : try cells((lines[r].0, lines[r].1), row: lines[r].2, delimiter: delimiter)
            if rowCells.count == 1, rowCells[0].0 == rowCells[0].1, columns > 1 || blankLine((lines[r].0, lines[r].1)) {
                throw .csvParse(file: name, row: lines[r].2, column: 1, detail: "blank line between data rows")
            }
            guard rowCells.count == columns else {
                throw .csvParse(
                    file: name, row: lines[r].2, column: min(rowCells.count, columns) + 1,
                    detail: "row has \(rowCells.count) columns, expected \(columns)")
            }
            rows.append(rowCells)
        }
        func rowNumber(_ i: Int) -> Int { lines[firstData + i].2 }
        func label(_ c: Int) -> String { header.map { "\(c + 1) ('\($0[c])')" } ?? "\(c + 1)" }

        // Date/time columns: every non-missing cell a date (not a number) — or, under a header
        // that names a date ("date", "Date_UTC", "day", "time"), compact dates YYYYMMDD such as
        // statsmodels' co2.csv `19580329`, which would otherwise read as numbers.
        func dateColumn(_ c: Int) -> String? {
            let compactAllowed = header.map { DateSpacing.namesADate($0[c]) } ?? false
            var example: String?
            for row in rows where !isMissing(row[c]) {
                let t = text(row[c])
                if number(row[c]) != nil {
                    guard compactAllowed, DateSpacing.compactDate(t) != nil else { return nil }
                } else {
                    guard dates.matches(t) else { return nil }
                }
                if example == nil { example = t }
            }
            return example
        }

        var notes: [String] = decimalNote.map { [$0] } ?? []
        var chosen: [Int]
        var targetColumns: [Int] = []
        /// Throws for the first of `picked` (chosen with `option`) that holds dates or times.
        func rejectDates(_ picked: [Int], option: String) throws(SequenceIOError) {
            guard let c = picked.first(where: { dateColumn($0) != nil }), let example = dateColumn(c) else { return }
            throw .invalidArgument(
                file: name,
                detail:
                    "column \(label(c)) holds dates/times such as '\(example.prefix(40))', not numbers; leave it out of \(option)"
            )
        }
        if let spec = options.targets {
            targetColumns = try select(spec, header: header, count: columns, option: "--targets")
            try rejectDates(targetColumns, option: "--targets")
        }
        if let spec = options.columns {
            chosen = try select(spec, header: header, count: columns)
            try rejectDates(chosen, option: "--columns")
        } else {
            chosen = []
            var skipped: [String] = []
            for c in 0..<columns {
                if dateColumn(c) != nil { skipped.append(label(c)) } else { chosen.append(c) }
            }
            if !skipped.isEmpty {
                notes.append(
                    "skipped date/time column\(skipped.count == 1 ? "" : "s") \(skipped.joined(separator: ", ")); choose columns with --columns"
                )
                // How regular the skipped dates are (a note; irregular dates are not an error).
                for c in 0..<columns where !chosen.contains(c) {
                    let present = rows.indices.filter { !isMissing(rows[$0][c]) }
                    if let spacing = DateSpacing.describe(
                        present.map { text(rows[$0][c]) }, rows: present.map(rowNumber), column: label(c))
                    {
                        notes.append(spacing)
                    }
                }
                if chosen.isEmpty {
                    throw .invalidArgument(
                        file: name, detail: "every column holds dates/times; no numeric column to read")
                }
            }
        }

        // Values, row-major; the first bad cell is the error. Targets that are not features are
        // read as extra columns after them (and split off at the end).
        let features = chosen.count
        chosen += targetColumns.filter { !chosen.contains($0) }
        let m = chosen.count
        var values = [Double](repeating: 0, count: rows.count * m)
        var missingAt: [Bool] = options.missing == .error ? [] : [Bool](repeating: false, count: rows.count * m)
        var missingCount = 0
        for (r, row) in rows.enumerated() {
            for (j, c) in chosen.enumerated() {
                let cell = row[c]
                if let v = number(cell) {
                    values[r * m + j] = v
                    continue
                }
                let hint = firstData == 0 && r == 0 ? " (a header row must have no numeric cells)" : ""
                if isMissing(cell) {
                    if options.missing != .error {
                        missingAt[r * m + j] = true
                        missingCount += 1
                        continue
                    }
                    let shown = cell.0 == cell.1 ? "empty cell" : "'\(text(cell))' is a missing value"
                    throw .csvParse(
                        file: name, row: rowNumber(r), column: c + 1,
                        detail: shown + (hint.isEmpty ? " (see --missing drop|ffill|interpolate)" : hint))
                }
                // In a column of dates, the cell that is neither says more than the first date.
                if dates.matches(text(cell)),
                    let bad = rows.indices.first(where: {
                        number(rows[$0][c]) == nil && !isMissing(rows[$0][c]) && !dates.matches(text(rows[$0][c]))
                    })
                {
                    throw .csvParse(
                        file: name, row: rowNumber(bad), column: c + 1,
                        detail: "'\(text(rows[bad][c]).prefix(40))' is neither a number nor a date")
                }
                throw .csvParse(
                    file: name, row: rowNumber(r), column: c + 1,
                    detail: "'\(text(cell).prefix(40))' is not a number" + hint)
            }
        }

        var t = rows.count
        if missingCount > 0 {
            for (j, c) in chosen.enumerated() where (0..<t).allSatisfy({ missingAt[$0 * m + j] }) {
                throw .csvParse(
                    file: name, row: rowNumber(0), column: c + 1,
                    detail: "column \(label(c)) has no values, only missing cells")
            }
            switch options.missing {
            case .error:
                break
            case .drop:
                var kept: [Double] = []
                kept.reserveCapacity(values.count)
                var dropped = 0
                for r in 0..<t {
                    if (0..<m).contains(where: { missingAt[r * m + $0] }) {
                        dropped += 1
                        continue
                    }
                    kept += values[(r * m)..<((r + 1) * m)]
                }
                values = kept
                t -= dropped
                notes.append("dropped \(dropped) row\(dropped == 1 ? "" : "s") with missing cells (\(t) left)")
                if t == 0 {
                    throw .csvParse(
                        file: name, row: rowNumber(0), column: 1,
                        detail: "every row has a missing cell; nothing left after --missing drop")
                }
            case .ffill, .interpolate:
                for j in 0..<m {
                    // Observed rows of this column (at least one, checked above).
                    var previous: Int?
                    for r in 0..<t where !missingAt[r * m + j] {
                        let from = previous.map { $0 + 1 } ?? 0
                        for g in from..<r {
                            if let p = previous, options.missing == .interpolate {
                                let a = values[p * m + j]
                                let b = values[r * m + j]
                                values[g * m + j] = a + (b - a) * Double(g - p) / Double(r - p)
                            } else {
                                values[g * m + j] = previous.map { values[$0 * m + j] } ?? values[r * m + j]
                            }
                        }
                        previous = r
                    }
                    if let p = previous {
                        for g in (p + 1)..<max(t, p + 1) { values[g * m + j] = values[p * m + j] }
                    }
                }
                notes.append(
                    "filled \(missingCount) missing cell\(missingCount == 1 ? "" : "s") (--missing \(options.missing.rawValue))"
                )
            }
        }
        var targets: Tensor?
        if options.targets != nil {
            let where_ = targetColumns.map { chosen.firstIndex(of: $0)! }
            var y = [Double](repeating: 0, count: t * where_.count)
            for r in 0..<t { for (o, j) in where_.enumerated() { y[r * where_.count + o] = values[r * m + j] } }
            targets = Tensor(shape: [t, where_.count], storage: .float64(y))
            if m > features {
                var x = [Double](repeating: 0, count: t * features)
                for r in 0..<t { for j in 0..<features { x[r * features + j] = values[r * m + j] } }
                values = x
            }
            chosen.removeLast(m - features)
        }
        return TableRead(
            tensor: Tensor(shape: [t, features], storage: .float64(values)),
            header: header.map { h in chosen.map { h[$0] } },
            columns: chosen.map { $0 + 1 },
            delimiter: delimiter == 0x09 ? "\t" : Character(UnicodeScalar(delimiter)),
            notes: notes, targets: targets,
            targetHeader: options.targets == nil ? nil : header.map { h in targetColumns.map { h[$0] } },
            targetColumns: targetColumns.map { $0 + 1 })
    }

    /// Parses `NAME,NAME`, `1,3-5` or a mix against the header; header names win over numbers.
    func select(_ spec: String, header: [String]?, count: Int, option: String = "--columns") throws(SequenceIOError)
        -> [Int]
    {
        var out: [Int] = []
        let items = spec.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        for item in items {
            guard !item.isEmpty else {
                throw .invalidArgument(file: name, detail: "\(option) '\(spec)' has an empty item")
            }
            if let h = header, let c = h.firstIndex(of: item) {
                out.append(c)
                continue
            }
            let bounds = item.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            if bounds.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
                let a = Int(bounds[0]), let b = Int(bounds[bounds.count - 1])
            {
                guard a >= 1, b <= count, a <= b else {
                    throw .invalidArgument(
                        file: name, detail: "\(option) '\(item)' is outside columns 1-\(count) (or reversed)")
                }
                out += (a - 1)...(b - 1)
                continue
            }
            let known =
                header.map {
                    "; columns are " + $0.prefix(20).map { "'\($0)'" }.joined(separator: ", ")
                        + ($0.count > 20 ? ", …" : "")
                } ?? "; the file has no header row, so choose columns by number 1-\(count)"
            throw .invalidArgument(file: name, detail: "\(option): no column named '\(item.prefix(40))'\(known)")
        }
        if let dup = out.enumerated().first(where: { out[..<$0.offset].contains($0.element) }) {
            throw .invalidArgument(file: name, detail: "\(option) chooses column \(dup.element + 1) twice")
        }
        return out
    }
}

/// Recognises common date and time spellings (ISO 8601, `Jan-1-1995`, `1/31/1995`, `1995Q1`, …).
struct DateMatcher {
    private let regex: Regex<AnyRegexOutput>

    init() {
        let month =
            #"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"#
        let time = #"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s*(?:Z|[+-]\d{2}:?\d{2}|[ap]m))?"#
        let date =
            #"(?:\d{4}[-/.]\d{1,2}(?:[-/.]\d{1,2})?|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|"# + month
            + #"[-/ ]\d{1,2},?[-/ ]\s*\d{4}|\d{1,2}[-/ ]"# + month + #"[-/ ]\d{2,4}|"# + month
            + #"[-/ ]\d{4}|\d{4}-?Q[1-4])"#
        regex = try! Regex("(?i)(?:" + date + "(?:[T ]" + time + ")?|" + time + ")")
    }

    func matches(_ s: String) -> Bool {
        s.utf8.count <= 64 && (try? regex.wholeMatch(in: s)) != nil
    }
}
