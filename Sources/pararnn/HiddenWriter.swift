import Foundation
import ParaRNN
import SequenceIO

/// The output `.npy` of a streamed solve, written as the segments are solved: the header with
/// the final shape `[T, d]` or `[B, T, d]` first, then each segment's rows at their offsets
/// (batch entry e's rows of steps t₀ ..< t₁ at ((e·T + t₀)·d) values past the header). The
/// file appears only on ``commit()`` (see ``StreamingFile``); a run that fails or is
/// interrupted leaves nothing.
///
///     let writer = try HiddenWriter<Float>(url: out, steps: T, batch: 1, width: d, batched: false)
///     try writer.write(h, steps: 0..<4096)     // h: [4096][1][d]
///     try writer.commit()
final class HiddenWriter<S: CellMath> {
    let file: StreamingFile
    let steps: Int, batch: Int, width: Int
    let dataOffset: Int
    private var staging: [S] = []

    init(url: URL, steps: Int, batch: Int, width: Int, batched: Bool) throws(SequenceIOError) {
        file = try StreamingFile(url: url)
        self.steps = steps
        self.batch = batch
        self.width = width
        let shape = batched ? [batch, steps, width] : [steps, width]
        let header = NPY.header(shape: shape, type: S.self == Float.self ? .float32 : .float64)
        try file.write(header, at: 0)
        dataOffset = header.count
    }

    /// Writes h of steps `range`, time-major `[range.count][B][width]`.
    func write(_ hidden: [S], steps range: Range<Int>) throws(SequenceIOError) {
        let size = MemoryLayout<S>.size, rowBytes = width * size
        var failure: SequenceIOError?
        if batch == 1 {
            hidden.withUnsafeBytes { raw in
                do throws(SequenceIOError) {
                    try file.write(raw.baseAddress!, count: range.count * rowBytes, at: dataOffset + range.lowerBound * rowBytes)
                } catch { failure = error }
            }
        } else {
            if staging.count < range.count * width { staging = [S](repeating: 0, count: range.count * width) }
            hidden.withUnsafeBufferPointer { h in
                staging.withUnsafeMutableBufferPointer { out in
                    for e in 0..<batch where failure == nil {
                        for t in 0..<range.count {
                            let src = (t * batch + e) * width
                            for i in 0..<width { out[t * width + i] = h[src + i] }
                        }
                        do throws(SequenceIOError) {
                            try file.write(
                                UnsafeRawPointer(out.baseAddress!), count: range.count * rowBytes,
                                at: dataOffset + (e * steps + range.lowerBound) * rowBytes)
                        } catch { failure = error }
                    }
                }
            }
        }
        if let failure { throw failure }
    }

    /// Syncs and renames the complete file into place.
    func commit() throws(SequenceIOError) { try file.commit() }

    /// Removes the temporary file.
    func discard() { file.discard() }
}
