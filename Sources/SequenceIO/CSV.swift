import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Comma-separated sequences: one time step per row, one feature per column.
///
/// An optional header row is detected when every cell of the first row is non-numeric. LF and CRLF
/// line ends, a missing final newline and blank trailing lines are accepted; ragged rows, empty or
/// non-numeric cells and blank lines between data rows are errors naming the row and column.
public enum CSV {
    /// Reads the CSV file at `url` into a float64 tensor of shape `[T, m]` plus the header, if any.
    public static func read(contentsOf url: URL) throws(SequenceIOError) -> (tensor: Tensor, header: [String]?) {
        try decode(try readFileData(url), name: url.lastPathComponent)
    }

    /// Decodes CSV bytes (UTF-8, optional BOM); `name` labels errors.
    public static func decode(_ data: Data, name: String) throws(SequenceIOError) -> (tensor: Tensor, header: [String]?) {
        // A NUL-terminated copy lets strtod run on the bytes in place.
        var bytes = [UInt8](data)
        var start = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        if let nul = bytes.firstIndex(of: 0) {
            let row = bytes[..<nul].reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
            throw .csvParse(file: name, row: row, column: 1, detail: "NUL byte in text")
        }
        bytes.append(0)
        let end = bytes.count - 1

        return try bytes.withUnsafeBufferPointer { (buffer) throws(SequenceIOError) -> (tensor: Tensor, header: [String]?) in
            try parse(buffer, start: start, end: end, name: name)
        }
    }

    private static func isBlank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D }

    private static func parse(_ buf: UnsafeBufferPointer<UInt8>, start: Int, end: Int, name: String) throws(SequenceIOError) -> (tensor: Tensor, header: [String]?) {
        let base = UnsafeRawPointer(buf.baseAddress!).assumingMemoryBound(to: CChar.self)
        // Split into lines: [lineStart, lineEnd) without the newline; trailing '\r' is trimmed with blanks.
        var lines: [(Int, Int)] = []
        var lineStart = start
        for i in start..<end where buf[i] == 0x0A {
            lines.append((lineStart, i))
            lineStart = i + 1
        }
        if lineStart < end { lines.append((lineStart, end)) }
        // Drop blank trailing lines.
        func blankLine(_ line: (Int, Int)) -> Bool { (line.0..<line.1).allSatisfy { isBlank(buf[$0]) } }
        while let last = lines.last, blankLine(last) { lines.removeLast() }
        guard !lines.isEmpty else {
            throw .csvParse(file: name, row: 1, column: 1, detail: "file holds no rows")
        }

        /// Cells of a line as trimmed [start, end) ranges.
        func cells(_ line: (Int, Int)) -> [(Int, Int)] {
            var out: [(Int, Int)] = []
            var cellStart = line.0
            var i = line.0
            while true {
                if i == line.1 || buf[i] == UInt8(ascii: ",") {
                    var a = cellStart, b = i
                    while a < b, isBlank(buf[a]) { a += 1 }
                    while b > a, isBlank(buf[b - 1]) { b -= 1 }
                    out.append((a, b))
                    if i == line.1 { return out }
                    cellStart = i + 1
                }
                i += 1
            }
        }
        func number(_ cell: (Int, Int)) -> Double? {
            guard cell.0 < cell.1 else { return nil }
            var endPtr: UnsafeMutablePointer<CChar>?
            let v = strtod(base + cell.0, &endPtr)
            guard let endPtr, endPtr == UnsafeMutablePointer(mutating: base + cell.1) else { return nil }
            return v
        }
        func text(_ cell: (Int, Int)) -> String {
            String(decoding: UnsafeBufferPointer(rebasing: buf[cell.0..<cell.1]), as: UTF8.self)
        }

        var header: [String]?
        var firstData = 0
        let firstCells = cells(lines[0])
        if firstCells.allSatisfy({ number($0) == nil }) {
            header = firstCells.map { cell in
                var s = text(cell)
                if s.count >= 2, s.hasPrefix("\""), s.hasSuffix("\"") {
                    s = String(s.dropFirst().dropLast()).replacingOccurrences(of: "\"\"", with: "\"")
                }
                return s
            }
            firstData = 1
        }
        let columns = firstCells.count
        let rows = lines.count - firstData
        guard rows > 0 else {
            throw .csvParse(file: name, row: 2, column: 1, detail: "no data rows after the header")
        }
        var values: [Double] = []
        values.reserveCapacity(rows * columns)
        for r in firstData..<lines.count {
            let rowCells = cells(lines[r])
            if rowCells.count == 1, rowCells[0].0 == rowCells[0].1 {
                throw .csvParse(file: name, row: r + 1, column: 1, detail: "blank line between data rows")
            }
            guard rowCells.count == columns else {
                throw .csvParse(file: name, row: r + 1, column: min(rowCells.count, columns) + 1,
                                detail: "row has \(rowCells.count) columns, expected \(columns)")
            }
            for (c, cell) in rowCells.enumerated() {
                guard let v = number(cell) else {
                    let shown = cell.0 == cell.1 ? "empty cell" : "'\(text(cell).prefix(40))' is not a number"
                    let hint = r == 0 ? " (a header row must have no numeric cells)" : ""
                    throw .csvParse(file: name, row: r + 1, column: c + 1, detail: shown + hint)
                }
                values.append(v)
            }
        }
        return (Tensor(shape: [rows, columns], storage: .float64(values)), header)
    }

    /// Encodes a `[T, m]` tensor (or `[T]` as one column) as CSV text with `\n` line ends and an
    /// optional header row. Values use Swift's shortest round-trip representation.
    public static func encode(_ tensor: Tensor, header: [String]? = nil, name: String = "") throws(SequenceIOError) -> Data {
        guard tensor.isConsistent else {
            throw .invalidArgument(file: name, detail: "tensor shape \(describeShape(tensor.shape)) does not match its \(tensor.count) values")
        }
        let columns: Int
        switch tensor.shape.count {
        case 1: columns = 1
        case 2: columns = tensor.shape[1]
        default: throw .invalidArgument(file: name, detail: "CSV needs a tensor of shape [T, m], got \(describeShape(tensor.shape))")
        }
        guard columns > 0 else { throw .invalidArgument(file: name, detail: "CSV needs at least one column") }
        var out = ""
        if let header {
            guard header.count == columns else {
                throw .invalidArgument(file: name, detail: "header has \(header.count) names for \(columns) columns")
            }
            for h in header where h.isEmpty || h.contains(where: { ",\"\n\r".contains($0) }) || Double(h) != nil {
                throw .invalidArgument(file: name, detail: "header name '\(h)' is empty, numeric, or contains a comma, quote or newline")
            }
            out += header.joined(separator: ",") + "\n"
        }
        func emit<T: LosslessStringConvertible>(_ values: [T]) {
            for (i, v) in values.enumerated() {
                out += v.description
                out += (i + 1) % columns == 0 ? "\n" : ","
            }
        }
        switch tensor.storage {
        case .float32(let v): emit(v)
        case .float64(let v): emit(v)
        }
        return Data(out.utf8)
    }

    /// Writes a `[T, m]` tensor as CSV at `url`, atomically (see ``encode(_:header:name:)``).
    public static func write(_ tensor: Tensor, header: [String]? = nil, to url: URL) throws(SequenceIOError) {
        try AtomicFile.write(try encode(tensor, header: header, name: url.lastPathComponent), to: url)
    }
}
