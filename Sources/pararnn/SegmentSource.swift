import Foundation
import ParaRNN
import SequenceIO

/// Where a streamed solve reads its input: the sequence x of shape `[T, m]` or `[B, T, m]`,
/// delivered a range of steps at a time as time-major rows `[count][B][m]`.
///
/// ```swift
/// let source = try openSegmentSource(url, table: options)
/// try buffer.withUnsafeMutableBytes { try source.read(steps: 0..<4096, into: $0.baseAddress!, as: .float32) }
/// ```
protocol SegmentSource: AnyObject {
    /// The input's shape as read (`[T]` becomes `[T, 1]`).
    var shape: [Int] { get }
    /// The stored element type.
    var scalarType: ScalarType { get }
    /// What reading reported (audio rate and encoding, table cells filled).
    var notes: [String] { get }
    /// Reads steps `range` into `out`, time-major `[range.count][B][m]`, converted to `type`.
    /// Throws ``SequenceIOError/nonFinite(file:index:value:)`` (with the file's index
    /// `[t, i]` or `[b, t, i]`) for a NaN or infinity among the values read.
    func read(steps range: Range<Int>, into out: UnsafeMutableRawPointer, as type: ScalarType) throws(SequenceIOError)
}

extension SegmentSource {
    var batched: Bool { shape.count == 3 }
    var batch: Int { batched ? shape[0] : 1 }
    var steps: Int { batched ? shape[1] : shape[0] }
    var features: Int { shape[shape.count - 1] }
}

/// Opens `url` for streaming: a `.npy` is read by offset and audio by frame offset (only the
/// rows of each segment are in memory); tables and HDF5 datasets (`dataset`) are read whole by
/// their reader (``SequenceInput``: columns, missing cells) and then served a segment at a time.
func openSegmentSource(_ url: URL, table: InputSelection, dataset: String? = nil) throws(SequenceIOError)
    -> any SegmentSource
{
    let name = url.lastPathComponent
    let ext = url.pathExtension.lowercased()
    guard ext == "npy" || Audio.extensions.contains(ext) else {
        let (tensor, notes) = try table.readWithNotes(url, dataset: dataset)
        return TensorSource(tensor: tensor, notes: notes)
    }
    if !table.tableOptions.isDefault {
        throw .invalidArgument(
            file: name, detail: "--columns, --missing and --decimal-comma apply to .csv and .tsv tables only")
    }
    if ext != "npy" { return try AudioSource(url: url, channels: table.channels) }
    if table.channels != nil {
        throw .invalidArgument(file: name, detail: "--channels applies to audio files only")
    }
    return try NPYSource(file: NPYFile(contentsOf: url))
}

/// Checks a shape as ``SequenceInput/read(contentsOf:table:channels:)`` does: `[T]` becomes
/// `[T, 1]`; only `[T, m]` and `[B, T, m]` with no zero extent are accepted.
func inputShape(_ stored: [Int], name: String) throws(SequenceIOError) -> [Int] {
    var shape = stored
    if shape.count == 1 { shape.append(1) }
    guard shape.count == 2 || shape.count == 3 else {
        throw .sizeMismatch(file: name, detail: "input has shape \(describe(shape)); expected [T, m] or [B, T, m]")
    }
    guard !shape.contains(0) else {
        throw .sizeMismatch(file: name, detail: "input has shape \(describe(shape)), which holds no values")
    }
    return shape
}

private func describe(_ shape: [Int]) -> String {
    "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
}

/// A `.npy` read with `pread`, one segment (per batch entry) at a time into a reused buffer.
final class NPYSource: SegmentSource {
    let file: NPYFile
    let shape: [Int]
    var scalarType: ScalarType { file.scalarType }
    let notes: [String] = []
    private var staging: [UInt8] = []
    /// Steps asked to be read ahead (``NPYFile/prefetch(elements:)``) so far.
    private var prefetched = 0

    init(file: NPYFile) throws(SequenceIOError) {
        self.file = file
        shape = try inputShape(file.shape, name: file.name)
    }

    func read(steps range: Range<Int>, into out: UnsafeMutableRawPointer, as type: ScalarType) throws(SequenceIOError) {
        let m = features
        let b = batch
        let t = steps
        let n = range.count * m
        let size = file.scalarType.byteSize
        // The disk reads up to 8 MiB ahead while this segment is solved: asked for in 2 MiB
        // pieces, each once (asking again for cached pages costs a walk over them).
        let window = max(range.count, (8 << 20) / max(1, b * m * size))
        if range.upperBound + window / 2 > prefetched, prefetched < t {
            let end = min(t, max(prefetched, range.upperBound) + window)
            for e in 0..<b {
                file.prefetch(elements: ((e * t + max(prefetched, range.upperBound)) * m)..<((e * t + end) * m))
            }
            prefetched = end
        }
        if b == 1, type == file.scalarType {
            try file.read(elements: (range.lowerBound * m)..<(range.upperBound * m), into: out)
            try checkFinite(out, type: type, count: n, steps: range, entry: 0)
            return
        }
        let rowBytes = m * max(size, type.byteSize)
        guard transposesInTiles(rowBytes: rowBytes) else {
            // Rows of a cache line or more: entry by entry, each entry's segment read into
            // `staging` and spread to every B-th row of the time-major segment.
            if staging.count < n * size { staging = [UInt8](repeating: 0, count: n * size) }
            for e in 0..<b {
                try readEntry(e, steps: range, into: 0)
                staging.withUnsafeBytes { raw in
                    scatterRows(
                        from: raw.baseAddress!, type: file.scalarType, rows: range.count, width: m,
                        to: out, type: type, stride: b * m, offset: e * m)
                }
            }
            return
        }
        // Narrow rows (B = 16, m = 4: 16 bytes): every entry's segment into `staging` first, then
        // spread a tile of steps at a time (``transposeTileRows(batch:rowBytes:)``), whose rows
        // of `out` stay in L1 while the B entries fill them. Entry by entry, every cache line of
        // `out` was written by 64 / rowBytes passes over the whole segment.
        if staging.count < b * n * size { staging = [UInt8](repeating: 0, count: b * n * size) }
        for e in 0..<b { try readEntry(e, steps: range, into: e * n * size) }
        staging.withUnsafeBytes { raw in
            let base = raw.baseAddress!
            spreadEntries(
                batch: b, rows: range.count, width: m, from: { base + $0 * n * size }, type: file.scalarType,
                to: out, type: type, tile: transposeTileRows(batch: b, rowBytes: rowBytes))
        }
    }

    /// Reads batch entry `e`'s rows of steps `range` (contiguous in the file) into `staging` at
    /// byte `offset`, and checks that they are finite.
    private func readEntry(_ e: Int, steps range: Range<Int>, into offset: Int) throws(SequenceIOError) {
        let m = features
        let n = range.count * m
        let first = (e * steps + range.lowerBound) * m
        var failure: SequenceIOError?
        staging.withUnsafeMutableBytes { raw in
            let base = raw.baseAddress! + offset
            do throws(SequenceIOError) {
                try file.read(elements: first..<(first + n), into: base)
                try checkFinite(base, type: file.scalarType, count: n, steps: range, entry: e)
            } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Throws for the first non-finite value of `count` values of `type` at `values`, which
    /// hold steps `range` of batch entry `entry`.
    private func checkFinite(
        _ values: UnsafeRawPointer, type: ScalarType, count: Int, steps range: Range<Int>, entry: Int
    ) throws(SequenceIOError) {
        let m = features
        var bad: (Int, String)?
        switch type {
        case .float32:
            let v = UnsafeBufferPointer(start: values.assumingMemoryBound(to: Float.self), count: count)
            if let i = firstNonFinite(v) { bad = (i, "\(v[i])") }
        case .float64:
            let v = UnsafeBufferPointer(start: values.assumingMemoryBound(to: Double.self), count: count)
            if let i = firstNonFinite(v) { bad = (i, "\(v[i])") }
        }
        guard let (i, value) = bad else { return }
        let step = range.lowerBound + i / m
        let index = batched ? [entry, step, i % m] : [step, i % m]
        throw .nonFinite(file: file.name, index: index, value: value)
    }
}

/// A sequence already in memory (a table, audio), served a segment at a time.
final class TensorSource: SegmentSource {
    let tensor: Tensor
    let shape: [Int]
    let notes: [String]
    var scalarType: ScalarType { tensor.scalarType }

    init(tensor: Tensor, notes: [String]) {
        self.tensor = tensor
        self.notes = notes
        shape = tensor.shape.count == 1 ? tensor.shape + [1] : tensor.shape
    }

    func read(steps range: Range<Int>, into out: UnsafeMutableRawPointer, as type: ScalarType) throws(SequenceIOError) {
        // SequenceInput.read has checked every value is finite.
        let m = features
        let b = batch
        let t = steps
        func copy<T>(_ values: [T], _ from: ScalarType) {
            values.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return }
                // Narrow rows a tile of steps at a time, as NPYSource.read does.
                let rowBytes = m * max(from.byteSize, type.byteSize)
                spreadEntries(
                    batch: b, rows: range.count, width: m,
                    from: { base + ($0 * t + range.lowerBound) * m * from.byteSize }, type: from, to: out, type: type,
                    tile: transposesInTiles(rowBytes: rowBytes)
                        ? transposeTileRows(batch: b, rowBytes: rowBytes) : range.count)
            }
        }
        switch tensor.storage {
        case .float32(let v): copy(v, .float32)
        case .float64(let v): copy(v, .float64)
        }
    }
}

/// Whether B entries' rows of `rowBytes` bytes are spread into time-major rows a tile of steps
/// at a time: rows narrower than a cache line share lines between entries, so entry-by-entry
/// passes over a whole segment write each line several times. Wider rows go entry by entry
/// (on the 16-core VM, tiles through a segment-sized staging made a d = 64 GRU's writes 2× slower).
func transposesInTiles(rowBytes: Int) -> Bool { rowBytes < 64 }

/// The steps per tile when B entries' rows of `rowBytes` bytes are spread into time-major rows
/// (the streamed solve's reading of `[B, T, m]` files): a tile of B rows per step stays within
/// 32 KiB, so it is in L1 while the B entries are copied.
func transposeTileRows(batch: Int, rowBytes: Int) -> Int {
    max(1, 32_768 / max(1, batch * rowBytes))
}

/// Spreads B entries' `rows` contiguous rows of `width` values (entry e's at `from(e)`) into
/// time-major rows `[rows][B][width]` at `out`, `tile` steps at a time (all entries of one tile
/// before the next), converting `type` to `toType`.
func spreadEntries(
    batch b: Int, rows: Int, width m: Int, from: (Int) -> UnsafeRawPointer, type: ScalarType,
    to out: UnsafeMutableRawPointer, type toType: ScalarType, tile: Int
) {
    for start in stride(from: 0, to: rows, by: tile) {
        let count = min(tile, rows - start)
        for e in 0..<b {
            scatterRows(
                from: from(e) + start * m * type.byteSize, type: type, rows: count, width: m,
                to: out + start * b * m * toType.byteSize, type: toType, stride: b * m, offset: e * m)
        }
    }
}

/// Copies `rows` rows of `width` values of `type` (contiguous) into every `stride`-th value of
/// `to` (starting at value `offset`), converting to `toType`.
func scatterRows(
    from: UnsafeRawPointer, type: ScalarType, rows: Int, width: Int,
    to: UnsafeMutableRawPointer, type toType: ScalarType, stride: Int, offset: Int
) {
    func run<A: BinaryFloatingPoint, B: BinaryFloatingPoint>(_: A.Type, _: B.Type) {
        let src = from.assumingMemoryBound(to: A.self)
        let dst = to.assumingMemoryBound(to: B.self)
        if A.self == B.self {
            let size = MemoryLayout<A>.size
            copyStridedRows(
                into: UnsafeMutableRawPointer(dst + offset), stride: stride * size, from: UnsafeRawPointer(src),
                stride: width * size, rowBytes: width * size, rows: rows)
            return
        }
        for r in 0..<rows {
            for i in 0..<width { dst[r * stride + offset + i] = B(src[r * width + i]) }
        }
    }
    switch (type, toType) {
    case (.float32, .float32): run(Float.self, Float.self)
    case (.float32, .float64): run(Float.self, Double.self)
    case (.float64, .float32): run(Double.self, Float.self)
    case (.float64, .float64): run(Double.self, Double.self)
    }
}
