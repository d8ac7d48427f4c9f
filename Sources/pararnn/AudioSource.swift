import Foundation
import ParaRNN
import SequenceIO

/// Audio read through libsndfile by frame offset (``AudioStream``), one segment at a time, with
/// `--channels` picking the features: a recording of any length is read in bounded memory.
final class AudioSource: SegmentSource {
    let stream: AudioStream
    /// The 0-based channels read as features.
    let picked: [Int]
    let shape: [Int]
    let notes: [String]
    let scalarType: ScalarType = .float32
    private var staging: [Float] = []

    init(url: URL, channels spec: String?) throws(SequenceIOError) {
        stream = try AudioStream(contentsOf: url)
        if let spec {
            picked = try Audio.channelIndices(spec, count: stream.channels, name: stream.name)
        } else {
            picked = Array(0..<stream.channels)
        }
        shape = [stream.frames, picked.count]
        let c = stream.channels
        notes = [
            "\(stream.sampleRate) Hz, \(c) channel\(c == 1 ? "" : "s")" + (spec.map { " (using \($0))" } ?? "")
                + ", \(stream.format); not resampled"
        ]
    }

    func read(steps range: Range<Int>, into out: UnsafeMutableRawPointer, as type: ScalarType) throws(SequenceIOError) {
        let c = stream.channels
        let m = picked.count
        let n = range.count * c
        if staging.count < n { staging = [Float](repeating: 0, count: n) }
        let failure: SequenceIOError? = staging.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return nil }
            do throws(SequenceIOError) {
                try stream.read(frames: range, into: base)
                if let i = firstNonFinite(UnsafeBufferPointer(rebasing: buffer[..<n])) {
                    throw .nonFinite(
                        file: stream.name, index: [range.lowerBound + i / c, i % c], value: "\(buffer[i])")
                }
                return nil
            } catch { return error }
        }
        if let failure { throw failure }
        staging.withUnsafeBufferPointer { src in
            func copy<T: BinaryFloatingPoint>(_: T.Type) {
                let dst = out.assumingMemoryBound(to: T.self)
                for t in 0..<range.count {
                    for (j, channel) in picked.enumerated() { dst[t * m + j] = T(src[t * c + channel]) }
                }
            }
            if type == .float32 { copy(Float.self) } else { copy(Double.self) }
        }
    }
}
