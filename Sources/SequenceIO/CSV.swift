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
/// An optional header row is detected when every cell of the first row is neither a number nor a
/// date. LF and CRLF line ends, a missing final newline, blank trailing lines and `#` comment lines
/// are accepted; ragged rows, empty or non-numeric cells and blank lines between data rows are
/// errors naming the row and column. Tab and semicolon separators, quoted fields, column choice and
/// missing cells: see ``decodeTable(_:name:options:tabSeparated:)``.
public enum CSV {
    /// Reads the CSV file at `url` into a float64 tensor of shape `[T, m]` plus the header, if any.
    public static func read(contentsOf url: URL) throws(SequenceIOError) -> (tensor: Tensor, header: [String]?) {
        try decode(try readFileData(url), name: url.lastPathComponent)
    }

    /// Decodes CSV bytes (UTF-8, optional BOM); `name` labels errors. The same as
    /// ``decodeTable(_:name:options:tabSeparated:)`` with default options (every numeric column,
    /// date/time columns skipped, missing cells are errors), returning the whole header.
    public static func decode(_ data: Data, name: String) throws(SequenceIOError) -> (tensor: Tensor, header: [String]?)
    {
        let table = try decodeTable(data, name: name)
        return (table.tensor, table.header)
    }

    /// Encodes a `[T, m]` tensor (or `[T]` as one column) as CSV text with `\n` line ends and an
    /// optional header row. Values use Swift's shortest round-trip representation.
    public static func encode(_ tensor: Tensor, header: [String]? = nil, name: String = "") throws(SequenceIOError)
        -> Data
    {
        guard tensor.isConsistent else {
            throw .invalidArgument(
                file: name,
                detail: "tensor shape \(describeShape(tensor.shape)) does not match its \(tensor.count) values")
        }
        let columns: Int
        switch tensor.shape.count {
        case 1: columns = 1
        case 2: columns = tensor.shape[1]
        default:
            throw .invalidArgument(
                file: name, detail: "CSV needs a tensor of shape [T, m], got \(describeShape(tensor.shape))")
        }
        guard columns > 0 else { throw .invalidArgument(file: name, detail: "CSV needs at least one column") }
        var out = ""
        if let header {
            guard header.count == columns else {
                throw .invalidArgument(file: name, detail: "header has \(header.count) names for \(columns) columns")
            }
            for h in header where h.isEmpty || h.contains(where: { ",\"\n\r".contains($0) }) || Double(h) != nil {
                throw .invalidArgument(
                    file: name, detail: "header name '\(h)' is empty, numeric, or contains a comma, quote or newline")
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
