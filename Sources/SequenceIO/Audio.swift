import CSndfile
import Foundation

/// Recorded audio through libsndfile: WAV (PCM 8/16/24/32-bit, float, extensible), FLAC,
/// OGG/Vorbis, AIFF and the other formats libsndfile reads, as float32 `[T, channels]` in [-1, 1]
/// (integer PCM is divided by 2^(bits-1), as libsndfile's normalised float reads do; no resampling).
///
/// ```swift
/// let audio = try Audio.read(contentsOf: URL(fileURLWithPath: "field.flac"))
/// print(audio.tensor.shape, audio.sampleRate, audio.format)   // [T, 2] 16000 "FLAC, PCM 24-bit"
/// ```
/// The file is read from memory (at most ``maxSamples`` samples, counted before each block is
/// allocated; a header's frame count is never trusted); any failure is one error line naming the file.
public enum Audio {
    /// File extensions read through libsndfile.
    public static let extensions: Set<String> = ["wav", "wave", "flac", "ogg", "oga", "aif", "aiff", "aifc"]
    /// The most samples (frames × channels) one file may hold: 2^28 (1 GiB of float32).
    public static let maxSamples = 1 << 28

    public struct Decoded: Sendable {
        public var tensor: Tensor
        public var sampleRate: Int
        /// libsndfile's name of the container and encoding, e.g. "WAV (Microsoft), Signed 24 bit PCM".
        public var format: String
    }

    public static func read(contentsOf url: URL) throws(SequenceIOError) -> Decoded {
        try decode(try readFileData(url), name: url.lastPathComponent)
    }

    private final class Stream {
        let bytes: [UInt8]
        var position = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
    }

    public static func decode(_ data: Data, name: String) throws(SequenceIOError) -> Decoded {
        let stream = Stream([UInt8](data))
        var io = SF_VIRTUAL_IO(
            get_filelen: { user in sf_count_t(Unmanaged<Stream>.fromOpaque(user!).takeUnretainedValue().bytes.count) },
            seek: { offset, whence, user in
                let s = Unmanaged<Stream>.fromOpaque(user!).takeUnretainedValue()
                let base: Int
                switch whence {
                case SEEK_CUR: base = s.position
                case SEEK_END: base = s.bytes.count
                default: base = 0
                }
                let (target, overflow) = base.addingReportingOverflow(Int(offset))
                guard !overflow, target >= 0 else { return -1 }
                s.position = target
                return sf_count_t(target)
            },
            read: { pointer, count, user in
                let s = Unmanaged<Stream>.fromOpaque(user!).takeUnretainedValue()
                guard count > 0, s.position < s.bytes.count, let pointer else { return 0 }
                let n = min(Int(count), s.bytes.count - s.position)
                s.bytes.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress! + s.position, byteCount: n) }
                s.position += n
                return sf_count_t(n)
            },
            write: { _, _, _ in 0 },
            tell: { user in sf_count_t(Unmanaged<Stream>.fromOpaque(user!).takeUnretainedValue().position) })
        var info = SF_INFO()
        let handle = withExtendedLifetime(stream) {
            pararnn_sf_open_virtual(&io, Int32(SFM_READ), &info, Unmanaged.passUnretained(stream).toOpaque())
        }
        guard let handle else {
            throw .malformedHeader(
                file: name, detail: "not a readable audio file: " + String(cString: pararnn_sf_strerror(nil)))
        }
        // The callbacks read `stream`: it must outlive every libsndfile call, sf_close included.
        defer { withExtendedLifetime(stream) {} }
        defer { pararnn_sf_close(handle) }
        let channels = Int(info.channels)
        guard (1...4096).contains(channels) else {
            throw .malformedHeader(file: name, detail: "\(channels) channels (expected 1 to 4096)")
        }
        guard info.samplerate > 0 else {
            throw .malformedHeader(file: name, detail: "sample rate \(info.samplerate) Hz")
        }
        // Blocks of 2^16 frames; the sample count is checked before each block is allocated.
        let block = 1 << 16
        var samples: [Float] = []
        var chunk = [Float](repeating: 0, count: block * channels)
        while true {
            let got = Int(pararnn_sf_readf_float(handle, &chunk, sf_count_t(block)))
            if got <= 0 { break }
            guard samples.count + got * channels <= maxSamples else {
                throw .sizeMismatch(file: name, detail: "audio holds more than \(maxSamples) samples")
            }
            samples += chunk[..<(got * channels)]
        }
        if pararnn_sf_error(handle) != 0 {
            throw .truncated(file: name, detail: "audio data: " + String(cString: pararnn_sf_strerror(handle)))
        }
        guard !samples.isEmpty else {
            throw .sizeMismatch(file: name, detail: "audio holds no samples")
        }
        guard samples.allSatisfy(\.isFinite) else {
            let i = samples.firstIndex { !$0.isFinite }!
            throw .nonFinite(file: name, index: [i / channels, i % channels], value: "\(samples[i])")
        }
        return Decoded(
            tensor: Tensor(shape: [samples.count / channels, channels], storage: .float32(samples)),
            sampleRate: Int(info.samplerate), format: formatName(handle, info))
    }

    /// libsndfile's names of the container and the encoding, e.g. "WAV (Microsoft), Signed 24 bit PCM".
    static func formatName(_ handle: OpaquePointer, _ info: SF_INFO) -> String {
        func name(_ mask: Int32) -> String {
            var format = SF_FORMAT_INFO()
            format.format = info.format & mask
            if pararnn_sf_command(handle, Int32(SFC_GET_FORMAT_INFO), &format, Int32(MemoryLayout<SF_FORMAT_INFO>.size))
                == 0,
                let n = format.name
            {
                return String(cString: n)
            }
            return ""
        }
        return [name(Int32(SF_FORMAT_TYPEMASK)), name(Int32(SF_FORMAT_SUBMASK))].filter { !$0.isEmpty }.joined(
            separator: ", ")
    }

    /// The 0-based channels `spec` chooses (`1,3-4`: 1-based, comma-separated, ranges allowed)
    /// of `count` channels.
    public static func channelIndices(_ spec: String, count m: Int, name: String, option: String = "--channels")
        throws(SequenceIOError) -> [Int]
    {
        var chosen: [Int] = []
        for item in spec.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = item.trimmingCharacters(in: .whitespaces).split(
                separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            guard bounds.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
                let a = Int(bounds[0]), let b = Int(bounds[bounds.count - 1]), a >= 1, a <= b, b <= m
            else {
                throw .invalidArgument(
                    file: name,
                    detail:
                        "\(option) '\(item.prefix(40))' is not a \(option == "--channels" ? "channel" : "column") or range within 1-\(m)"
                )
            }
            for c in (a - 1)...(b - 1) {
                guard !chosen.contains(c) else {
                    throw .invalidArgument(
                        file: name,
                        detail: "\(option) chooses \(option == "--channels" ? "channel" : "column") \(c + 1) twice")
                }
                chosen.append(c)
            }
        }
        return chosen
    }
}

extension Tensor {
    /// The `[T, m]` tensor's columns chosen by `spec` (`1,3-4`: 1-based, comma-separated, ranges
    /// allowed), or the tensor itself for `nil`.
    func pickingChannels(_ spec: String?, name: String) throws(SequenceIOError) -> Tensor {
        guard let spec, shape.count == 2 else { return self }
        let m = shape[1]
        let chosen = try Audio.channelIndices(spec, count: m, name: name)
        let source = asFloat()
        let t = shape[0]
        var out = [Float](repeating: 0, count: t * chosen.count)
        for r in 0..<t { for (j, c) in chosen.enumerated() { out[r * chosen.count + j] = source[r * m + c] } }
        return Tensor(shape: [t, chosen.count], storage: .float32(out))
    }
}
