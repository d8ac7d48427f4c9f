import Foundation
import SequenceIO
import Testing

/// URL of a fixture written by Tests/fixtures-scripts/make_io_fixtures.py.
func fixture(_ name: String) throws -> URL {
    let dir = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
    return dir.appendingPathComponent(name)
}

func fixtureData(_ name: String) throws -> Data {
    try Data(contentsOf: fixture(name))
}

/// A fresh empty directory, removed by `cleanup()`.
struct TempDir {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("seqio-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> URL { url.appendingPathComponent(name) }
    func contents() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
    }
    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

/// Runs `body` and returns the error it throws, or nil if it succeeds.
func caught<T>(_ body: () throws(SequenceIOError) -> T) -> SequenceIOError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

extension SequenceIOError {
    /// The case name, for compact assertions.
    var caseName: String { Mirror(reflecting: self).children.first?.label ?? "\(self)" }
}

/// Asserts `body` throws a SequenceIOError of case `name` whose description starts with `file + ": "`.
@discardableResult
func expectError<T>(
    _ name: String, file: String, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws(SequenceIOError) -> T
) -> SequenceIOError? {
    guard let error = caught(body) else {
        Issue.record("expected \(name) error, but the call succeeded", sourceLocation: sourceLocation)
        return nil
    }
    #expect(error.caseName == name, "got \(error.caseName): \(error)", sourceLocation: sourceLocation)
    #expect(error.description.hasPrefix(file + ": "), "\(error)", sourceLocation: sourceLocation)
    return error
}

/// A deterministic SplitMix64 generator for the fuzz tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
