import Foundation
import SequenceIO
import Testing

private func decodeCSV(_ text: String, name: String = "d.csv") throws(SequenceIOError) -> (
    tensor: Tensor, header: [String]?
) {
    try CSV.decode(Data(text.utf8), name: name)
}

@Suite("CSV")
struct CSVTests {
    @Test func readsHeaderRowWithCRLF() throws {
        let (t, header) = try CSV.read(contentsOf: fixture("with_header.csv"))
        #expect(header == ["x", "y"])
        #expect(t.shape == [4, 2])
        #expect(t.scalarType == .float64)
        var expected: [Double] = []
        for i in 0..<4 { expected += [Double(i) * 0.5, -Double(i)] }
        #expect(t.asDouble() == expected)
    }

    @Test func readsHeaderlessWithTrailingBlankLine() throws {
        let (t, header) = try CSV.read(contentsOf: fixture("no_header.csv"))
        #expect(header == nil)
        #expect(t.shape == [3, 3])
        #expect(t.asDouble() == (0..<9).map { Double($0) + 0.5 })
    }

    @Test func lenientForms() throws {
        #expect(try decodeCSV("1,2\n3,4").tensor.asDouble() == [1, 2, 3, 4])  // no final newline
        #expect(try decodeCSV("1, 2 \r\n 3 ,4\r\n\r\n  \n\n").tensor.shape == [2, 2])
        #expect(try decodeCSV("\u{FEFF}\"a\",\"b \"\"q\"\"\"\n1e-3,-2.5E2\n").header == ["a", "b \"q\""])
        #expect(try decodeCSV("\u{FEFF}a,b\n1e-3,-2.5E2\n").tensor.asDouble() == [0.001, -250])
        #expect(try decodeCSV("v\n1\n2\n").tensor.shape == [2, 1])
    }

    @Test func raggedRowsNameRowAndColumn() {
        let e = expectError("csvParse", file: "r.csv") { () throws(SequenceIOError) in
            try decodeCSV("a,b,c\n1,2,3\n4,5\n", name: "r.csv")
        }
        #expect(e == .csvParse(file: "r.csv", row: 3, column: 3, detail: "row has 2 columns, expected 3"))
        #expect(e?.description == "r.csv: row 3, column 3: row has 2 columns, expected 3")
        let long = expectError("csvParse", file: "r.csv") { () throws(SequenceIOError) in
            try decodeCSV("1,2\n3,4,5\n", name: "r.csv")
        }
        #expect(long?.description.hasPrefix("r.csv: row 2, column 3:") == true)
    }

    @Test func nonNumericCells() {
        let e = expectError("csvParse", file: "n.csv") { () throws(SequenceIOError) in
            try decodeCSV("x,y\n1,2\n3,abc\n", name: "n.csv")
        }
        #expect(e?.description == "n.csv: row 3, column 2: 'abc' is not a number")
        let empty = expectError("csvParse", file: "n.csv") { () throws(SequenceIOError) in
            try decodeCSV("1,,3\n", name: "n.csv")
        }
        #expect(empty?.description == "n.csv: row 1, column 2: empty cell (a header row must have no numeric cells)")
        for text in ["1,2x\n", "1,0x\n", "1, 2 3\n", "1,2\n\n3,4\n", "", "\n\n", "a,b\n", "a,b\n\n", "1,\u{0}\n"] {
            expectError("csvParse", file: "n.csv") { () throws(SequenceIOError) in try decodeCSV(text, name: "n.csv") }
        }
        let mixed = expectError("csvParse", file: "n.csv") { () throws(SequenceIOError) in
            try decodeCSV("t,1\n1,2\n", name: "n.csv")
        }
        #expect(
            mixed
                == .csvParse(
                    file: "n.csv", row: 1, column: 1,
                    detail: "'t' is not a number (a header row must have no numeric cells)"))
    }

    @Test func roundTrips() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let values = (0..<12).map { sin(Double($0) * 0.7) * 1e3 + 1.0 / 3.0 }
        let t = Tensor(shape: [4, 3], float64: values)
        try CSV.write(t, header: ["a", "b", "c"], to: dir.file("out.csv"))
        let (back, header) = try CSV.read(contentsOf: dir.file("out.csv"))
        #expect(header == ["a", "b", "c"])
        #expect(back == t)

        let f = Tensor(shape: [2, 2], float32: [0.1, -1e-20, 3.4e38, 7])
        try CSV.write(f, to: dir.file("f.csv"))
        let (fb, fh) = try CSV.read(contentsOf: dir.file("f.csv"))
        #expect(fh == nil)
        #expect(fb.asFloat() == f.asFloat())

        let column = Tensor(shape: [3], float64: [1, 2, 3])
        #expect(try CSV.decode(CSV.encode(column), name: "c").tensor.shape == [3, 1])
        #expect(try dir.contents() == ["f.csv", "out.csv"])

        expectError("invalidArgument", file: "h.csv") { () throws(SequenceIOError) in
            try CSV.write(t, header: ["a", "b,c", "d"], to: dir.file("h.csv"))
        }
        expectError("invalidArgument", file: "h.csv") { () throws(SequenceIOError) in
            try CSV.write(t, header: ["a", "b"], to: dir.file("h.csv"))
        }
        expectError("invalidArgument", file: "h.csv") { () throws(SequenceIOError) in
            try CSV.write(Tensor(shape: [1, 1, 1], float32: [0]), to: dir.file("h.csv"))
        }
        #expect(try dir.contents() == ["f.csv", "out.csv"])
    }
}
