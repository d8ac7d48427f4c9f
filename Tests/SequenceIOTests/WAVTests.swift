import Foundation
import SequenceIO
import Testing

/// Builds a WAV file from a fmt chunk body and data bytes, with optional extra chunks before "data".
func wavBytes(fmt: [UInt8], data: [UInt8], extra: [UInt8] = [], riff: String = "RIFF", wave: String = "WAVE",
              dataSize: UInt32? = nil) -> Data {
    var body = Array(wave.utf8) + Array("fmt ".utf8) + le(UInt32(fmt.count)) + fmt + extra
    body += Array("data".utf8) + le(dataSize ?? UInt32(data.count)) + data
    return Data(Array(riff.utf8) + le(UInt32(body.count)) + body)
}

func fmtChunk(code: UInt16, channels: UInt16 = 1, rate: UInt32 = 8000, bits: UInt16) -> [UInt8] {
    let align = channels * bits / 8
    return le(code) + le(channels) + le(rate) + le(rate * UInt32(align)) + le(align) + le(bits)
}

@Suite("WAV")
struct WAVTests {
    @Test func readsPCM16StereoFromPythonWave() throws {
        let (t, rate) = try WAV.read(contentsOf: fixture("pcm16_stereo.wav"))
        #expect(rate == 8000)
        #expect(t.shape == [6, 2])
        #expect(t.scalarType == .float32)
        var expected: [Float] = []
        for i in 0..<6 {
            expected.append(Float(i * 1000 - 2500) / 32768)
            expected.append(Float(-32768 + i * 13107) / 32768)
        }
        #expect(t.asFloat() == expected)
        #expect(t.asFloat().allSatisfy { $0 >= -1 && $0 < 1 })
    }

    @Test func readsFloat32MonoSkippingOddListChunk() throws {
        let (t, rate) = try WAV.read(contentsOf: fixture("float32_mono.wav"))
        #expect(rate == 16000)
        #expect(t.shape == [5, 1])
        #expect(t.asFloat() == (0..<5).map { Float($0) * 0.25 - 0.5 })
    }

    @Test func roundTrips() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let pcm = Tensor(shape: [4, 2], float32: [-1, 0.5, 32767.0 / 32768, -0.25, 0, 1.0 / 32768, 0.125, -0.75])
        let stereo = dir.file("pcm.wav")
        try WAV.write(pcm, sampleRate: 44100, format: .pcm16, to: stereo)
        let (back, rate) = try WAV.read(contentsOf: stereo)
        #expect(rate == 44100)
        #expect(back == pcm)

        let floats = Tensor(shape: [3, 3], float64: [0.1, -0.2, 3.5, 1e-7, -1e3, 0, 0.7, 0.8, 0.9])
        let multi = dir.file("float.wav")
        try WAV.write(floats, sampleRate: 48000, format: .float32, to: multi)
        let raw = try Data(contentsOf: multi)
        #expect(raw[20] == 0xFE && raw[21] == 0xFF)  // WAVE_FORMAT_EXTENSIBLE for > 2 channels
        let (fb, frate) = try WAV.read(contentsOf: multi)
        #expect(frate == 48000)
        #expect(fb.shape == [3, 3])
        #expect(fb.asFloat() == floats.asFloat())

        let five = Tensor(shape: [1, 5], float32: [0, 0.5, -0.5, 0.25, -1])
        try WAV.write(five, sampleRate: 8000, format: .pcm16, to: dir.file("five.wav"))
        #expect(try WAV.read(contentsOf: dir.file("five.wav")).tensor == five)

        let mono = Tensor(shape: [3], float32: [0.5, -0.5, 0])
        try WAV.write(mono, sampleRate: 100, format: .float32, to: dir.file("mono.wav"))
        #expect(try WAV.read(contentsOf: dir.file("mono.wav")).tensor.shape == [3, 1])
        #expect(try dir.contents() == ["five.wav", "float.wav", "mono.wav", "pcm.wav"])
    }

    @Test func pcm16ClampsAndRejectsNaN() throws {
        let d = try WAV.encode(Tensor(shape: [3, 1], float32: [1.5, -2, 1]), sampleRate: 8000, format: .pcm16)
        #expect(try WAV.decode(d, name: "c.wav").tensor.asFloat() == [32767.0 / 32768, -1, 32767.0 / 32768])
        expectError("invalidArgument", file: "n.wav") { () throws(SequenceIOError) in
            try WAV.encode(Tensor(shape: [2, 1], float32: [0, .nan]), sampleRate: 8000, format: .pcm16, name: "n.wav")
        }
        expectError("invalidArgument", file: "r.wav") { () throws(SequenceIOError) in
            try WAV.encode(Tensor(shape: [1, 1, 1], float32: [0]), sampleRate: 8000, format: .pcm16, name: "r.wav")
        }
    }

    @Test func rejectsWrongContainer() {
        let fmt = fmtChunk(code: 1, bits: 16)
        expectError("badMagic", file: "w.wav") { () throws(SequenceIOError) in
            try WAV.decode(wavBytes(fmt: fmt, data: [0, 0], riff: "RIFX"), name: "w.wav")
        }
        expectError("badMagic", file: "w.wav") { () throws(SequenceIOError) in
            try WAV.decode(wavBytes(fmt: fmt, data: [0, 0], wave: "AVI "), name: "w.wav")
        }
        expectError("truncated", file: "w.wav") { () throws(SequenceIOError) in try WAV.decode(Data("RIFF".utf8), name: "w.wav") }
    }

    @Test func unsupportedEncodingsNameTheBits() throws {
        for (code, bits) in [(UInt16(1), UInt16(8)), (1, 24), (1, 32), (3, 64), (2, 4)] {
            let d = wavBytes(fmt: fmtChunk(code: code, bits: bits), data: [UInt8](repeating: 0, count: 24))
            let e = expectError("wavUnsupportedFormat", file: "u.wav") { () throws(SequenceIOError) in try WAV.decode(d, name: "u.wav") }
            #expect(e?.description.contains("\(bits) bits") == true, "\(String(describing: e))")
        }
        // Extensible wrapping 24-bit PCM.
        let ext = le(UInt16(0xFFFE)) + le(UInt16(1)) + le(UInt32(8000)) + le(UInt32(24000)) + le(UInt16(3)) + le(UInt16(24))
            + le(UInt16(22)) + le(UInt16(24)) + le(UInt32(0)) + le(UInt16(1))
            + [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71]
        let e = expectError("wavUnsupportedFormat", file: "x.wav") { () throws(SequenceIOError) in
            try WAV.decode(wavBytes(fmt: ext, data: [0, 0, 0]), name: "x.wav")
        }
        #expect(e?.description.contains("PCM with 24 bits") == true)
        // Extensible wrapping 16-bit PCM is fine.
        var ok16 = ext
        ok16[12] = 2; ok16[14] = 16; ok16[18] = 16
        #expect(try WAV.decode(wavBytes(fmt: ok16, data: [0, 64]), name: "x.wav").tensor.asFloat() == [0.5])
        // Unknown sub-format GUID.
        var guid = ok16
        guid[30] = 0x11
        expectError("wavUnsupportedFormat", file: "x.wav") { () throws(SequenceIOError) in
            try WAV.decode(wavBytes(fmt: guid, data: [0, 64]), name: "x.wav")
        }
    }

    @Test func structuralErrors() {
        let fmt = fmtChunk(code: 1, channels: 2, bits: 16)
        let truncated = expectError("truncated", file: "t.wav") { () throws(SequenceIOError) in
            try WAV.decode(wavBytes(fmt: fmt, data: [0, 0, 0, 0], dataSize: 400), name: "t.wav")
        }
        #expect(truncated?.description.contains("data chunk declares 400 bytes") == true)
        expectError("sizeMismatch", file: "t.wav") { () throws(SequenceIOError) in
            try WAV.decode(wavBytes(fmt: fmt, data: [0, 0, 0, 0, 0, 0]), name: "t.wav")
        }
        expectError("malformedHeader", file: "t.wav") { () throws(SequenceIOError) in
            try WAV.decode(Data(Array("RIFF".utf8) + le(UInt32(12)) + Array("WAVEdata".utf8) + le(UInt32(0))), name: "t.wav")
        }
        expectError("malformedHeader", file: "t.wav") { () throws(SequenceIOError) in
            try WAV.decode(Data(Array("RIFF".utf8) + le(UInt32(28)) + Array("WAVEfmt ".utf8) + le(UInt32(16)) + fmt), name: "t.wav")
        }
        expectError("malformedHeader", file: "t.wav") { () throws(SequenceIOError) in
            try WAV.decode(wavBytes(fmt: Array(fmt.prefix(14)), data: []), name: "t.wav")
        }
        expectError("malformedHeader", file: "t.wav") { () throws(SequenceIOError) in
            try WAV.decode(wavBytes(fmt: fmtChunk(code: 1, channels: 0, bits: 16), data: []), name: "t.wav")
        }
        var badAlign = fmt
        badAlign[12] = 3
        expectError("malformedHeader", file: "t.wav") { () throws(SequenceIOError) in
            try WAV.decode(wavBytes(fmt: badAlign, data: []), name: "t.wav")
        }
    }

    @Test func everyTruncationIsHandled() throws {
        let data = try fixtureData("float32_mono.wav")
        for cut in 0..<data.count {
            #expect(caught { () throws(SequenceIOError) in try WAV.decode(data.prefix(cut), name: "c.wav") } != nil, "cut \(cut)")
        }
    }
}
