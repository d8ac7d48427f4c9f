import Foundation

/// Reads recorded input sequences in any supported format.
public enum SequenceInput {
    /// Reads .npy / .csv / .wav by extension (case-insensitive) into a Tensor of shape [T, m] or [B, T, m]
    /// (CSV/WAV give [T, m]); unknown extension → clear error; checks every value is finite and reports
    /// the first NaN/Inf with its index.
    ///
    /// A one-dimensional `.npy` array of length T is returned as `[T, 1]`. Arrays of other ranks and
    /// empty arrays (any extent 0) are rejected with ``SequenceIOError/sizeMismatch(file:detail:)``.
    public static func read(contentsOf url: URL) throws(SequenceIOError) -> Tensor {
        let name = url.lastPathComponent
        let ext = url.pathExtension.lowercased()
        var tensor: Tensor
        switch ext {
        case "npy": tensor = try NPY.read(contentsOf: url)
        case "csv": tensor = try CSV.read(contentsOf: url).tensor
        case "wav", "wave": tensor = try WAV.read(contentsOf: url).tensor
        default: throw .unknownExtension(file: name, ext: url.pathExtension)
        }
        if tensor.shape.count == 1 { tensor.shape.append(1) }
        guard tensor.shape.count == 2 || tensor.shape.count == 3 else {
            throw .sizeMismatch(file: name, detail: "input has shape \(describeShape(tensor.shape)); expected [T, m] or [B, T, m]")
        }
        guard !tensor.shape.contains(0) else {
            throw .sizeMismatch(file: name, detail: "input has shape \(describeShape(tensor.shape)), which holds no values")
        }
        try checkFinite(tensor, name: name)
        return tensor
    }

    /// Throws ``SequenceIOError/nonFinite(file:index:value:)`` for the first NaN or infinity in `tensor`.
    public static func checkFinite(_ tensor: Tensor, name: String) throws(SequenceIOError) {
        let bad: (Int, String)?
        switch tensor.storage {
        case .float32(let v): bad = v.firstIndex { !$0.isFinite }.map { ($0, "\(v[$0])") }
        case .float64(let v): bad = v.firstIndex { !$0.isFinite }.map { ($0, "\(v[$0])") }
        }
        if let (flat, value) = bad {
            throw .nonFinite(file: name, index: Tensor.multiIndex(of: flat, shape: tensor.shape), value: value)
        }
    }
}
