import Foundation
import SequenceIO
import Testing

/// WAV through libsndfile (``Audio``): values written by Python's `wave` module and by the
/// test-only ``TestWAV`` writer, and hostile RIFF structures.
@Suite("WAV (libsndfile)")
struct WAVTests {
    @Test func readsPCM16StereoFromPythonWave() throws {
        let audio = try Audio.read(contentsOf: fixture("pcm16_stereo.wav"))
        #expect(audio.sampleRate == 8000)
        #expect(audio.tensor.shape == [6, 2])
        #expect(audio.tensor.scalarType == .float32)
        var expected: [Float] = []
        for i in 0..<6 {
            expected.append(Float(i * 1000 - 2500) / 32768)
            expected.append(Float(-32768 + i * 13107) / 32768)
        }
        #expect(audio.tensor.asFloat() == expected)
    }

    @Test func readsFloat32MonoSkippingOddListChunk() throws {
        let audio = try Audio.read(contentsOf: fixture("float32_mono.wav"))
        #expect(audio.sampleRate == 16000)
        #expect(audio.tensor.shape == [5, 1])
        #expect(audio.tensor.asFloat() == (0..<5).map { Float($0) * 0.25 - 0.5 })
    }

    /// PCM16 (clamped), float32, extensible (> 2 channels) and mono files come back exactly.
    @Test func writtenFilesReadBack() throws {
        let pcm = Tensor(shape: [4, 2], float32: [-1, 0.5, 32767.0 / 32768, -0.25, 0, 1.0 / 32768, 0.125, -0.75])
        let back = try Audio.decode(TestWAV.encode(pcm, sampleRate: 44100, pcm16: true), name: "pcm.wav")
        #expect(back.sampleRate == 44100)
        #expect(back.tensor == pcm)
        let clamped = try Audio.decode(
            TestWAV.encode(Tensor(shape: [3, 1], float32: [1.5, -2, 1]), sampleRate: 8000, pcm16: true), name: "c.wav")
        #expect(clamped.tensor.asFloat() == [32767.0 / 32768, -1, 32767.0 / 32768])
        let floats = Tensor(shape: [3, 3], float64: [0.1, -0.2, 0.5, 1e-7, -0.9, 0, 0.7, 0.8, 0.9])
        let multi = try Audio.decode(TestWAV.encode(floats, sampleRate: 48000, pcm16: false), name: "f.wav")
        #expect(multi.sampleRate == 48000 && multi.tensor.shape == [3, 3])
        #expect(multi.tensor.asFloat() == floats.asFloat())
        let five = Tensor(shape: [1, 5], float32: [0, 0.5, -0.5, 0.25, -1])
        #expect(try Audio.decode(TestWAV.encode(five, sampleRate: 8000, pcm16: true), name: "5.wav").tensor == five)
    }

    /// Encodings the hand-written reader refused (8/24/32-bit PCM, extensible 24-bit) are read.
    @Test func widerEncodingsAreRead() throws {
        // 24-bit PCM: 0x400000 = 2^22 → 0.5.
        let pcm24 = try Audio.decode(
            wavBytes(fmt: fmtChunk(code: 1, bits: 24), data: [0, 0, 0x40, 0, 0, 0xC0]), name: "p.wav")
        #expect(pcm24.tensor.asFloat() == [0.5, -0.5])
        // 8-bit PCM is unsigned: 192 → 0.5.
        let pcm8 = try Audio.decode(wavBytes(fmt: fmtChunk(code: 1, bits: 8), data: [192, 64]), name: "p.wav")
        #expect(pcm8.tensor.asFloat() == [0.5, -0.5])
        let ext =
            le(UInt16(0xFFFE)) + le(UInt16(1)) + le(UInt32(8000)) + le(UInt32(24000)) + le(UInt16(3)) + le(UInt16(24))
            + le(UInt16(22)) + le(UInt16(24)) + le(UInt32(0)) + le(UInt16(1))
            + [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71]
        #expect(try Audio.decode(wavBytes(fmt: ext, data: [0, 0, 0x40]), name: "x.wav").tensor.asFloat() == [0.5])
    }

    /// Broken containers and chunks: one error line naming the file, never a crash.
    @Test func hostileStructures() {
        let fmt = fmtChunk(code: 1, channels: 2, bits: 16)
        let cases: [Data] = [
            wavBytes(fmt: fmt, data: [0, 0, 0, 0], riff: "RIFX"), wavBytes(fmt: fmt, data: [0, 0, 0, 0], wave: "AVI "),
            Data("RIFF".utf8),
            Data(Array("RIFF".utf8) + le(UInt32(12)) + Array("WAVEdata".utf8) + le(UInt32(0))),
            Data(Array("RIFF".utf8) + le(UInt32(28)) + Array("WAVEfmt ".utf8) + le(UInt32(16)) + fmt),
            wavBytes(fmt: Array(fmt.prefix(14)), data: []),
            wavBytes(fmt: fmtChunk(code: 1, channels: 0, bits: 16), data: [0, 0]),
            wavBytes(fmt: fmtChunk(code: 2, bits: 4), data: [UInt8](repeating: 0, count: 24)),
            wavBytes(fmt: fmt, data: []),
        ]
        for (i, data) in cases.enumerated() {
            let e = caught { () throws(SequenceIOError) in try Audio.decode(data, name: "t.wav") }
            #expect(e != nil, "case \(i)")
            #expect(
                e?.description.hasPrefix("t.wav: ") == true && e?.description.contains("\n") == false,
                "case \(i): \(String(describing: e))")
        }
    }

    @Test func everyTruncationIsHandled() throws {
        let data = try fixtureData("float32_mono.wav")
        for cut in 0..<data.count {
            if let e = caught({ () throws(SequenceIOError) in try Audio.decode(data.prefix(cut), name: "c.wav") }) {
                #expect(e.description.hasPrefix("c.wav: "), "cut \(cut)")
            }
        }
    }
}
