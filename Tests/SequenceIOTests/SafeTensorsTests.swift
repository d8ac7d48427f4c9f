import Foundation
import SequenceIO
import Testing

/// Builds a safetensors file from a raw JSON header and data bytes (`declared` overrides the length field).
func safetensorsBytes(header: String, data: [UInt8], declared: UInt64? = nil) -> Data {
    let h = Array(header.utf8)
    return Data(le(declared ?? UInt64(h.count)) + h + data)
}

@Suite("SafeTensors")
struct SafeTensorsTests {
    @Test func readsHandWrittenFile() throws {
        let file = try SafeTensors.read(contentsOf: fixture("model.safetensors"))
        #expect(file.metadata == ["cell": "paragru"])
        #expect(Set(file.tensors.keys) == ["a.weight", "b.bias"])
        let a = try file.tensor(named: "a.weight")
        #expect(a.shape == [2, 3])
        #expect(a.scalarType == .float32)
        #expect(a.asFloat() == (0..<6).map { Float($0) * 0.5 - 1 })
        let b = try file.tensor(named: "b.bias")
        #expect(b.shape == [4])
        #expect(b.scalarType == .float64)
        #expect(b.asDouble() == (0..<4).map { Double($0) * 0.1 + 1 })
        let missing = expectError("missingTensor", file: "model.safetensors") { () throws(SequenceIOError) in
            try file.tensor(named: "weight_hh_l0")
        }
        #expect(missing?.description == "model.safetensors: no tensor named 'weight_hh_l0'")
    }

    @Test func encodeReproducesReferenceBytes() throws {
        let bytes = try fixtureData("model.safetensors")
        let file = try SafeTensors.decode(bytes, name: "model.safetensors")
        #expect(SafeTensors.encode(file) == bytes)
    }

    @Test func roundTripWithMetadata() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let file = SafeTensors.File(
            tensors: [
                "layers.0.A": Tensor(shape: [3, 2, 2], float32: (0..<12).map { Float($0) / 7 }),
                "layers.0.b": Tensor(shape: [5], float64: (0..<5).map { Double($0).squareRoot() }),
                "odd \"name\" ü": Tensor(shape: [1], float32: [1]),  // 4 bytes: later tensors start unaligned
                "scalar": Tensor(shape: [], float64: [42]),
                "zero": Tensor(shape: [0, 4], float32: []),
            ],
            metadata: ["cell": "paralstm", "note": "quote \" backslash \\ newline \n tab \t ctl \u{1}"])
        let url = dir.file("m.safetensors")
        try SafeTensors.write(file, to: url)
        let raw = try Data(contentsOf: url)
        let headerLength = raw.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect((8 + headerLength) % 8 == 0)
        let back = try SafeTensors.read(contentsOf: url)
        #expect(back == file)
        #expect(back.sourceName == "m.safetensors")
        #expect(try dir.contents() == ["m.safetensors"])
        #expect(try SafeTensors.decode(SafeTensors.encode(SafeTensors.File()), name: "e") == SafeTensors.File())
    }

    @Test func headerLengthChecks() throws {
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        let ok = safetensorsBytes(header: header, data: [0, 0, 128, 63])
        #expect(try SafeTensors.decode(ok, name: "ok").tensors["a"]?.asFloat() == [1])
        expectError("truncated", file: "s.safetensors") { () throws(SequenceIOError) in
            try SafeTensors.decode(safetensorsBytes(header: header, data: [], declared: 1000), name: "s.safetensors")
        }
        expectError("malformedHeader", file: "s.safetensors") { () throws(SequenceIOError) in
            try SafeTensors.decode(
                safetensorsBytes(header: header, data: [], declared: 200_000_000), name: "s.safetensors")
        }
        expectError("malformedHeader", file: "s.safetensors") { () throws(SequenceIOError) in
            try SafeTensors.decode(safetensorsBytes(header: header, data: [], declared: .max), name: "s.safetensors")
        }
        for cut in 0..<ok.count {
            #expect(
                caught { () throws(SequenceIOError) in try SafeTensors.decode(ok.prefix(cut), name: "c") } != nil,
                "cut \(cut)")
        }
    }

    @Test func offsetChecks() {
        let cases: [(String, String, String)] = [
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}"#, "truncated", "beyond"),
            (
                #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
                "malformedHeader", "overlap"
            ),
            (#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, "sizeMismatch", "span 8"),
            (
                #"{"a":{"dtype":"F32","shape":[9223372036854775807,2],"data_offsets":[0,8]}}"#, "sizeMismatch",
                "more elements"
            ),
            (#"{"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,8]}}"#, "sizeMismatch", "too many"),
            (
                #"{"a":{"dtype":"F32","shape":[99999999999999999999999],"data_offsets":[0,8]}}"#, "malformedHeader",
                "not an integer"
            ),
            (#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, "malformedHeader", "negative"),
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, "malformedHeader", "begin after end"),
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}}"#, "malformedHeader", "expected 2"),
            (#"{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#, "malformedHeader", "2.5"),
            (#"{"a":{"dtype":"F32","shape":[2]}}"#, "malformedHeader", "needs dtype"),
        ]
        for (header, kind, fragment) in cases {
            let d = safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 12))
            let e = expectError(kind, file: "o.safetensors") { () throws(SequenceIOError) in
                try SafeTensors.decode(d, name: "o.safetensors")
            }
            #expect(e?.description.contains(fragment) == true, "\(String(describing: e))")
        }
    }

    @Test func unknownDTypesNameTheTensor() {
        for dtype in ["BF16", "I64", "F16", "U8", "bogus"] {
            let header =
                #"{"__metadata__":{"cell":"gru"},"weight_ih_l0":{"dtype":"\#(dtype)","shape":[2],"data_offsets":[0,8]}}"#
            let d = safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 8))
            let e = expectError("unsupportedDType", file: "gru.safetensors") { () throws(SequenceIOError) in
                try SafeTensors.decode(d, name: "gru.safetensors")
            }
            #expect(e?.description.contains("weight_ih_l0") == true)
            #expect(e?.description.contains(dtype) == true)
        }
    }

    @Test func jsonGarbage() {
        let headers = [
            "not json at all", "[1,2,3]", "{", "{\"a\":}", "{\"a\":{\"dtype\":\"F32\",}}", "{\"a\" 1}",
            "{\"a\":\"\\x\"}", "{\"a\":\"\u{1}\"}", "{\"a\":tru}", "{\"a\":1,\"a\":2}",
            "{\"__metadata__\":{\"k\":1}}", "{\"__metadata__\":[]}", "{\"a\":[]}",
            "{\"a\":{\"dtype\":1,\"shape\":[],\"data_offsets\":[0,0]}}",
            String(repeating: "[", count: 10_000), "{\"a\":\"\\ud800\"}", "{} x", "{\"a\":-}", "{\"a\":01}",
        ]
        for h in headers {
            let d = safetensorsBytes(header: h, data: [])
            expectError("malformedHeader", file: "j.safetensors") { () throws(SequenceIOError) in
                try SafeTensors.decode(d, name: "j.safetensors")
            }
        }
        var invalidUTF8 = Array(#"{"__metadata__":{"k":"ab"}}"#.utf8)
        invalidUTF8[22] = 0xC3
        expectError("malformedHeader", file: "j") { () throws(SequenceIOError) in
            try SafeTensors.decode(Data(le(UInt64(invalidUTF8.count)) + invalidUTF8), name: "j")
        }
    }

    @Test func writeRejectsReservedName() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let file = SafeTensors.File(tensors: ["__metadata__": Tensor(shape: [1], float32: [0])])
        expectError("invalidArgument", file: "r.safetensors") { () throws(SequenceIOError) in
            try SafeTensors.write(file, to: dir.file("r.safetensors"))
        }
        #expect(try dir.contents().isEmpty)
    }
}
