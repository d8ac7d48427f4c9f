import ParaRNN
import SequenceIO

/// Why a model file could not be loaded, built or saved. Every description is one line that
/// starts with the file name (or `<model>` for a model built in memory).
public enum ModelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file itself could not be read, decoded or written (truncated, bad header, I/O …).
    case io(SequenceIOError)
    /// `__metadata__` has no `"cell"` entry.
    case missingCell(file: String)
    /// `"cell"` names a cell this version does not know.
    case unknownCell(file: String, name: String)
    /// A tensor the cell needs is absent.
    case missingTensor(file: String, tensor: String)
    /// A tensor the cell does not use (e.g. a bidirectional `_reverse` weight).
    case unexpectedTensor(file: String, tensor: String)
    /// A tensor's shape does not fit the cell (or the other tensors).
    case wrongShape(file: String, tensor: String, shape: [Int], detail: String)
    /// A tensor holds NaN or Inf.
    case nonFinite(file: String, tensor: String, index: Int)
    /// Sizes that do not fit together (layers, heads, metadata): `detail` says which.
    case inconsistent(file: String, detail: String)
    /// The cell rejected the parameters after conversion to the compute precision.
    case cell(file: String, layer: Int, CellError)

    /// The file the error is about.
    public var file: String {
        switch self {
        case .io(let e): return e.file
        case .missingCell(let f), .unknownCell(let f, _), .missingTensor(let f, _),
            .unexpectedTensor(let f, _), .wrongShape(let f, _, _, _), .nonFinite(let f, _, _),
            .inconsistent(let f, _), .cell(let f, _, _):
            return f
        }
    }

    public var description: String {
        let name = file.isEmpty ? "<model>" : file
        switch self {
        case .io(let e):
            return e.description
        case .missingCell:
            return "\(name): no \"cell\" entry in the safetensors __metadata__ (expected one of \(CellKind.allNames))"
        case .unknownCell(_, let cell):
            return "\(name): unknown cell \"\(cell)\" (expected one of \(CellKind.allNames))"
        case .missingTensor(_, let tensor):
            return "\(name): missing tensor '\(tensor)'"
        case .unexpectedTensor(_, let tensor):
            return "\(name): unexpected tensor '\(tensor)' (not a parameter of this cell)"
        case .wrongShape(_, let tensor, let shape, let detail):
            return "\(name): tensor '\(tensor)' has shape [\(shape.map(String.init).joined(separator: ", "))]: \(detail)"
        case .nonFinite(_, let tensor, let index):
            return "\(name): tensor '\(tensor)' holds NaN or Inf at flat index \(index)"
        case .inconsistent(_, let detail):
            return "\(name): \(detail)"
        case .cell(_, let layer, let error):
            return "\(name): layer \(layer): \(error)"
        }
    }
}
