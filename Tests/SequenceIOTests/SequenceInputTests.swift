import Foundation
import SequenceIO
import Testing

@Suite("SequenceInput")
struct SequenceInputTests {
    @Test func readsEveryFormatByExtension() throws {
        #expect(try SequenceInput.read(contentsOf: fixture("f32_2d.npy")).shape == [5, 3])
        #expect(try SequenceInput.read(contentsOf: fixture("f64_3d.npy")).shape == [2, 4, 3])
        #expect(try SequenceInput.read(contentsOf: fixture("f32_v3.npy")).shape == [4, 1])
        #expect(try SequenceInput.read(contentsOf: fixture("with_header.csv")).shape == [4, 2])
        #expect(try SequenceInput.read(contentsOf: fixture("pcm16_stereo.wav")).shape == [6, 2])
    }

    @Test func extensionIsCaseInsensitive() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try fixtureData("f32_2d.npy").write(to: dir.file("INPUT.NPY"))
        try fixtureData("no_header.csv").write(to: dir.file("steps.Csv"))
        try fixtureData("float32_mono.wav").write(to: dir.file("audio.WAV"))
        #expect(
            try SequenceInput.read(contentsOf: dir.file("INPUT.NPY")).asFloat() == (0..<15).map { Float($0) * 0.5 - 1 })
        #expect(try SequenceInput.read(contentsOf: dir.file("steps.Csv")).shape == [3, 3])
        #expect(try SequenceInput.read(contentsOf: dir.file("audio.WAV")).shape == [5, 1])
    }

    @Test func unknownExtension() throws {
        let e = expectError("unknownExtension", file: "data.txt") { () throws(SequenceIOError) in
            try SequenceInput.read(contentsOf: URL(fileURLWithPath: "/tmp/data.txt"))
        }
        #expect(
            e?.description
                == "data.txt: unknown input format (extension '.txt'); expected .npy, .csv, .tsv, audio (.wav, .flac, .ogg, .aiff) or HDF5 (.h5, .hdf5)"
        )
        expectError("unknownExtension", file: "README") { () throws(SequenceIOError) in
            try SequenceInput.read(contentsOf: URL(fileURLWithPath: "/tmp/README"))
        }
    }

    @Test func reportsFirstNonFiniteWithIndex() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        var values = [Double](repeating: 0, count: 24)
        values[1 * 12 + 2 * 3 + 1] = .infinity
        values[1 * 12 + 3 * 3 + 0] = .nan
        try NPY.write(Tensor(shape: [2, 4, 3], float64: values), to: dir.file("x.npy"))
        let e = expectError("nonFinite", file: "x.npy") { () throws(SequenceIOError) in
            try SequenceInput.read(contentsOf: dir.file("x.npy"))
        }
        #expect(e == .nonFinite(file: "x.npy", index: [1, 2, 1], value: "inf"))
        #expect(e?.description == "x.npy: non-finite value inf at index [1, 2, 1]")

        try Data("a,b\n1,2\n3,nan\n".utf8).write(to: dir.file("y.csv"))
        let c = expectError("nonFinite", file: "y.csv") { () throws(SequenceIOError) in
            try SequenceInput.read(contentsOf: dir.file("y.csv"))
        }
        #expect(c == .nonFinite(file: "y.csv", index: [1, 1], value: "nan"))

        try TestWAV.write(
            Tensor(shape: [2, 2], float32: [0, 0, -.infinity, 0]), sampleRate: 8000, pcm16: false, to: dir.file("z.wav")
        )
        let w = expectError("nonFinite", file: "z.wav") { () throws(SequenceIOError) in
            try SequenceInput.read(contentsOf: dir.file("z.wav"))
        }
        #expect(w == .nonFinite(file: "z.wav", index: [1, 0], value: "-inf"))
    }

    @Test func rejectsUnusableShapes() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try NPY.write(Tensor(shape: [1, 1, 1, 1], float32: [0]), to: dir.file("r4.npy"))
        expectError("sizeMismatch", file: "r4.npy") { () throws(SequenceIOError) in
            try SequenceInput.read(contentsOf: dir.file("r4.npy"))
        }
        try NPY.write(Tensor(shape: [], float32: [0]), to: dir.file("r0.npy"))
        expectError("sizeMismatch", file: "r0.npy") { () throws(SequenceIOError) in
            try SequenceInput.read(contentsOf: dir.file("r0.npy"))
        }
        try NPY.write(Tensor(shape: [0, 3], float32: []), to: dir.file("empty.npy"))
        expectError("sizeMismatch", file: "empty.npy") { () throws(SequenceIOError) in
            try SequenceInput.read(contentsOf: dir.file("empty.npy"))
        }
        expectError("unreadable", file: "missing.npy") { () throws(SequenceIOError) in
            try SequenceInput.read(contentsOf: dir.file("missing.npy"))
        }
        try FileManager.default.createDirectory(at: dir.file("adir.npy"), withIntermediateDirectories: false)
        expectError("unreadable", file: "adir.npy") { () throws(SequenceIOError) in
            try SequenceInput.read(contentsOf: dir.file("adir.npy"))
        }
    }
}
