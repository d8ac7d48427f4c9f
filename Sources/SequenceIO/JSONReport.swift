import Foundation

/// JSON reports (run summaries, residual histories, timings).
public enum JSONReport {
    /// Small helper: pretty-printed, sorted-keys JSON encoding of any Encodable, written atomically.
    ///
    /// - Throws: ``SequenceIOError/writeFailed(file:reason:)`` when encoding fails (e.g. a NaN `Double`)
    ///   or the file cannot be written.
    public static func write<T: Encodable>(_ value: T, to url: URL) throws(SequenceIOError) {
        try AtomicFile.write(try encode(value, name: url.lastPathComponent), to: url)
    }

    /// The bytes ``write(_:to:)`` stores: pretty-printed, sorted keys, slashes unescaped, trailing newline.
    public static func encode<T: Encodable>(_ value: T, name: String = "") throws(SequenceIOError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            var data = try encoder.encode(value)
            data.append(0x0A)
            return data
        } catch {
            throw .writeFailed(file: name, reason: "cannot encode JSON: \(error)")
        }
    }
}
