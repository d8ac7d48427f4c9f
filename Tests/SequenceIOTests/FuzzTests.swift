import Foundation
import SequenceIO
import Testing

/// Mutates valid files at random (seeded, deterministic): decoding must succeed or throw, never trap,
/// and anything decoded must be self-consistent.
@Suite("Fuzz")
struct FuzzTests {
    /// Cases per reader fixture: `PARARNN_FUZZ_CASES` if set (a long campaign), else 300
    /// (14 fixtures: 4,200 cases; with the model-loader fuzz in ModelIOTests, ≥ 4,400 in all).
    static let iterations: Int = {
        if let text = ProcessInfo.processInfo.environment["PARARNN_FUZZ_CASES"], let n = Int(text), n > 0 { return n }
        return 300
    }()

    static func mutate(_ original: Data, _ rng: inout SplitMix64) -> Data {
        var bytes = [UInt8](original)
        switch Int.random(in: 0..<5, using: &rng) {
        case 0:  // truncate
            bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng)))
        case 1:  // overwrite a few bytes with 0x00 / 0xFF / random
            for _ in 0..<Int.random(in: 1...4, using: &rng) where !bytes.isEmpty {
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                bytes[i] = [0x00, 0xFF, UInt8.random(in: 0...255, using: &rng)][Int.random(in: 0..<3, using: &rng)]
            }
        case 2:  // flip bits in the first 64 bytes (headers, length fields)
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let i = Int.random(in: 0..<min(64, bytes.count), using: &rng)
                bytes[i] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            }
        case 3:  // insert or delete a byte
            let i = Int.random(in: 0..<bytes.count, using: &rng)
            if Bool.random(using: &rng) {
                bytes.insert(UInt8.random(in: 0...255, using: &rng), at: i)
            } else {
                bytes.remove(at: i)
            }
        default:  // replace a digit with another one (shapes, offsets, lengths in text headers)
            let digits = bytes.indices.filter { (0x30...0x39).contains(bytes[$0]) }
            if let i = digits.randomElement(using: &rng) { bytes[i] = UInt8.random(in: 0x30...0x39, using: &rng) }
        }
        return Data(bytes)
    }

    static func run(_ fixtureName: String, seed: UInt64, decode: (Data) throws(SequenceIOError) -> [Tensor]) throws -> (
        ok: Int, failed: Int
    ) {
        let original = try fixtureData(fixtureName)
        var rng = SplitMix64(seed: seed)
        var ok = 0
        var failed = 0
        for _ in 0..<iterations {
            let input = mutate(original, &rng)
            do {
                for t in try decode(input) { #expect(t.isConsistent) }
                ok += 1
            } catch {
                #expect(error.description.hasPrefix("fuzz: "))
                failed += 1
            }
        }
        #expect(ok + failed == iterations)
        return (ok, failed)
    }

    @Test func npy() throws {
        let r = try Self.run("f32_2d.npy", seed: 1) { (d) throws(SequenceIOError) in [try NPY.decode(d, name: "fuzz")] }
        #expect(r.failed > 0)
        _ = try Self.run("f32_v3.npy", seed: 2) { (d) throws(SequenceIOError) in [try NPY.decode(d, name: "fuzz")] }
    }

    @Test func safetensors() throws {
        let r = try Self.run("model.safetensors", seed: 3) { (d) throws(SequenceIOError) in
            Array(try SafeTensors.decode(d, name: "fuzz").tensors.values)
        }
        #expect(r.failed > 0)
    }

    @Test func wav() throws {
        _ = try Self.run("pcm16_stereo.wav", seed: 4) { (d) throws(SequenceIOError) in
            [try Audio.decode(d, name: "fuzz").tensor]
        }
        _ = try Self.run("float32_mono.wav", seed: 5) { (d) throws(SequenceIOError) in
            [try Audio.decode(d, name: "fuzz").tensor]
        }
    }

    /// libhdf5 on mutated bytes of the h5import fixture (from memory): values or one error line.
    @Test func hdf5() throws {
        _ = try Self.run("hdf5/tools.h5", seed: 11) { (d) throws(SequenceIOError) in
            [
                try HDF5.decode(d, dataset: "/group/deep/batch", name: "fuzz"),
                try HDF5.decode(d, dataset: "/group/counts", name: "fuzz"),
            ]
        }
    }

    @Test func csv() throws {
        _ = try Self.run("with_header.csv", seed: 6) { (d) throws(SequenceIOError) in
            [try CSV.decode(d, name: "fuzz").tensor]
        }
    }

    /// libsndfile on mutated WAV (24-bit extensible, 8-bit), FLAC, AIFF and OGG files.
    @Test func audio() throws {
        for (i, file) in [
            "audio/pcm24.wav", "audio/pcm8.wav", "audio/pcm24.flac", "audio/pcm16.aiff", "audio/vorbis.ogg",
        ].enumerated() {
            _ = try Self.run(file, seed: UInt64(30 + i)) { (d) throws(SequenceIOError) in
                [try Audio.decode(d, name: "fuzz").tensor]
            }
        }
    }

    /// Tables with dates, gaps and quoted headers, under every --missing policy and a column choice.
    @Test func tables() throws {
        let policies = TableOptions.Missing.allCases
        for (i, (file, columns)) in [("co2.csv", nil), ("elec_equip.csv", "2"), ("macrodata.csv", "realgdp,3-5,cpi")]
            .enumerated()
        {
            var k = 0
            _ = try Self.run(file, seed: UInt64(20 + i)) { (d) throws(SequenceIOError) in
                k += 1
                let read = try CSV.decodeTable(
                    d, name: "fuzz",
                    options: TableOptions(columns: k % 2 == 0 ? columns : nil, missing: policies[k % policies.count]))
                #expect(read.tensor.shape.count == 2 && read.tensor.shape[1] == read.columns.count)
                return [read.tensor]
            }
        }
    }
}
