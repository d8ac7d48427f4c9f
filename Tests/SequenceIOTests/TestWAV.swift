import Foundation
import SequenceIO

/// A test-only WAV writer (not product code): 16-bit PCM (`x · 32768` rounded, clamped) or
/// 32-bit float, `WAVE_FORMAT_EXTENSIBLE` for more than two channels. Files it writes are read by
/// libsndfile in the tests; the bytes follow the RIFF/WAVE layout directly.
enum TestWAV {
    static func encode(_ tensor: Tensor, sampleRate: Int, pcm16: Bool) -> Data {
        let channels = tensor.shape.count == 2 ? tensor.shape[1] : 1
        let bits = pcm16 ? 16 : 32
        let code: UInt16 = pcm16 ? 1 : 3
        let align = channels * bits / 8
        var fmt =
            le(UInt16(channels > 2 ? 0xFFFE : code)) + le(UInt16(channels)) + le(UInt32(sampleRate))
            + le(UInt32(sampleRate * align)) + le(UInt16(align)) + le(UInt16(bits))
        if channels > 2 {
            fmt +=
                le(UInt16(22)) + le(UInt16(bits)) + le(UInt32(0)) + le(code)
                + [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71]
        }
        let samples: [UInt8] =
            pcm16
            ? tensor.asDouble().flatMap { le(Int16(min(max(($0 * 32768).rounded(), -32768), 32767))) }
            : tensor.asFloat().flatMap { le($0.bitPattern) }
        return wavBytes(fmt: fmt, data: samples)
    }

    static func write(_ tensor: Tensor, sampleRate: Int, pcm16: Bool, to url: URL) throws {
        try encode(tensor, sampleRate: sampleRate, pcm16: pcm16).write(to: url)
    }
}

/// Builds a WAV file from a fmt chunk body and data bytes, with optional extra chunks before "data".
func wavBytes(
    fmt: [UInt8], data: [UInt8], extra: [UInt8] = [], riff: String = "RIFF", wave: String = "WAVE",
    dataSize: UInt32? = nil
) -> Data {
    var body = Array(wave.utf8) + Array("fmt ".utf8) + le(UInt32(fmt.count)) + fmt + extra
    body += Array("data".utf8) + le(dataSize ?? UInt32(data.count)) + data
    if body.count & 1 == 1 { body.append(0) }
    return Data(Array(riff.utf8) + le(UInt32(body.count)) + body)
}

func fmtChunk(code: UInt16, channels: UInt16 = 1, rate: UInt32 = 8000, bits: UInt16) -> [UInt8] {
    let align = channels * bits / 8
    return le(code) + le(channels) + le(rate) + le(rate * UInt32(align)) + le(align) + le(bits)
}
