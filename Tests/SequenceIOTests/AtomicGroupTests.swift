import Foundation
import SequenceIO
import Testing

/// Issue 20: several files written together (both or neither), temp-file cleanup, and error
/// text without raw control characters.
@Suite("AtomicFile groups, temp cleanup, escaping")
struct AtomicGroupTests {
    @Test("a group write is all or nothing: a failing second file leaves the first untouched and no temp files")
    func allOrNothing() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try AtomicFile.write(Data("old model".utf8), to: dir.file("model.safetensors"))
        let error = caught { () throws(SequenceIOError) in
            try AtomicFile.write([
                (data: Data("new model".utf8), url: dir.file("model.safetensors")),
                (data: Data("history".utf8), url: dir.file("missing/h.json")),
            ])
        }
        #expect(error?.file == "h.json")
        #expect(try Data(contentsOf: dir.file("model.safetensors")) == Data("old model".utf8))
        #expect(try dir.contents() == ["model.safetensors"])
        // Both succeed together.
        try AtomicFile.write([
            (data: Data("new model".utf8), url: dir.file("model.safetensors")),
            (data: Data("history".utf8), url: dir.file("h.json")),
        ])
        #expect(try Data(contentsOf: dir.file("model.safetensors")) == Data("new model".utf8))
        #expect(try Data(contentsOf: dir.file("h.json")) == Data("history".utf8))
        #expect(try dir.contents() == ["h.json", "model.safetensors"])
    }

    @Test("removeTemporaryFiles removes only .NAME.<UUID>.tmp of that name")
    func temporaryFileCleanup() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let mine = [".m.safetensors.\(UUID().uuidString).tmp", ".m.safetensors.\(UUID().uuidString).tmp"]
        let others = [
            ".m.safetensors.not-a-uuid.tmp", ".n.safetensors.\(UUID().uuidString).tmp", "m.safetensors",
            ".m.safetensors.\(UUID().uuidString).tmpx",
        ]
        for name in mine + others { try Data("x".utf8).write(to: dir.file(name)) }
        let removed = AtomicFile.removeTemporaryFiles(for: dir.file("m.safetensors"))
        #expect(Set(removed) == Set(mine))
        #expect(try dir.contents() == others.sorted())
    }

    @Test("error descriptions escape control characters (a CSV's \\r stays visible, on one line)")
    func escaping() throws {
        let error = caught { () throws(SequenceIOError) in
            _ = try CSV.decode(Data("1,2\n3,x\ry\n".utf8), name: "cr.csv")
        }
        let text = try #require(error?.description)
        #expect(text == "cr.csv: row 2, column 2: 'x\\ry' is not a number")
        #expect(escapingControlCharacters("a\tb\nc\u{1B}[K") == "a\\tb\\nc\\u{1b}[K")
        #expect(escapingControlCharacters("plain — ü") == "plain — ü")
    }
}
