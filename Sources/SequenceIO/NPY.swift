import Foundation

/// NumPy `.npy` files: format versions 1.0, 2.0 and 3.0, little-endian float32 (`<f4`) and
/// float64 (`<f8`) arrays in C order.
///
/// The byte-order characters `|` and `=` are accepted as little-endian (all supported hosts are
/// little-endian); big-endian `>` arrays, other dtypes and Fortran-ordered arrays are rejected with
/// a clear error.
public enum NPY {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

    /// Reads and decodes the `.npy` file at `url`.
    public static func read(contentsOf url: URL) throws(SequenceIOError) -> Tensor {
        try decode(try readFileData(url), name: url.lastPathComponent)
    }

    /// Decodes `.npy` bytes; `name` labels errors (usually the file name).
    public static func decode(_ data: Data, name: String) throws(SequenceIOError) -> Tensor {
        let (header, dataStart) = try parseHead(data, name: name)

        guard let count = Tensor.elementCount(of: header.shape) else {
            throw .sizeMismatch(
                file: name,
                detail: "header shape \(describeShape(header.shape)) has more elements than can be addressed")
        }
        let (needed, overflow) = count.multipliedReportingOverflow(by: header.type.byteSize)
        let available = data.count - dataStart
        guard !overflow else {
            throw .sizeMismatch(
                file: name, detail: "header shape \(describeShape(header.shape)) needs more bytes than can be addressed"
            )
        }
        guard needed == available else {
            throw .sizeMismatch(
                file: name,
                detail:
                    "header declares shape \(describeShape(header.shape)) but the file holds \(available) bytes of data, \(needed) needed"
            )
        }
        return Tensor(
            shape: header.shape, storage: decodeScalars(data, offset: dataStart, count: count, type: header.type))
    }

    /// Encodes `tensor` as a version 1.0 `.npy` file (2.0 when the header would exceed 65535 bytes),
    /// with the header padded so the data starts on a 64-byte boundary, as NumPy does.
    ///
    /// Precondition: `tensor.isConsistent` (``write(_:to:)`` checks and throws instead).
    public static func encode(_ tensor: Tensor) -> Data {
        precondition(
            tensor.isConsistent, "NPY.encode: tensor shape \(tensor.shape) does not match \(tensor.count) values")
        var out = header(shape: tensor.shape, type: tensor.scalarType)
        out.reserveCapacity(out.count + tensor.count * tensor.scalarType.byteSize)
        appendScalars(tensor.storage, to: &out)
        return out
    }

    /// Writes `tensor` to `url` atomically (see ``AtomicFile``).
    public static func write(_ tensor: Tensor, to url: URL) throws(SequenceIOError) {
        guard tensor.isConsistent else {
            throw .invalidArgument(
                file: url.lastPathComponent,
                detail: "tensor shape \(describeShape(tensor.shape)) does not match its \(tensor.count) values")
        }
        try AtomicFile.write(encode(tensor), to: url)
    }

    static func paddedLength(_ dictLength: Int, preamble: Int) -> Int {
        let unpadded = preamble + dictLength + 1  // + newline
        return (unpadded + 63) / 64 * 64 - preamble
    }

    struct Header {
        var type: ScalarType
        var shape: [Int]
    }

    static func parseHeader(_ text: [Unicode.Scalar], name: String) throws(SequenceIOError) -> Header {
        var parser = PyLiteralParser(text: text, name: name)
        let value = try parser.parseTopLevel()
        guard case .dict(let entries) = value else {
            throw .malformedHeader(file: name, detail: "header is not a dictionary")
        }
        let keys = ["descr", "fortran_order", "shape"]
        let fields = try headerFields(entries, keys) { .malformedHeader(file: name, detail: "unexpected key '\($0)'") }
        guard let descr = fields[0], let fortran = fields[1], let shape = fields[2] else {
            let missing = zip(keys, fields).filter { $0.1 == nil }.map(\.0)
            throw .malformedHeader(file: name, detail: "missing key(s) \(missing.joined(separator: ", "))")
        }
        guard case .string(let dtype) = descr else {
            throw .unsupportedDType(file: name, dtype: "structured dtype \(descr.summary)", tensor: nil)
        }
        let type: ScalarType
        switch dtype {
        case "<f4", "|f4", "=f4", "f4": type = .float32
        case "<f8", "|f8", "=f8", "f8": type = .float64
        case ">f4", ">f8":
            throw .unsupportedDType(
                file: name, dtype: "'\(dtype)' (big-endian; convert with a.astype('<\(dtype.dropFirst())'))",
                tensor: nil)
        default:
            throw .unsupportedDType(file: name, dtype: "'\(dtype)'", tensor: nil)
        }
        guard case .bool(let isFortran) = fortran else {
            throw .malformedHeader(file: name, detail: "fortran_order is \(fortran.summary), expected True or False")
        }
        guard case .tuple(let dims) = shape else {
            throw .malformedHeader(file: name, detail: "shape is \(shape.summary), expected a tuple")
        }
        var extents: [Int] = []
        for d in dims {
            guard case .int(let digits) = d else {
                throw .malformedHeader(file: name, detail: "shape entry \(d.summary) is not an integer")
            }
            guard let n = Int(digits) else {
                throw .sizeMismatch(file: name, detail: "header shape entry \(digits) is too large")
            }
            guard n >= 0 else {
                throw .sizeMismatch(file: name, detail: "header shape entry \(n) is negative")
            }
            extents.append(n)
        }
        if isFortran { throw .fortranOrder(file: name) }
        return Header(type: type, shape: extents)
    }
}

/// The subset of Python literals that appear in `.npy` headers.
enum PyValue {
    case string(String)
    case int(String)  // decimal digits with optional sign, parsed by the caller (may not fit in Int)
    case bool(Bool)
    case none
    case tuple([PyValue])
    case list([PyValue])
    case dict([(String, PyValue)])

    var summary: String {
        switch self {
        case .string(let s): return "'\(s.prefix(40))'"
        case .int(let s): return String(s.prefix(40))
        case .bool(let b): return b ? "True" : "False"
        case .none: return "None"
        case .tuple: return "a tuple"
        case .list: return "a list"
        case .dict: return "a dictionary"
        }
    }
}

/// A small recursive-descent parser for Python literal syntax (strings, integers, True/False/None,
/// tuples, lists, dicts), with a nesting limit so hostile input cannot exhaust the stack.
struct PyLiteralParser {
    let text: [Unicode.Scalar]
    let name: String
    var pos = 0
    static let maxDepth = 32

    init(text: [Unicode.Scalar], name: String) {
        self.text = text
        self.name = name
    }

    mutating func parseTopLevel() throws(SequenceIOError) -> PyValue {
        let v = try parseValue(depth: 0)
        skipSpace()
        guard pos == text.count else { throw fail("unexpected text after the dictionary") }
        return v
    }

    func fail(_ what: String) -> SequenceIOError {
        .malformedHeader(file: name, detail: "\(what) at character \(pos)")
    }

    mutating func skipSpace() {
        while pos < text.count, [" ", "\t", "\n", "\r"].contains(text[pos]) { pos += 1 }
    }

    mutating func parseValue(depth: Int) throws(SequenceIOError) -> PyValue {
        guard depth < Self.maxDepth else { throw fail("nesting too deep") }
        skipSpace()
        guard pos < text.count else { throw fail("unexpected end of header") }
        let c = text[pos]
        switch c {
        case "'", "\"":
            return .string(try parseString())
        case "{":
            pos += 1
            var entries: [(String, PyValue)] = []
            while true {
                skipSpace()
                guard pos < text.count else { throw fail("unterminated dictionary") }
                if text[pos] == "}" {
                    pos += 1
                    return .dict(entries)
                }
                guard text[pos] == "'" || text[pos] == "\"" else { throw fail("expected a string key") }
                let key = try parseString()
                if entries.contains(where: { $0.0 == key }) { throw fail("duplicate key '\(key)'") }
                skipSpace()
                guard pos < text.count, text[pos] == ":" else { throw fail("expected ':'") }
                pos += 1
                entries.append((key, try parseValue(depth: depth + 1)))
                skipSpace()
                guard pos < text.count else { throw fail("unterminated dictionary") }
                if text[pos] == "," { pos += 1 } else if text[pos] != "}" { throw fail("expected ',' or '}'") }
            }
        case "(", "[":
            let close: Unicode.Scalar = c == "(" ? ")" : "]"
            pos += 1
            var items: [PyValue] = []
            var sawComma = false
            while true {
                skipSpace()
                guard pos < text.count else { throw fail("unterminated sequence") }
                if text[pos] == close {
                    pos += 1
                    // (x) without a comma is a parenthesised value, not a tuple.
                    if c == "(" && items.count == 1 && !sawComma { return items[0] }
                    return c == "(" ? .tuple(items) : .list(items)
                }
                items.append(try parseValue(depth: depth + 1))
                skipSpace()
                guard pos < text.count else { throw fail("unterminated sequence") }
                if text[pos] == "," {
                    pos += 1
                    sawComma = true
                } else if text[pos] != close {
                    throw fail("expected ',' or '\(close)'")
                }
            }
        case "-", "+", "0"..."9":
            let start = pos
            if c == "-" || c == "+" { pos += 1 }
            let digitsStart = pos
            while pos < text.count, ("0"..."9").contains(text[pos]) { pos += 1 }
            guard pos > digitsStart else { throw fail("expected digits") }
            var digits = String(String.UnicodeScalarView(text[start..<pos]))
            if digits.hasPrefix("+") { digits.removeFirst() }
            if pos < text.count, text[pos] == "L" || text[pos] == "l" { pos += 1 }  // Python 2 long suffix
            return .int(digits)
        default:
            let start = pos
            while pos < text.count, text[pos].properties.isAlphabetic { pos += 1 }
            let word = String(String.UnicodeScalarView(text[start..<pos]))
            switch word {
            case "True": return .bool(true)
            case "False": return .bool(false)
            case "None": return .none
            default:
                pos = start
                throw fail("unexpected '\(String(c).debugDescription.dropFirst().dropLast())'")
            }
        }
    }

    mutating func parseString() throws(SequenceIOError) -> String {
        let quote = text[pos]
        pos += 1
        var scalars = String.UnicodeScalarView()
        while pos < text.count {
            let c = text[pos]
            pos += 1
            if c == quote { return String(scalars) }
            if c == "\\" {
                guard pos < text.count else { break }
                scalars.append(text[pos])
                pos += 1
            } else if c == "\n" {
                throw fail("newline inside a string")
            } else {
                scalars.append(c)
            }
        }
        throw fail("unterminated string")
    }
}
