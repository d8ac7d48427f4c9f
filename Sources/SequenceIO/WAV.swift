import Foundation

/// RIFF/WAVE audio: 16-bit PCM (format 1) and 32-bit IEEE float (format 3), also wrapped in
/// `WAVE_FORMAT_EXTENSIBLE`; any channel count. Channels become features: shape `[T, channels]`.
public enum WAV {
    /// The sample encoding used by ``write(_:sampleRate:format:to:)``.
    public enum Format: String, Sendable {
        /// 16-bit signed integer PCM; values in [-1, 1] are scaled by 32768 and clamped.
        case pcm16
        /// 32-bit IEEE float, stored unchanged.
        case float32
    }

    private static let extensibleTag: UInt16 = 0xFFFE
    /// The 14 bytes that follow the 2-byte format code in a KSDATAFORMAT_SUBTYPE GUID.
    private static let subtypeSuffix: [UInt8] = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00,
                                                 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71]

    /// Reads the WAV file at `url`: samples as float32 of shape `[T, channels]` (PCM16 scaled to [-1, 1)).
    public static func read(contentsOf url: URL) throws(SequenceIOError) -> (tensor: Tensor, sampleRate: Int) {
        try decode(try readFileData(url), name: url.lastPathComponent)
    }

    /// Decodes WAV bytes; `name` labels errors. Unknown chunks (LIST, fact, …) are skipped,
    /// honouring the pad byte after odd-sized chunks.
    public static func decode(_ data: Data, name: String) throws(SequenceIOError) -> (tensor: Tensor, sampleRate: Int) {
        guard data.count >= 12 else {
            if data.count >= 4, !data.matches("RIFF", at: 0) { throw .badMagic(file: name, expected: "RIFF/WAVE") }
            throw .truncated(file: name, detail: "\(data.count) bytes is shorter than the 12-byte RIFF header")
        }
        guard data.matches("RIFF", at: 0), data.matches("WAVE", at: 8) else {
            throw .badMagic(file: name, expected: "RIFF/WAVE")
        }
        // Trust the RIFF size when it is plausible; streaming writers leave it 0 or 0xFFFFFFFF.
        let declaredEnd = 8 + Int(data.u32LE(at: 4))
        let riffEnd = (12...data.count).contains(declaredEnd) ? declaredEnd : data.count

        var fmt: (offset: Int, size: Int)?
        var body: (offset: Int, size: Int)?
        var offset = 12
        while offset + 8 <= riffEnd {
            let size = Int(data.u32LE(at: offset + 4))
            let start = offset + 8
            let isData = data.matches("data", at: offset), isFmt = data.matches("fmt ", at: offset)
            guard size <= riffEnd - start else {
                let what = isData ? "data chunk" : "chunk '\(chunkID(data, offset))'"
                throw .truncated(file: name, detail: "\(what) declares \(size) bytes but only \(riffEnd - start) remain")
            }
            if isFmt, fmt == nil { fmt = (start, size) }
            if isData, body == nil { body = (start, size) }
            offset = start + size + (size & 1)
        }
        guard let fmt else { throw .malformedHeader(file: name, detail: "no 'fmt ' chunk") }
        guard let body else { throw .malformedHeader(file: name, detail: "no 'data' chunk") }
        guard fmt.size >= 16 else {
            throw .malformedHeader(file: name, detail: "'fmt ' chunk is \(fmt.size) bytes, at least 16 needed")
        }
        var formatCode = data.u16LE(at: fmt.offset)
        let channels = Int(data.u16LE(at: fmt.offset + 2))
        let sampleRate = Int(data.u32LE(at: fmt.offset + 4))
        let blockAlign = Int(data.u16LE(at: fmt.offset + 12))
        let bits = Int(data.u16LE(at: fmt.offset + 14))
        if formatCode == extensibleTag {
            guard fmt.size >= 40 else {
                throw .malformedHeader(file: name, detail: "WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk is \(fmt.size) bytes, 40 needed")
            }
            let validBits = Int(data.u16LE(at: fmt.offset + 18))
            formatCode = data.u16LE(at: fmt.offset + 24)
            let suffixMatches = subtypeSuffix.enumerated().allSatisfy { data.byte(at: fmt.offset + 26 + $0.offset) == $0.element }
            guard suffixMatches else {
                throw .wavUnsupportedFormat(file: name, formatCode: Int(extensibleTag), bitsPerSample: bits)
            }
            guard validBits == 0 || validBits == bits else {
                throw .wavUnsupportedFormat(file: name, formatCode: Int(formatCode), bitsPerSample: validBits)
            }
        }
        switch (formatCode, bits) {
        case (1, 16), (3, 32): break
        default: throw .wavUnsupportedFormat(file: name, formatCode: Int(formatCode), bitsPerSample: bits)
        }
        guard channels > 0 else { throw .malformedHeader(file: name, detail: "channel count is 0") }
        guard sampleRate > 0 else { throw .malformedHeader(file: name, detail: "sample rate is 0") }
        let frameSize = channels * bits / 8
        guard blockAlign == frameSize else {
            throw .malformedHeader(file: name, detail: "block align \(blockAlign) does not match \(channels) channels of \(bits) bits")
        }
        guard body.size % frameSize == 0 else {
            throw .sizeMismatch(file: name, detail: "data chunk holds \(body.size) bytes, not a whole number of \(frameSize)-byte frames")
        }
        let frames = body.size / frameSize
        let count = frames * channels
        let values: [Float]
        if formatCode == 1 {
            values = data.withUnsafeBytes { raw in
                [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                    for i in 0..<count {
                        let s = Int16(littleEndian: raw.loadUnaligned(fromByteOffset: body.offset + 2 * i, as: Int16.self))
                        buffer[i] = Float(s) * (1.0 / 32768.0)
                    }
                    initialized = count
                }
            }
        } else {
            guard case .float32(let v) = decodeScalars(data, offset: body.offset, count: count, type: .float32) else {
                preconditionFailure("decodeScalars returned the wrong storage")
            }
            values = v
        }
        return (Tensor(shape: [frames, channels], storage: .float32(values)), sampleRate)
    }

    private static func chunkID(_ data: Data, _ offset: Int) -> String {
        (0..<4).map { i -> String in
            let b = data.byte(at: offset + i)
            return (0x20..<0x7F).contains(b) ? String(UnicodeScalar(b)) : "?"
        }.joined()
    }

    /// Encodes `tensor` (shape `[T, channels]`, or `[T]` for mono) as WAV bytes.
    ///
    /// PCM16 samples are `x * 32768` rounded to nearest and clamped to the Int16 range, so values read
    /// from a PCM16 file round-trip exactly. More than two channels use `WAVE_FORMAT_EXTENSIBLE`.
    public static func encode(_ tensor: Tensor, sampleRate: Int, format: Format, name: String = "") throws(SequenceIOError) -> Data {
        guard tensor.isConsistent else {
            throw .invalidArgument(file: name, detail: "tensor shape \(describeShape(tensor.shape)) does not match its \(tensor.count) values")
        }
        let channels: Int
        switch tensor.shape.count {
        case 1: channels = 1
        case 2: channels = tensor.shape[1]
        default: throw .invalidArgument(file: name, detail: "WAV needs a tensor of shape [T, channels], got \(describeShape(tensor.shape))")
        }
        guard (1...Int(UInt16.max)).contains(channels) else {
            throw .invalidArgument(file: name, detail: "WAV cannot hold \(channels) channels")
        }
        guard (1...Int(UInt32.max)).contains(sampleRate) else {
            throw .invalidArgument(file: name, detail: "invalid sample rate \(sampleRate)")
        }
        let bits = format == .pcm16 ? 16 : 32
        let code: UInt16 = format == .pcm16 ? 1 : 3
        let frameSize = channels * bits / 8
        let dataSize = tensor.count * bits / 8
        guard frameSize <= Int(UInt16.max), dataSize <= Int(UInt32.max) - 100 else {
            throw .invalidArgument(file: name, detail: "audio too large for a RIFF file (\(dataSize) bytes)")
        }
        let extensible = channels > 2
        var fmt = Data()
        appendLE(extensible ? extensibleTag : code, to: &fmt)
        appendLE(UInt16(channels), to: &fmt)
        appendLE(UInt32(sampleRate), to: &fmt)
        appendLE(UInt32(truncatingIfNeeded: sampleRate * frameSize), to: &fmt)
        appendLE(UInt16(frameSize), to: &fmt)
        appendLE(UInt16(bits), to: &fmt)
        if extensible {
            appendLE(UInt16(22), to: &fmt)
            appendLE(UInt16(bits), to: &fmt)
            appendLE(UInt32(0), to: &fmt)  // no speaker mapping
            appendLE(code, to: &fmt)
            fmt.append(contentsOf: subtypeSuffix)
        } else if format == .float32 {
            appendLE(UInt16(0), to: &fmt)
        }

        var samples = Data()
        switch format {
        case .float32:
            appendScalars(.float32(tensor.asFloat()), to: &samples)
        case .pcm16:
            let values = tensor.asDouble()
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw .invalidArgument(file: name, detail: "cannot store non-finite value \(values[bad]) as PCM16 at flat index \(bad)")
            }
            var bytes = [UInt8](repeating: 0, count: values.count * 2)
            bytes.withUnsafeMutableBytes { raw in
                for (i, x) in values.enumerated() {
                    let s = Int16(min(max((x * 32768).rounded(), -32768), 32767))
                    raw.storeBytes(of: s.littleEndian, toByteOffset: 2 * i, as: Int16.self)
                }
            }
            samples.append(contentsOf: bytes)
        }

        var out = Data()
        out.append(contentsOf: Array("RIFF".utf8))
        let factSize = format == .float32 ? 12 : 0
        appendLE(UInt32(4 + 8 + fmt.count + factSize + 8 + samples.count + (samples.count & 1)), to: &out)
        out.append(contentsOf: Array("WAVEfmt ".utf8))
        appendLE(UInt32(fmt.count), to: &out)
        out.append(fmt)
        if format == .float32 {
            out.append(contentsOf: Array("fact".utf8))
            appendLE(UInt32(4), to: &out)
            appendLE(UInt32(truncatingIfNeeded: tensor.count / channels), to: &out)
        }
        out.append(contentsOf: Array("data".utf8))
        appendLE(UInt32(samples.count), to: &out)
        out.append(samples)
        if samples.count & 1 == 1 { out.append(0) }
        return out
    }

    /// Writes `tensor` (shape `[T, channels]`) as a WAV file at `url`, atomically.
    public static func write(_ tensor: Tensor, sampleRate: Int, format: Format, to url: URL) throws(SequenceIOError) {
        try AtomicFile.write(try encode(tensor, sampleRate: sampleRate, format: format, name: url.lastPathComponent), to: url)
    }
}
