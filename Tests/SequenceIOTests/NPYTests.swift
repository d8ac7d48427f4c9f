import Foundation
import SequenceIO
import Testing

/// Builds a v1.0 .npy file with an arbitrary header dictionary and `payload` zero bytes of data.
func npyBytes(header: String, payload: Int, version: UInt8 = 1) -> Data {
    var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
    let text = Array(header.utf8) + [0x0A]
    if version == 1 { out += le(UInt16(text.count)) } else { out += le(UInt32(text.count)) }
    out += text
    out += [UInt8](repeating: 0, count: payload)
    return Data(out)
}

@Suite("NPY")
struct NPYTests {
    @Test func readsNumPyFloat32Matrix() throws {
        let t = try NPY.read(contentsOf: fixture("f32_2d.npy"))
        #expect(t.shape == [5, 3])
        #expect(t.scalarType == .float32)
        #expect(t.count == 15)
        #expect(t.asFloat() == (0..<15).map { Float($0) * 0.5 - 1 })
        #expect(t.asDouble() == (0..<15).map { Double($0) * 0.5 - 1 })
    }

    @Test func readsNumPyFloat64Cube() throws {
        let t = try NPY.read(contentsOf: fixture("f64_3d.npy"))
        #expect(t.shape == [2, 4, 3])
        #expect(t.scalarType == .float64)
        #expect(t.asDouble() == (0..<24).map { Double($0) * 0.25 + 0.125 })
    }

    @Test func readsVersion2And3Headers() throws {
        let v2 = try NPY.read(contentsOf: fixture("f64_v2.npy"))
        #expect(try fixtureData("f64_v2.npy")[6] == 2)
        #expect(v2.shape == [3, 2])
        #expect(v2.asDouble() == (0..<6).map { Double($0) * 1.5 - 2 })
        let v3 = try NPY.read(contentsOf: fixture("f32_v3.npy"))
        #expect(try fixtureData("f32_v3.npy")[6] == 3)
        #expect(v3.shape == [4])
        #expect(v3.asFloat() == (0..<4).map { Float($0) * 0.75 })
    }

    @Test func rejectsBigEndianIntegerAndFortranFiles() throws {
        let big = expectError("unsupportedDType", file: "f32_bigendian.npy") { () throws(SequenceIOError) in
            try NPY.read(contentsOf: try! fixture("f32_bigendian.npy"))
        }
        #expect(big?.description.contains("big-endian") == true)
        let int = expectError("unsupportedDType", file: "i64.npy") { () throws(SequenceIOError) in
            try NPY.read(contentsOf: try! fixture("i64.npy"))
        }
        #expect(int?.description.contains("<i8") == true)
        expectError("fortranOrder", file: "fortran.npy") { () throws(SequenceIOError) in
            try NPY.read(contentsOf: try! fixture("fortran.npy"))
        }
    }

    @Test func acceptsNativeAndNotApplicableByteOrderMarks() throws {
        for descr in ["|f8", "=f8"] {
            var d = npyBytes(header: "{'descr': '\(descr)', 'fortran_order': False, 'shape': (1,), }", payload: 0)
            d.append(contentsOf: le((2.5).bitPattern))
            #expect(try NPY.decode(d, name: "x.npy").asDouble() == [2.5])
        }
    }

    @Test func roundTripsThroughEncode() throws {
        let cases: [Tensor] = [
            Tensor(shape: [5, 3], float32: (0..<15).map { Float($0) * 0.5 - 1 }),
            Tensor(shape: [2, 4, 3], float64: (0..<24).map { Double($0) * 0.25 + 0.125 }),
            Tensor(shape: [7], float64: (0..<7).map { sin(Double($0)) }),
            Tensor(shape: [], float32: [3.25]),
            Tensor(shape: [0, 3], float64: []),
            Tensor(shape: [2, 2], float32: [.nan, .infinity, -0.0, .leastNonzeroMagnitude]),
        ]
        for t in cases {
            let data = NPY.encode(t)
            #expect(data[6] == 1)
            let headerLength = Int(data[8]) | Int(data[9]) << 8
            #expect((10 + headerLength) % 64 == 0)
            let back = try NPY.decode(data, name: "t.npy")
            #expect(back.shape == t.shape)
            #expect(back.scalarType == t.scalarType)
            #expect(back.asDouble().map(\.bitPattern) == t.asDouble().map(\.bitPattern))
        }
    }

    @Test func encodeMatchesNumPyValuesAndFileRoundTrip() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let original = try NPY.read(contentsOf: fixture("f64_3d.npy"))
        let url = dir.file("copy.npy")
        try NPY.write(original, to: url)
        #expect(try NPY.read(contentsOf: url) == original)
        #expect(try dir.contents() == ["copy.npy"])
    }

    @Test func switchesToVersion2ForHugeHeaders() throws {
        let t = Tensor(shape: [Int](repeating: 1, count: 25_000), float32: [1.5])
        let data = NPY.encode(t)
        #expect(data[6] == 2)
        let back = try NPY.decode(data, name: "wide.npy")
        #expect(back == t)
    }

    @Test func everyTruncationIsAnError() throws {
        let data = try fixtureData("f32_2d.npy")
        for cut in 0..<data.count {
            let e = caught { () throws(SequenceIOError) in try NPY.decode(data.prefix(cut), name: "cut.npy") }
            #expect(e != nil, "cut at \(cut) decoded")
            #expect(
                ["truncated", "sizeMismatch", "malformedHeader"].contains(e?.caseName ?? ""),
                "cut \(cut): \(String(describing: e))")
        }
        // Also cutting a slice that does not start at index 0.
        let shifted = Data([0xAA]) + data
        #expect(try NPY.decode(shifted.dropFirst(), name: "s.npy").shape == [5, 3])
    }

    @Test func sizeMismatchMessage() {
        let d = npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", payload: 40)
        let e = caught { () throws(SequenceIOError) in try NPY.decode(d, name: "input.npy") }
        #expect(
            e?.description == "input.npy: header declares shape (3, 4) but the file holds 40 bytes of data, 48 needed")
        let extra = npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", payload: 52)
        expectError("sizeMismatch", file: "input.npy") { () throws(SequenceIOError) in
            try NPY.decode(extra, name: "input.npy")
        }
    }

    @Test func hostileShapesAreErrors() {
        let shapes = [
            "(9223372036854775807, 2)",
            "(4611686018427387904, 4)",
            "(2305843009213693952,)",  // 2^61 elements * 4 bytes overflows
            "(-1, 3)",
            "(3, -4)",
            "(99999999999999999999999999,)",
            "(1099511627776,)",
            "(65536, 65536, 65536)",
        ]
        for shape in shapes {
            let d = npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }", payload: 8)
            expectError("sizeMismatch", file: "h.npy") { () throws(SequenceIOError) in try NPY.decode(d, name: "h.npy")
            }
        }
    }

    @Test func garbageHeadersAreErrors() {
        let headers = [
            "hello",
            "{'descr': '<f4', 'fortran_order': False}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}",
            "{'descr': '<f4', 'fortran_order': 'no', 'shape': (2,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': [2]}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)",
            "{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}",
            "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} trailing",
            String(repeating: "(", count: 5000),
            "",
        ]
        for h in headers {
            let d = npyBytes(header: h, payload: 8)
            expectError("malformedHeader", file: "g.npy") { () throws(SequenceIOError) in
                try NPY.decode(d, name: "g.npy")
            }
        }
        let structured = npyBytes(
            header: "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", payload: 8)
        expectError("unsupportedDType", file: "g.npy") { () throws(SequenceIOError) in
            try NPY.decode(structured, name: "g.npy")
        }
        var badUTF8 = npyBytes(
            header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", payload: 8, version: 3)
        badUTF8[14] = 0xFF
        expectError("malformedHeader", file: "g.npy") { () throws(SequenceIOError) in
            try NPY.decode(badUTF8, name: "g.npy")
        }
    }

    @Test func badMagicAndVersion() throws {
        var d = try fixtureData("f32_2d.npy")
        d[1] = UInt8(ascii: "M")
        expectError("badMagic", file: "m.npy") { () throws(SequenceIOError) in try NPY.decode(d, name: "m.npy") }
        expectError("badMagic", file: "m.npy") { () throws(SequenceIOError) in
            try NPY.decode(Data("PK".utf8), name: "m.npy")
        }
        var v = try fixtureData("f32_2d.npy")
        v[6] = 4
        let e = expectError("unsupportedVersion", file: "v.npy") { () throws(SequenceIOError) in
            try NPY.decode(v, name: "v.npy")
        }
        #expect(e?.description.contains("4.0") == true)
    }

    @Test func missingFileIsUnreadable() {
        let url = URL(fileURLWithPath: "/nonexistent-dir-\(UUID().uuidString)/gone.npy")
        let e = expectError("unreadable", file: "gone.npy") { () throws(SequenceIOError) in
            try NPY.read(contentsOf: url)
        }
        #expect((e?.description.count ?? 0) > "gone.npy: cannot read file: ".count)
    }

    @Test func writeRejectsInconsistentTensor() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        var t = Tensor(shape: [2, 2], float32: [1, 2, 3, 4])
        t.shape = [3, 2]
        expectError("invalidArgument", file: "bad.npy") { () throws(SequenceIOError) in
            try NPY.write(t, to: dir.file("bad.npy"))
        }
        #expect(try dir.contents().isEmpty)
    }
}
