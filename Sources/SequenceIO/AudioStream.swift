import CSndfile
import Foundation

/// An audio file opened through libsndfile for reading by frame offset: only one range of
/// frames is in memory at a time, so a recording of any length is read in bounded memory.
/// Values are float32 in [-1, 1], as ``Audio/read(contentsOf:)`` gives them (integer PCM
/// divided by 2^(bits-1); no resampling).
///
/// ```swift
/// let audio = try AudioStream(contentsOf: URL(fileURLWithPath: "day.flac"))
/// var block = [Float](repeating: 0, count: 4096 * audio.channels)
/// try block.withUnsafeMutableBufferPointer { try audio.read(frames: 0..<4096, into: $0.baseAddress!) }
/// ```
public final class AudioStream: @unchecked Sendable {
    public let name: String
    /// Frames (steps) the file declares; a file that ends early is an error when read.
    public let frames: Int
    public let channels: Int
    public let sampleRate: Int
    /// libsndfile's name of the container and encoding.
    public let format: String
    private let handle: OpaquePointer
    private var position = 0

    public init(contentsOf url: URL) throws(SequenceIOError) {
        name = url.lastPathComponent
        var info = SF_INFO()
        guard FileManager.default.isReadableFile(atPath: url.path) else {
            throw .unreadable(file: url.lastPathComponent, reason: "cannot open it for reading")
        }
        guard let handle = pararnn_sf_open(url.path, Int32(SFM_READ), &info) else {
            throw .malformedHeader(
                file: url.lastPathComponent,
                detail: "not a readable audio file: " + String(cString: pararnn_sf_strerror(nil)))
        }
        self.handle = handle
        channels = Int(info.channels)
        sampleRate = Int(info.samplerate)
        frames = Int(info.frames)
        format = Audio.formatName(handle, info)
        guard (1...4096).contains(channels) else {
            pararnn_sf_close(handle)
            throw .malformedHeader(file: url.lastPathComponent, detail: "\(channels) channels (expected 1 to 4096)")
        }
        guard sampleRate > 0 else {
            pararnn_sf_close(handle)
            throw .malformedHeader(file: url.lastPathComponent, detail: "sample rate \(sampleRate) Hz")
        }
        guard frames > 0 else {
            pararnn_sf_close(handle)
            throw .sizeMismatch(file: url.lastPathComponent, detail: "audio holds no samples")
        }
    }

    deinit { pararnn_sf_close(handle) }

    /// Reads frames `range` into `out`, interleaved `[range.count][channels]`.
    public func read(frames range: Range<Int>, into out: UnsafeMutablePointer<Float>) throws(SequenceIOError) {
        if range.lowerBound != position {
            guard pararnn_sf_seek(handle, sf_count_t(range.lowerBound), SEEK_SET) == sf_count_t(range.lowerBound) else {
                throw .unreadable(file: name, reason: "cannot seek to frame \(range.lowerBound)")
            }
            position = range.lowerBound
        }
        var done = 0
        while done < range.count {
            let got = Int(pararnn_sf_readf_float(handle, out + done * channels, sf_count_t(range.count - done)))
            if got <= 0 {
                let why = pararnn_sf_error(handle) != 0 ? ": " + String(cString: pararnn_sf_strerror(handle)) : ""
                throw .truncated(
                    file: name,
                    detail:
                        "audio data ended at frame \(range.lowerBound + done) of the \(frames) its header declares\(why)"
                )
            }
            done += got
        }
        position = range.upperBound
    }
}
