import Foundation
import SequenceIO
import Testing

private func bits(_ t: Tensor) -> [UInt32] { t.asFloat().map(\.bitPattern) }

@Suite("Audio (libsndfile)")
struct AudioTests {
    /// WAV PCM16 and float32 decode bitwise the same as the hand-written WAV reader did: its
    /// results were stored in `Fixtures/wav_reference/*_<rate>Hz.npy` (commit 60a352a, before the
    /// reader was removed; cross-checked by `Tests/fixtures-scripts/check_wav_reference.py`, a
    /// numpy decoder) for the committed fixtures and for seeded random files of 1–5 channels
    /// (extensible for 3–5), both encodings.
    @Test func pcm16AndFloat32MatchTheHandWrittenReader() throws {
        var cases: [(wav: String, expected: String)] = [
            ("pcm16_stereo.wav", "pcm16_stereo_8000Hz"), ("float32_mono.wav", "float32_mono_16000Hz"),
            ("audio/pcm16.wav", "audio_pcm16_16000Hz"), ("audio/source_f32.wav", "audio_source_f32_16000Hz"),
        ]
        for channels in 1...5 {
            for format in ["pcm16", "float32"] {
                cases.append(
                    (
                        "wav_reference/random_\(channels)ch_\(format).wav",
                        "random_\(channels)ch_\(format)_\(8000 * channels)Hz"
                    ))
            }
        }
        for (wav, expected) in cases {
            let reference = try NPY.read(contentsOf: fixture("wav_reference/\(expected).npy"))
            let audio = try Audio.read(contentsOf: fixture(wav))
            #expect(reference.scalarType == .float32, "\(wav)")
            #expect(audio.tensor.shape == reference.shape, "\(wav)")
            #expect(bits(audio.tensor) == bits(reference), "\(wav)")
            #expect(expected.hasSuffix("_\(audio.sampleRate)Hz"), "\(wav): \(audio.sampleRate) Hz")
        }
    }

    /// sox's conversions of one float32 source agree with it within the encoding's quantisation step.
    @Test func soxEncodingsMatchTheirSource() throws {
        let source = try NPY.read(contentsOf: fixture("wav_reference/audio_source_f32_16000Hz.npy"))
        let cases: [(String, Float, String)] = [
            ("pcm8.wav", 1.0 / 128, "Unsigned 8 bit PCM"), ("pcm16.wav", 1.0 / 32768, "Signed 16 bit PCM"),
            ("pcm24.wav", 1.0 / 8_388_608, "Signed 24 bit PCM"), ("pcm32.wav", 1e-7, "Signed 32 bit PCM"),
            ("pcm24.flac", 1.0 / 8_388_608, "FLAC"), ("pcm16.aiff", 1.0 / 32768, "AIFF"),
            ("vorbis.ogg", 0.15, "Vorbis"),  // lossy: about 0.08 at quality 3,
        ]
        for (name, step, format) in cases {
            let audio = try Audio.read(contentsOf: fixture("audio/" + name))
            #expect(audio.tensor.shape == source.shape, "\(name)")
            #expect(audio.sampleRate == 16000, "\(name)")
            #expect(audio.format.contains(format), "\(name): \(audio.format)")
            let differences: [Float] = zip(audio.tensor.asFloat(), source.asFloat()).map { abs($0 - $1) }
            let worst: Float = differences.max() ?? .infinity
            #expect(worst <= step, "\(name): max difference \(worst)")
        }
    }

    @Test func channelsAndSequenceInput() throws {
        let url = try fixture("audio/pcm24.flac")
        let all = try SequenceInput.read(contentsOf: url, table: TableOptions())
        #expect(
            all.notes == ["16000 Hz, 2 channels, FLAC (Free Lossless Audio Codec), Signed 24 bit PCM; not resampled"])
        let x = all.tensor.asFloat()
        let second = try SequenceInput.read(contentsOf: url, table: TableOptions(), channels: "2").tensor
        let oddSamples: [Float] = stride(from: 1, to: x.count, by: 2).map { x[$0] }
        #expect(second.shape == [320, 1])
        #expect(second.asFloat() == oddSamples)
        let swapped = try SequenceInput.read(contentsOf: url, table: TableOptions(), channels: "2,1").tensor
        var swappedSamples: [Float] = []
        for r in 0..<320 { swappedSamples += [x[2 * r + 1], x[2 * r]] }
        #expect(swapped.asFloat() == swappedSamples)
        for spec in ["3", "0", "2-1", "1,1", "", "a"] {
            let e = expectError("invalidArgument", file: "pcm24.flac") { () throws(SequenceIOError) in
                try SequenceInput.read(contentsOf: url, table: TableOptions(), channels: spec)
            }
            #expect(e?.description.contains("--channels") == true, "\(spec)")
        }
        let npyURL = try fixture("f32_2d.npy")
        let npy = expectError("invalidArgument", file: "f32_2d.npy") { () throws(SequenceIOError) in
            try SequenceInput.read(contentsOf: npyURL, table: TableOptions(), channels: "1")
        }
        #expect(npy?.description.contains("--channels applies to audio files only") == true)
    }

    /// Every prefix of every fixture decodes or throws one line naming the file; garbage is refused.
    @Test func truncationsAndGarbage() throws {
        for name in ["pcm8.wav", "pcm24.wav", "pcm24.flac", "pcm16.aiff", "vorbis.ogg"] {
            let data = try fixtureData("audio/" + name)
            for n in stride(from: 0, to: data.count, by: 7) {
                if let e = caught({ () throws(SequenceIOError) in try Audio.decode(data.prefix(n), name: "cut") }) {
                    #expect(e.description.hasPrefix("cut: ") && !e.description.contains("\n"))
                }
            }
        }
        for garbage in [
            Data(), Data("RIFF\u{10}\u{0}\u{0}\u{0}WAVEfmt ".utf8), Data(repeating: 0xFF, count: 4096),
            Data("fLaC".utf8),
        ] {
            let e = expectError("malformedHeader", file: "g.wav") { () throws(SequenceIOError) in
                try Audio.decode(garbage, name: "g.wav")
            }
            #expect(e?.description.hasPrefix("g.wav: malformed header: not a readable audio file") == true)
        }
    }
}
