import Foundation
import SequenceIO
import Testing

private struct Report: Encodable {
    var strategy: String
    var iterations: Int
    var residuals: [Double]
    var converged: Bool
}

@Suite("AtomicFile and JSONReport")
struct AtomicFileTests {
    @Test func missingDirectoryThrowsAndLeavesNothing() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let target = dir.url.appendingPathComponent("no-such-dir").appendingPathComponent("out.npy")
        let e = expectError("writeFailed", file: "out.npy") { () throws(SequenceIOError) in
            try AtomicFile.write(Data([1, 2, 3]), to: target)
        }
        #expect(e?.description.contains("No such file or directory") == true, "\(String(describing: e))")
        #expect(try dir.contents().isEmpty)
        expectError("writeFailed", file: "h.npy") { () throws(SequenceIOError) in
            try NPY.write(Tensor(shape: [1], float32: [1]), to: dir.url.appendingPathComponent("nope/h.npy"))
        }
        #expect(try dir.contents().isEmpty)
    }

    @Test func successfulWriteLeavesOnlyTheFileAndReplacesOldContents() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let url = dir.file("out.bin")
        try AtomicFile.write(Data("old contents, longer".utf8), to: url)
        try AtomicFile.write(Data("new".utf8), to: url)
        #expect(try Data(contentsOf: url) == Data("new".utf8))
        #expect(try dir.contents() == ["out.bin"])
        try AtomicFile.write(Data(), to: dir.file("empty"))
        #expect(try Data(contentsOf: dir.file("empty")).isEmpty)
    }

    @Test func renameOntoDirectoryFailsAndCleansUp() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let sub = dir.file("sub")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: false)
        try Data("x".utf8).write(to: sub.appendingPathComponent("keep"))
        expectError("writeFailed", file: "sub") { () throws(SequenceIOError) in try AtomicFile.write(Data([1]), to: sub)
        }
        #expect(try dir.contents() == ["sub"])
    }

    @Test func jsonReportIsPrettyAndSorted() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let url = dir.file("report.json")
        try JSONReport.write(
            Report(strategy: "newton/parallel", iterations: 3, residuals: [1, 0.5], converged: true), to: url)
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.hasSuffix("}\n"))
        let keys = ["\"converged\"", "\"iterations\"", "\"residuals\"", "\"strategy\""]
        let positions = keys.map { text.range(of: $0)!.lowerBound }
        #expect(positions == positions.sorted())
        #expect(text.contains("\n  \"converged\" : true"))
        #expect(text.contains("newton/parallel"))
        let parsed = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        #expect(parsed?["iterations"] as? Int == 3)

        expectError("writeFailed", file: "bad.json") { () throws(SequenceIOError) in
            try JSONReport.write(
                Report(strategy: "x", iterations: 0, residuals: [.nan], converged: false), to: dir.file("bad.json"))
        }
        #expect(try dir.contents() == ["report.json"])
    }

    @Test func everyDescriptionStartsWithTheFileName() {
        let errors: [SequenceIOError] = [
            .unreadable(file: "f", reason: "r"), .truncated(file: "f", detail: "d"),
            .badMagic(file: "f", expected: "e"),
            .unsupportedVersion(file: "f", version: "9.0"), .unsupportedDType(file: "f", dtype: "I64", tensor: "t"),
            .unsupportedDType(file: "f", dtype: "I64", tensor: nil), .fortranOrder(file: "f"),
            .malformedHeader(file: "f", detail: "d"), .sizeMismatch(file: "f", detail: "d"),
            .nonFinite(file: "f", index: [1, 2], value: "nan"), .unknownExtension(file: "f", ext: "txt"),
            .missingTensor(file: "f", name: "n"), .csvParse(file: "f", row: 1, column: 2, detail: "d"),
            .invalidArgument(file: "f", detail: "d"),
            .writeFailed(file: "f", reason: "r"),
        ]
        for e in errors {
            #expect(e.description.hasPrefix("f: "), "\(e)")
            #expect(e.file == "f")
        }
    }
}
