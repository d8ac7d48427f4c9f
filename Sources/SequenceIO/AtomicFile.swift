import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Atomic whole-file writes: readers of `url` see either the old contents or the complete new contents.
public enum AtomicFile {
    /// Writes data to a temporary file in the same directory, then renames it over `url`;
    /// on any failure removes the temp file and leaves no partial output.
    ///
    /// - Throws: ``SequenceIOError/writeFailed(file:reason:)`` with the system's reason
    ///   (e.g. the directory does not exist or is not writable).
    public static func write(_ data: Data, to url: URL) throws(SequenceIOError) {
        let name = url.lastPathComponent
        guard url.isFileURL else {
            throw .writeFailed(file: name, reason: "\(url) is not a file URL")
        }
        let directory = url.deletingLastPathComponent()
        let tempURL = directory.appendingPathComponent(".\(name.prefix(100)).\(UUID().uuidString).tmp")
        let tempPath = tempURL.path
        let finalPath = url.path

        let fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw .writeFailed(file: name, reason: "cannot create a temporary file in \(directory.path): \(errnoMessage())")
        }
        var failure: String?
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = "writing \(raw.count) bytes: \(errnoMessage())"
                    return
                }
                offset += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = "fsync: \(errnoMessage())" }
        if close(fd) != 0, failure == nil { failure = "close: \(errnoMessage())" }
        if failure == nil, rename(tempPath, finalPath) != 0 {
            failure = "renaming the temporary file to \(finalPath): \(errnoMessage())"
        }
        if let failure {
            unlink(tempPath)
            throw .writeFailed(file: name, reason: failure)
        }
    }
}

func errnoMessage() -> String {
    String(cString: strerror(errno))
}
