import Foundation

/// Every failure the SequenceIO readers and writers can report.
///
/// Each case carries the name of the file involved (its `lastPathComponent`, or the name passed to a
/// `decode` function), and ``description`` starts with that name, e.g.
/// `input.npy: header declares shape (3, 4) but the file holds 40 bytes of data, 48 needed`.
public enum SequenceIOError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be opened or read; `reason` is the underlying system message.
    case unreadable(file: String, reason: String)
    /// The file ends before a structure it declares (a header, a chunk, a length field).
    case truncated(file: String, detail: String)
    /// The file does not start with the signature of its format (`expected` names it).
    case badMagic(file: String, expected: String)
    /// The file's format version is not one this reader understands.
    case unsupportedVersion(file: String, version: String)
    /// The element type is not float32/float64 little-endian; `tensor` names the tensor when the file holds several.
    case unsupportedDType(file: String, dtype: String, tensor: String?)
    /// A NumPy file stored in Fortran (column-major) order.
    case fortranOrder(file: String)
    /// A header that cannot be parsed or holds invalid values; `detail` says what is wrong.
    case malformedHeader(file: String, detail: String)
    /// The declared shape does not match the amount of data present (or overflows).
    case sizeMismatch(file: String, detail: String)
    /// A NaN or infinite value at the given multi-dimensional `index` (row-major).
    case nonFinite(file: String, index: [Int], value: String)
    /// `SequenceInput` does not know how to read files with this extension.
    case unknownExtension(file: String, ext: String)
    /// A tensor that was asked for by name is not in the file.
    case missingTensor(file: String, name: String)
    /// A CSV cell or row that cannot be used; `row` and `column` are 1-based (rows count every line of the file).
    case csvParse(file: String, row: Int, column: Int, detail: String)
    /// A writer was given a value it cannot store (wrong rank, inconsistent shape, non-finite PCM sample, …).
    case invalidArgument(file: String, detail: String)
    /// Writing the output failed; nothing partial was left behind.
    case writeFailed(file: String, reason: String)

    /// The file name the error refers to.
    public var file: String {
        switch self {
        case .unreadable(let f, _), .truncated(let f, _), .badMagic(let f, _), .unsupportedVersion(let f, _),
            .unsupportedDType(let f, _, _), .fortranOrder(let f), .malformedHeader(let f, _),
            .sizeMismatch(let f, _), .nonFinite(let f, _, _), .unknownExtension(let f, _),
            .missingTensor(let f, _), .csvParse(let f, _, _, _),
            .invalidArgument(let f, _), .writeFailed(let f, _):
            return f
        }
    }

    /// A one-line human-readable message that starts with the file name. Control characters
    /// from the data or the name (a CSV's `\r`, a newline in a tensor name) are escaped.
    public var description: String { escapingControlCharacters(rawDescription) }

    private var rawDescription: String {
        let name = file.isEmpty ? "<data>" : file
        switch self {
        case .unreadable(_, let reason):
            return "\(name): cannot read file: \(reason)"
        case .truncated(_, let detail):
            return "\(name): file is truncated: \(detail)"
        case .badMagic(_, let expected):
            return "\(name): not a \(expected) file (bad magic bytes)"
        case .unsupportedVersion(_, let version):
            return "\(name): unsupported format version \(version)"
        case .unsupportedDType(_, let dtype, let tensor):
            let which = tensor.map { "tensor '\($0)' has " } ?? ""
            return "\(name): \(which)unsupported dtype \(dtype) (only little-endian float32 and float64 are supported)"
        case .fortranOrder:
            return "\(name): array is stored in Fortran order; only C order is supported (save np.ascontiguousarray(a))"
        case .malformedHeader(_, let detail):
            return "\(name): malformed header: \(detail)"
        case .sizeMismatch(_, let detail):
            return "\(name): \(detail)"
        case .nonFinite(_, let index, let value):
            return "\(name): non-finite value \(value) at index [\(index.map(String.init).joined(separator: ", "))]"
        case .unknownExtension(_, let ext):
            let shown = ext.isEmpty ? "no extension" : "extension '.\(ext)'"
            return
                "\(name): unknown input format (\(shown)); expected .npy, .csv, .tsv, audio (.wav, .flac, .ogg, .aiff) or HDF5 (.h5, .hdf5)"
        case .missingTensor(_, let tensorName):
            return "\(name): no tensor named '\(tensorName)'"
        case .csvParse(_, let row, let column, let detail):
            return "\(name): row \(row), column \(column): \(detail)"
        case .invalidArgument(_, let detail):
            return "\(name): \(detail)"
        case .writeFailed(_, let reason):
            return "\(name): write failed: \(reason)"
        }
    }
}

/// `text` with control characters escaped (`\r`, `\n`, `\t`, others as `\u{…}`), so that a
/// message stays on one line and cannot move the terminal's cursor.
public func escapingControlCharacters(_ text: String) -> String {
    guard text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return text }
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\r": out += "\\r"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default:
            if scalar.properties.generalCategory == .control {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out
}
