import ArgumentParser
import Foundation
import SequenceIO

extension TableOptions.Missing: ExpressibleByArgument {}

/// `--columns` and `--missing`, shared by `solve` and `fit`: how a .csv/.tsv table becomes [T, m].
///
/// ```
/// pararnn fit --input co2.csv --columns co2 --missing interpolate --output co2.safetensors
/// ```
struct TableInputOptions: ParsableArguments {
    static let columnsHelp = ArgumentHelp(
        "Table columns to read as features, by header name or 1-based number, comma-separated; ranges allowed (e.g. realgdp,realcons or 3-5,7). Default: every column but date/time columns.",
        valueName: "list")
    static let missingHelp = ArgumentHelp(
        "Empty (or NA) cells in a table: error, drop (the row), ffill (carry the last value forward) or interpolate (linear; the ends take the nearest value).",
        valueName: "policy")
    static let decimalCommaHelp = ArgumentHelp(
        "Table numbers use a decimal comma (1,5 = 1.5); needs ';' or tab separators. Detected without this flag in ';'-separated tables."
    )
    static let channelsHelp = ArgumentHelp(
        "Audio channels to read as features, 1-based, comma-separated; ranges allowed (e.g. 1 or 2-3). Default: all.",
        valueName: "list")

    @Option(name: .long, help: columnsHelp)
    var columns: String?

    @Option(name: .long, help: missingHelp)
    var missing: TableOptions.Missing = .error

    @Flag(name: .long, help: decimalCommaHelp)
    var decimalComma = false

    @Option(name: .long, help: channelsHelp)
    var channels: String?

    /// The values these options chose.
    var selection: InputSelection {
        InputSelection(columns: columns, missing: missing, decimalComma: decimalComma, channels: channels)
    }

    /// The table options these flags give.
    var tableOptions: TableOptions { selection.tableOptions }

    /// Reads `url` (any input format; `dataset` in an HDF5 file) with these options; notes go to
    /// stderr, one line each.
    func read(_ url: URL, dataset: String? = nil) throws(SequenceIOError) -> Tensor {
        try selection.read(url, dataset: dataset)
    }
}

/// What `--columns`, `--missing`, `--decimal-comma` and `--channels` chose, as plain values:
/// ``TableInputOptions``' (`fit`), or `solve`'s, which declares the four options itself (an
/// option group costs every `solve` process its reflection at start-up).
struct InputSelection {
    var columns: String?
    var missing: TableOptions.Missing
    var decimalComma: Bool
    var channels: String?

    /// The table options these flags give.
    var tableOptions: TableOptions {
        TableOptions(columns: columns, missing: missing, decimalComma: decimalComma ? true : nil)
    }

    /// Reads `url` (any input format; `dataset` in an HDF5 file) with these options; notes go to
    /// stderr, one line each.
    func read(_ url: URL, dataset: String? = nil) throws(SequenceIOError) -> Tensor {
        let (tensor, notes) = try readWithNotes(url, dataset: dataset)
        for note in notes { Console.failure("note: \(url.lastPathComponent): \(note)") }
        return tensor
    }

    /// Reads `url` with these options; the notes (sample rate, skipped columns, filled cells) are returned.
    func readWithNotes(_ url: URL, dataset: String? = nil) throws(SequenceIOError) -> (tensor: Tensor, notes: [String])
    {
        try SequenceInput.read(contentsOf: url, table: tableOptions, channels: channels, dataset: dataset)
    }
}

/// A file argument that may name an HDF5 dataset: `lab.h5:/run1/x` is the file `lab.h5` and the
/// dataset `/run1/x`; any other argument is a plain file.
///
/// ```swift
/// let input = FileArgument("lab.h5:/run1/x")   // input.path == "lab.h5", input.dataset == "/run1/x"
/// ```
struct FileArgument {
    var path: String
    var dataset: String?

    init(_ argument: String) {
        if let location = HDF5.location(argument) {
            (path, dataset) = location
        } else {
            (path, dataset) = (argument, nil)
        }
    }

    var url: URL { URL(fileURLWithPath: path) }
    var isHDF5: Bool { HDF5.isHDF5Path(path) }
    /// The dataset an HDF5 output is written as: the one named, else `/hidden`.
    var outputDataset: String { dataset ?? "/hidden" }
}
