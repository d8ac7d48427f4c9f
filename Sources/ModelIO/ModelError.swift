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
    /// The state dict holds several recurrent modules (their prefixes); one must be picked.
    case ambiguousModule(file: String, modules: [String])
    /// The requested module prefix holds no recurrent parameters.
    case moduleNotFound(file: String, module: String, modules: [String])

    /// The file the error is about.
    public var file: String {
        switch self {
        case .io(let e): return e.file
        case .missingCell(let f), .unknownCell(let f, _), .missingTensor(let f, _),
            .unexpectedTensor(let f, _), .wrongShape(let f, _, _, _), .nonFinite(let f, _, _),
            .inconsistent(let f, _), .cell(let f, _, _), .ambiguousModule(let f, _),
            .moduleNotFound(let f, _, _):
            return f
        }
    }

    public var description: String {
        let name = file.isEmpty ? "<model>" : file
        switch self {
        case .io(let e):
            return e.description
        case .missingCell:
            return
                "\(name): no PyTorch recurrent parameters (weight_ih_l0, weight_hh_l0, … of nn.GRU/nn.LSTM/nn.RNN, or weight_ih, weight_hh, … of their Cell variants) and no \"cell\" entry in the safetensors __metadata__ (expected one of \(CellKind.allNames))"
        case .unknownCell(_, let cell):
            return "\(name): unknown cell \"\(cell)\" (expected one of \(CellKind.allNames))"
        case .missingTensor(_, let tensor):
            return "\(name): missing tensor '\(tensor)'"
        case .unexpectedTensor(_, let tensor):
            return "\(name): unexpected tensor '\(tensor)' (not a parameter of this cell)"
        case .wrongShape(_, let tensor, let shape, let detail):
            return
                "\(name): tensor '\(tensor)' has shape [\(shape.map(String.init).joined(separator: ", "))]: \(detail)"
        case .nonFinite(_, let tensor, let index):
            return "\(name): tensor '\(tensor)' holds NaN or Inf at flat index \(index)"
        case .inconsistent(_, let detail):
            return "\(name): \(detail)"
        case .cell(_, let layer, let error):
            return "\(name): layer \(layer): \(error)"
        case .ambiguousModule(_, let modules):
            return
                "\(name): holds \(modules.count) recurrent modules (\(modules.map(Self.label).joined(separator: ", "))): pick one with --module PREFIX"
        case .moduleNotFound(_, let module, let modules):
            return
                "\(name): no recurrent module '\(module)' (found: \(modules.map(Self.label).joined(separator: ", ")))"
        }
    }

    /// A module prefix as the user names it: `encoder.rnn` (`<top level>` for none).
    static func label(_ prefix: String) -> String {
        prefix.isEmpty ? "<top level>" : String(prefix.dropLast())
    }
}
