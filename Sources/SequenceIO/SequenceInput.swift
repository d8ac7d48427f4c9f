import Foundation

/// Reads recorded input sequences in any supported format.
public enum SequenceInput {
    /// Reads .npy / .csv / .tsv / audio (.wav, .flac, .ogg, .aiff, through libsndfile) / HDF5
    /// (.h5, .hdf5, .he5: the file's only dataset) by extension (case-insensitive) into a Tensor of shape [T, m] or [B, T, m]
    /// (CSV/WAV give [T, m]); unknown extension → clear error; checks every value is finite and reports
    /// the first NaN/Inf with its index.
    ///
    /// A one-dimensional `.npy` array of length T is returned as `[T, 1]`. Arrays of other ranks and
    /// empty arrays (any extent 0) are rejected with ``SequenceIOError/sizeMismatch(file:detail:)``.
    public static func read(contentsOf url: URL) throws(SequenceIOError) -> Tensor {
        try read(contentsOf: url, table: TableOptions()).tensor
    }

    /// Like ``read(contentsOf:)``, with `table` choosing columns and handling missing cells of a
    /// `.csv` / `.tsv` table; `notes` says what was skipped, dropped or filled.
    ///
    /// ```swift
    /// let (x, notes) = try SequenceInput.read(contentsOf: URL(fileURLWithPath: "macro.csv"),
    ///                                         table: TableOptions(columns: "realgdp,realcons"))
    /// ```
    /// Options other than the defaults on a `.npy` or `.wav` input are an error. `dataset` names
    /// the dataset of an HDF5 file (`/group/x`; nil: the file's only dataset), see ``HDF5``.
    public static func read(contentsOf url: URL, table: TableOptions, channels: String? = nil, dataset: String? = nil)
        throws(SequenceIOError) -> (tensor: Tensor, notes: [String])
    {
        let name = url.lastPathComponent
        let ext = url.pathExtension.lowercased()
        var tensor: Tensor
        var notes: [String] = []
        if !["csv", "tsv"].contains(ext), !table.isDefault {
            throw .invalidArgument(
                file: name, detail: "--columns, --missing and --decimal-comma apply to .csv and .tsv tables only")
        }
        if channels != nil, !Audio.extensions.contains(ext) {
            throw .invalidArgument(file: name, detail: "--channels applies to audio files only")
        }
        if dataset != nil, !HDF5.extensions.contains(ext) {
            throw .invalidArgument(
                file: name, detail: "a dataset (file:/path) can be named in HDF5 files (.h5, .hdf5, .he5) only")
        }
        switch ext {
        case "npy": tensor = try NPY.read(contentsOf: url)
        case "csv", "tsv":
            let read = try CSV.readTable(contentsOf: url, options: table)
            tensor = read.tensor
            notes = read.notes
        case _ where Audio.extensions.contains(ext):
            let audio = try Audio.read(contentsOf: url)
            tensor = try audio.tensor.pickingChannels(channels, name: name)
            notes = [
                "\(audio.sampleRate) Hz, \(audio.tensor.shape[1]) channel\(audio.tensor.shape[1] == 1 ? "" : "s")"
                    + (channels.map { " (using \($0))" } ?? "") + ", \(audio.format); not resampled"
            ]
        case _ where HDF5.extensions.contains(ext):
            let read = try HDF5.readDescribed(contentsOf: url, dataset: dataset)
            tensor = read.tensor
            notes = [
                "dataset \(read.dataset), \(read.storedType)"
                    + (read.storedType == tensor.scalarType.rawValue ? "" : " read as \(tensor.scalarType.rawValue)")
            ]
        default: throw .unknownExtension(file: name, ext: url.pathExtension)
        }
        if tensor.shape.count == 1 { tensor.shape.append(1) }
        guard tensor.shape.count == 2 || tensor.shape.count == 3 else {
            throw .sizeMismatch(
                file: name, detail: "input has shape \(describeShape(tensor.shape)); expected [T, m] or [B, T, m]")
        }
        guard !tensor.shape.contains(0) else {
            throw .sizeMismatch(
                file: name, detail: "input has shape \(describeShape(tensor.shape)), which holds no values")
        }
        try checkFinite(tensor, name: name)
        return (tensor, notes)
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
