import Foundation
import SequenceIO
import Testing

private func table(
    _ text: String, name: String = "t.csv", columns: String? = nil,
    missing: TableOptions.Missing = .error, tab: Bool = false, targets: String? = nil
) throws(SequenceIOError) -> TableRead {
    try CSV.decodeTable(
        Data(text.utf8), name: name, options: TableOptions(columns: columns, missing: missing, targets: targets),
        tabSeparated: tab)
}

/// Independent reference: the fixture's cells by plain splitting (the fixtures hold no quotes in data rows).
private func cells(_ fixtureName: String) throws -> (header: [String], rows: [[String]]) {
    let text = String(decoding: try fixtureData(fixtureName), as: UTF8.self)
    let lines = text.split(separator: "\n").map(String.init)
    let header = lines[0].split(separator: ",").map { $0.replacingOccurrences(of: "\"", with: "") }
    return (
        header, lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    )
}

/// Reference gap filling, per column, by searching each gap's nearest observed neighbours.
private func referenceFill(_ column: [Double?], interpolate: Bool) -> [Double] {
    column.indices.map { i in
        if let v = column[i] { return v }
        let left = column[..<i].lastIndex { $0 != nil }
        let right = column[(i + 1)...].firstIndex { $0 != nil }
        switch (left, right) {
        case (let l?, let r?) where interpolate:
            return (column[l]! * Double(r - i) + column[r]! * Double(i - l)) / Double(r - l)
        case (let l?, _): return column[l]!
        case (nil, let r?): return column[r]!
        default: return .nan
        }
    }
}

private func close(_ a: [Double], _ b: [Double]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($1)) }
}

@Suite("Tables")
struct TableTests {
    @Test func co2MissingPolicies() throws {
        let url = try fixture("co2.csv")
        let (_, rows) = try cells("co2.csv")
        let column: [Double?] = rows.map { Double($0[1]) }
        let firstGap = try #require(column.firstIndex { $0 == nil })
        let strict = expectError("csvParse", file: "co2.csv") { () throws(SequenceIOError) in
            try CSV.readTable(contentsOf: url)
        }
        #expect(
            strict
                == .csvParse(
                    file: "co2.csv", row: firstGap + 2, column: 2,
                    detail: "empty cell (see --missing drop|ffill|interpolate)"))

        let dropped = try CSV.readTable(contentsOf: url, options: TableOptions(missing: .drop))
        #expect(dropped.tensor.shape == [column.compactMap { $0 }.count, 1])
        #expect(dropped.tensor.asDouble() == column.compactMap { $0 })
        #expect(dropped.header == ["co2"] && dropped.columns == [2])
        #expect(dropped.notes.contains("skipped date/time column 1 ('date'); choose columns with --columns"))
        #expect(dropped.notes.contains { $0.hasPrefix("dropped \(column.count - dropped.tensor.shape[0]) rows") })

        for (policy, interpolate) in [(TableOptions.Missing.ffill, false), (.interpolate, true)] {
            let filled = try CSV.readTable(contentsOf: url, options: TableOptions(columns: "co2", missing: policy))
            #expect(filled.tensor.shape == [column.count, 1])
            #expect(close(filled.tensor.asDouble(), referenceFill(column, interpolate: interpolate)))
            #expect(
                filled.notes == [
                    "filled \(column.filter { $0 == nil }.count) missing cells (--missing \(policy.rawValue))"
                ])
        }
    }

    @Test func elecEquipSkipsTheDateColumn() throws {
        let read = try CSV.readTable(contentsOf: fixture("elec_equip.csv"))
        let (header, rows) = try cells("elec_equip.csv")
        #expect(read.tensor.shape == [rows.count, 1])
        #expect(read.tensor.asDouble() == rows.map { Double($0[1])! })
        #expect(read.header == [header[1]])
        #expect(
            read.notes == [
                "skipped date/time column 1 ('DATE'); choose columns with --columns",
                "dates in column 1 ('DATE') are monthly, regular",
            ])
        // Choosing the date column is an error naming it and a value.
        let url = try fixture("elec_equip.csv")
        let e = expectError("invalidArgument", file: "elec_equip.csv") { () throws(SequenceIOError) in
            try CSV.readTable(contentsOf: url, options: TableOptions(columns: "DATE"))
        }
        #expect(e?.description.contains("column 1 ('DATE') holds dates/times such as 'Jan-1-1995'") == true)
    }

    @Test func macrodataColumnChoice() throws {
        let url = try fixture("macrodata.csv")
        let (header, rows) = try cells("macrodata.csv")
        #expect(header.count == 14)
        func expected(_ names: [String]) -> [Double] {
            let idx = names.map { header.firstIndex(of: $0)! }
            return rows.flatMap { row in idx.map { Double(row[$0])! } }
        }
        let all = try CSV.readTable(contentsOf: url)
        #expect(all.tensor.shape == [rows.count, 14] && all.header == header && all.notes.isEmpty)
        for (spec, names) in [
            ("realgdp,realcons", ["realgdp", "realcons"]),
            ("3-5", ["realgdp", "realcons", "realinv"]),
            ("cpi, 3 ,10-11", ["cpi", "realgdp", "tbilrate", "unemp"]),
            ("14", ["realint"]),
        ] {
            let read = try CSV.readTable(contentsOf: url, options: TableOptions(columns: spec))
            #expect(read.header == names, "\(spec)")
            #expect(read.columns == names.map { header.firstIndex(of: $0)! + 1 })
            #expect(read.tensor.shape == [rows.count, names.count])
            #expect(read.tensor.asDouble() == expected(names), "\(spec)")
        }
        for (spec, fragment) in [
            ("realgdp,nope", "no column named 'nope'; columns are 'year', 'quarter'"),
            ("0", "'0' is outside columns 1-14"), ("15", "'15' is outside columns 1-14"),
            ("5-3", "'5-3' is outside columns 1-14 (or reversed)"), ("3,,4", "has an empty item"),
            ("3-5,realinv", "chooses column 5 twice"), ("-2", "no column named '-2'"),
        ] {
            let e = expectError("invalidArgument", file: "macrodata.csv") { () throws(SequenceIOError) in
                try CSV.readTable(contentsOf: url, options: TableOptions(columns: spec))
            }
            #expect(e?.description.contains(fragment) == true, "\(spec): \(String(describing: e))")
        }
        let noHeader = expectError("invalidArgument", file: "t.csv") { () throws(SequenceIOError) in
            try table("1,2\n3,4\n", columns: "x")
        }
        #expect(noHeader?.description.contains("no header row, so choose columns by number 1-2") == true)
        #expect(try table("1,2,3\n4,5,6\n", columns: "3,1").tensor.asDouble() == [3, 1, 6, 4])
    }

    @Test func delimitersQuotesAndComments() throws {
        let reference = try table("a,b,c\n1,2.5,-3\n4,5,6e2\n")
        for text in [
            "a\tb\tc\n1\t2.5\t-3\n4\t5\t6e2\n", "a;b;c\r\n1;2.5;-3\r\n4;5;6e2\r\n",
            "# exported by a logger\n  # another comment\n\"a\",\"b\",\"c\"\n1, \"2.5\" ,-3\n# mid\n4,5,6e2\n# end\n",
        ] {
            let read = try table(text)
            #expect(read.tensor == reference.tensor && read.header == ["a", "b", "c"], "\(text)")
        }
        #expect(try table("a\tb\n1\t2\n").delimiter == "\t")
        #expect(try table("a;b\n1;2\n").delimiter == ";")
        #expect(try table("x,y\tz\n1\t3\n", tab: true).header == ["x,y", "z"])
        // A quoted separator stays in the field; the most frequent separator outside quotes wins.
        let quoted = try table("\"t, in s\";\"v \"\"1\"\"\"\n1;2\n")
        #expect(quoted.header == ["t, in s", "v \"1\""] && quoted.tensor.asDouble() == [1, 2])
        // Rows are the file's line numbers, comments included.
        let e = expectError("csvParse", file: "t.csv") { () throws(SequenceIOError) in
            try table("# c\na,b\n# c\n1,2\n3,x\n")
        }
        #expect(e == .csvParse(file: "t.csv", row: 5, column: 2, detail: "'x' is not a number"))
        let open = expectError("csvParse", file: "t.csv") { () throws(SequenceIOError) in try table("a,b\n1,\"2\n3,4\n")
        }
        #expect(open == .csvParse(file: "t.csv", row: 2, column: 2, detail: "quoted field is not closed on its line"))
    }

    /// The skipped date column's spacing is a note: regular, with gaps (whole steps missing),
    /// irregular or not increasing — never an error.
    @Test func dateSpacingNotes() throws {
        let co2 = try CSV.readTable(contentsOf: fixture("co2.csv"), options: TableOptions(missing: .drop))
        #expect(co2.notes.contains("dates in column 1 ('date') are weekly, regular"), "\(co2.notes)")
        let cases: [([String], String)] = [
            (
                ["2024-01-01", "2024-01-02", "2024-01-05", "2024-01-06", "2024-01-08"],
                "are daily, with 2 gaps (3 steps missing: after row 3, after row 5); the model sees one step per row"
            ),
            (["1995Q1", "1995Q2", "1995Q3", "1995Q4", "1996Q1"], "are quarterly, regular"),
            (
                ["Jan-15-1995", "Feb-15-1995", "Mar-15-1995", "May-15-1995"],
                "are monthly, with 1 gap (1 step missing: after row 4); the model sees one step per row"
            ),
            (["1990", "1991", "1992"].map { "\($0)-06" }, "are yearly, regular"),
            (["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 02:00"], "are hourly, regular"),
            (["23:00", "00:00", "01:00", "2:00 am"], "are hourly, regular"),
            (["01.01.2024", "02.01.2024", "03.01.2024"], "are daily, regular"),
            (["12/30/1995", "12/31/1995", "1/1/1996"], "are daily, regular"),
            (
                ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04 12:00", "2024-01-05"],
                "are irregularly spaced: 2 of 4 steps differ from the usual daily (steps from every 12 hours to every 36 hours; first after row 4); the model sees one step per row"
            ),
            (
                ["2024-01-03", "2024-01-02", "2024-01-04"],
                "do not increase (row 3 is not after row 2); the model sees one step per row"
            ),
        ]
        for (dates, expected) in cases {
            let text = "when,v\n" + dates.enumerated().map { "\($0.element),\($0.offset)" }.joined(separator: "\n")
            let read = try table(text)
            #expect(read.tensor.shape == [dates.count, 1])
            #expect(
                read.notes == [
                    "skipped date/time column 1 ('when'); choose columns with --columns",
                    "dates in column 1 ('when') " + expected,
                ], "\(dates)")
        }
    }

    /// `1,5` in a ';'-separated table is 1.5 (detected, with a note), or asked for by
    /// `decimalComma: true` (';' or tab separators only).
    @Test func decimalCommas() throws {
        let read = try table("Datum;Wert;\"Menge\"\n01.01.2024;1,5;\"-2,25\"\n02.01.2024;3;4,0\n03.01.2024;-0,5;1e3\n")
        #expect(read.tensor.asDouble() == [1.5, -2.25, 3, 4, -0.5, 1000])
        #expect(read.header == ["Wert", "Menge"] && read.delimiter == ";")
        #expect(
            read.notes == [
                "read numbers with a decimal comma (e.g. '1,5' = 1.5), as in a ';'-separated table",
                "skipped date/time column 1 ('Datum'); choose columns with --columns",
                "dates in column 1 ('Datum') are daily, regular",
            ])
        // No header: the first row's decimal commas make it data.
        #expect(try table("1,5;2\n3;4,25\n").tensor.asDouble() == [1.5, 2, 3, 4.25])
        // A ';' table of plain numbers is unchanged and has no note.
        #expect(try table("a;b\n1.5;2\n").notes.isEmpty)
        let tab = try CSV.decodeTable(
            Data("a\tb\n1,5\t2\n".utf8), name: "t.tsv", options: TableOptions(decimalComma: true), tabSeparated: true)
        #expect(tab.tensor.asDouble() == [1.5, 2] && tab.notes.isEmpty)
        let comma = expectError("invalidArgument", file: "t.csv") { () throws(SequenceIOError) in
            try CSV.decodeTable(Data("a,b\n1,2\n".utf8), name: "t.csv", options: TableOptions(decimalComma: true))
        }
        #expect(comma?.description.contains("--decimal-comma needs a table separated by ';' or tabs") == true)
        let off = expectError("csvParse", file: "t.csv") { () throws(SequenceIOError) in
            try CSV.decodeTable(Data("a;b\n1,5;2\n".utf8), name: "t.csv", options: TableOptions(decimalComma: false))
        }
        #expect(off == .csvParse(file: "t.csv", row: 2, column: 1, detail: "'1,5' is not a number"))
        expectError("csvParse", file: "t.csv") { () throws(SequenceIOError) in try table("a;b\n1.234,5;2\n") }
    }

    /// Targets are read with the features in one pass: overlapping or not, rows dropped for a
    /// missing cell in either, names or numbers, bad names refused naming --targets.
    @Test func targetColumns() throws {
        let text = "when,a,b,c\n2024-01-01,1,10,100\n2024-01-02,2,,200\n2024-01-03,3,30,\n2024-01-04,4,40,400\n"
        let read = try table(text, columns: "a,b", missing: .drop, targets: "c,a")
        #expect(read.tensor.shape == [2, 2] && read.tensor.asDouble() == [1, 10, 4, 40])
        #expect(read.targets?.shape == [2, 2] && read.targets?.asDouble() == [100, 1, 400, 4])
        #expect(read.header == ["a", "b"] && read.columns == [2, 3])
        #expect(read.targetHeader == ["c", "a"] && read.targetColumns == [4, 2])
        let all = try table(text, missing: .ffill, targets: "4")
        #expect(all.columns == [2, 3, 4] && all.targets?.asDouble() == [100, 200, 200, 400])
        #expect(try table(text, missing: .ffill).targets == nil)
        let bad = expectError("invalidArgument", file: "t.csv") { () throws(SequenceIOError) in
            try table(text, missing: .drop, targets: "d")
        }
        #expect(bad?.description.hasPrefix("t.csv: --targets: no column named 'd'") == true)
        let date = expectError("invalidArgument", file: "t.csv") { () throws(SequenceIOError) in
            try table(text, missing: .drop, targets: "when")
        }
        #expect(date?.description.contains("leave it out of --targets") == true)
    }

    @Test func dateAndTimeColumnsAreRecognised() throws {
        for date in [
            "1995-01-01", "1995-01-01 00:00:00", "1995-01-01T12:30:05.250Z", "1995-1-1 7:05",
            "Jan-1-1995", "\"January 1, 1995\"", "1-Jan-1995", "31/12/1995", "12/31/1995", "1995/12/31",
            "Dec 1995", "1995Q3", "1995-Q3", "1995-07", "23:59:59", "2024-02-29T10:00:00+01:00", "\"1995-01-01\"",
        ] {
            let read = try table("when,v\n\(date),1.5\n\(date),2\n")
            #expect(read.columns == [2] && read.tensor.asDouble() == [1.5, 2], "\(date)")
            #expect(read.notes == ["skipped date/time column 1 ('when'); choose columns with --columns"], "\(date)")
        }
        // A headerless file whose first cell is a date has no header row.
        #expect(try table("1995-01-01,3\n1995-01-02,4\n").header == nil)
        for notDate in ["abc", "1995-01-01x", "12:3", "Janx-1-1995", "1995-01-01 junk"] {
            let e = expectError("csvParse", file: "t.csv") { () throws(SequenceIOError) in
                try table("when,v\n1995-01-01,1\n\(notDate),2\n")
            }
            #expect(
                e == .csvParse(file: "t.csv", row: 3, column: 1, detail: "'\(notDate)' is neither a number nor a date"),
                "\(notDate)")
        }
        // A column mixing dates and numbers names its first date.
        let mixed = expectError("csvParse", file: "t.csv") { () throws(SequenceIOError) in
            try table("when,v\n3,1\n1995-01-01,2\n")
        }
        #expect(mixed == .csvParse(file: "t.csv", row: 3, column: 1, detail: "'1995-01-01' is not a number"))
        let onlyDates = expectError("invalidArgument", file: "t.csv") { () throws(SequenceIOError) in
            try table("d\n1995-01-01\n")
        }
        #expect(onlyDates?.description.contains("every column holds dates/times") == true)
    }

    @Test func missingCellsAtTheEdgesAndEverywhere() throws {
        let text = "a,b\n,1\nNA,\n2,3\n,N/A\n4,7\n,\n"
        let a: [Double?] = [nil, nil, 2, nil, 4, nil]
        let b: [Double?] = [1, nil, 3, nil, 7, nil]
        for (policy, interpolate) in [(TableOptions.Missing.ffill, false), (.interpolate, true)] {
            let read = try table(text, missing: policy)
            let ra = referenceFill(a, interpolate: interpolate)
            let rb = referenceFill(b, interpolate: interpolate)
            #expect(close(read.tensor.asDouble(), zip(ra, rb).flatMap { [$0, $1] }), "\(policy)")
        }
        #expect(try table(text, missing: .drop).tensor.asDouble() == [2, 3, 4, 7])
        let na = expectError("csvParse", file: "t.csv") { () throws(SequenceIOError) in try table("a\n1\nNA\n") }
        #expect(
            na
                == .csvParse(
                    file: "t.csv", row: 3, column: 1,
                    detail: "'NA' is a missing value (see --missing drop|ffill|interpolate)"))
        for policy in [TableOptions.Missing.drop, .ffill, .interpolate] {
            let e = expectError("csvParse", file: "t.csv") { () throws(SequenceIOError) in
                try table("a,b\n1,\n2,\n", missing: policy)
            }
            #expect(
                e
                    == .csvParse(
                        file: "t.csv", row: 2, column: 2, detail: "column 2 ('b') has no values, only missing cells"))
        }
        let allRows = expectError("csvParse", file: "t.csv") { () throws(SequenceIOError) in
            try table("a,b\n1,\n,2\n", missing: .drop)
        }
        #expect(allRows?.description.contains("nothing left after --missing drop") == true)
        // Missing cells in columns not chosen do not matter.
        #expect(try table("a,b\n1,\n2,\n", columns: "a").tensor.asDouble() == [1, 2])
    }

    @Test func hostileTables() {
        let cases: [(String, String?, TableOptions.Missing, String)] = [
            ("a,b\n1,2\n3\n", nil, .interpolate, "row 3, column 2: row has 1 columns, expected 2"),
            ("a,b\n1,2\n3,4,5\n", "a", .drop, "row 3, column 3: row has 3 columns, expected 2"),
            ("a,b\n1,2\n\n3,4\n", nil, .ffill, "row 3, column 1: blank line between data rows"),
            ("# only\n# comments\n", nil, .error, "row 1, column 1: file holds no rows"),
            ("a\tb\n", nil, .drop, "no data rows after the header"),
        ]
        for (text, columns, missing, fragment) in cases {
            let e = caught { () throws(SequenceIOError) in try table(text, columns: columns, missing: missing) }
            #expect(e?.description.contains(fragment) == true, "\(text): \(String(describing: e))")
        }
    }

    @Test func sequenceInputTakesTableOptions() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try Data("x\ty\n1\t\n3\t4\n".utf8).write(to: dir.file("r.tsv"))
        let (t, notes) = try SequenceInput.read(contentsOf: dir.file("r.tsv"), table: TableOptions(missing: .ffill))
        #expect(t.shape == [2, 2] && t.asDouble() == [1, 4, 3, 4] && notes.count == 1)
        let npyURL = try fixture("f32_2d.npy")
        let npy = expectError("invalidArgument", file: "f32_2d.npy") { () throws(SequenceIOError) in
            try SequenceInput.read(contentsOf: npyURL, table: TableOptions(columns: "1"))
        }
        #expect(
            npy?.description.contains("--columns, --missing and --decimal-comma apply to .csv and .tsv tables only")
                == true)
    }
}

/// The real statsmodels files of issue 25's table (Fixtures/statsmodels, public domain), read as
/// the rows read them, against plain splitting of the same files.
@Suite("Tables: real statsmodels files")
struct StatsmodelsTableTests {
    @Test func co2WithCompactDatesAndGaps() throws {
        let url = try fixture("statsmodels/co2.csv")
        let (header, rows) = try cells("statsmodels/co2.csv")
        #expect(header == ["date", "co2"] && rows.count == 2284)
        let column: [Double?] = rows.map { Double($0[1]) }
        #expect(column.filter { $0 == nil }.count == 59)
        let read = try CSV.readTable(contentsOf: url, options: TableOptions(missing: .interpolate))
        // The YYYYMMDD column under "date" is a date column, not a feature.
        #expect(read.tensor.shape == [2284, 1] && read.columns == [2])
        #expect(close(read.tensor.asDouble(), referenceFill(column, interpolate: true)))
        #expect(read.notes.contains("skipped date/time column 1 ('date'); choose columns with --columns"))
        #expect(read.notes.contains { $0.hasPrefix("dates in column 1 ('date') are weekly") })
        // Numbers that only look like dates stay numbers without a date header.
        let plain = try table("x,y\n19580329,1\n19580405,2\n19580412,3\n")
        #expect(plain.tensor.shape == [3, 2])
    }

    @Test func elecEquipAndMacrodataAndSunspots() throws {
        let elec = try CSV.readTable(contentsOf: fixture("statsmodels/elec_equip.csv"))
        let (_, elecRows) = try cells("statsmodels/elec_equip.csv")
        #expect(elec.tensor.shape == [elecRows.count, 1])
        #expect(elec.tensor.asDouble() == elecRows.map { Double($0[1])! })
        #expect(elec.notes.contains("dates in column 1 ('DATE') are monthly, regular"))

        let macro = try CSV.readTable(
            contentsOf: fixture("statsmodels/macrodata.csv"),
            options: TableOptions(columns: "realgdp,realcons,realinv,unemp", targets: "unemp"))
        let (macroHeader, macroRows) = try cells("statsmodels/macrodata.csv")
        let picks = ["realgdp", "realcons", "realinv", "unemp"].map { macroHeader.firstIndex(of: $0)! }
        #expect(macro.tensor.shape == [macroRows.count, 4])
        #expect(macro.tensor.asDouble() == macroRows.flatMap { row in picks.map { Double(row[$0])! } })
        #expect(macro.targets?.asDouble() == macroRows.map { Double($0[picks[3]])! })

        let sun = try CSV.readTable(
            contentsOf: fixture("statsmodels/sunspots.csv"), options: TableOptions(columns: "SUNACTIVITY"))
        let (sunHeader, sunRows) = try cells("statsmodels/sunspots.csv")
        let s = sunHeader.firstIndex(of: "SUNACTIVITY")!
        #expect(sun.tensor.asDouble() == sunRows.map { Double($0[s])! })
    }
}
