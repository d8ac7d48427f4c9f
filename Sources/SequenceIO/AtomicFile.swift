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
        let temp = try writeTemporary(data, for: url)
        if rename(temp, url.path) != 0 {
            let failure = "renaming the temporary file to \(url.path): \(errnoMessage())"
            unlink(temp)
            throw .writeFailed(file: url.lastPathComponent, reason: failure)
        }
    }

    /// Writes several files as one: every temporary file is written and synced first, and only
    /// then are they renamed over their targets. If any write fails, every temporary file is
    /// removed and no target is touched (all or none). A rename failing after another succeeded
    /// (not expected in one writable folder) leaves the earlier targets replaced and removes
    /// the remaining temporary files.
    public static func write(_ files: [(data: Data, url: URL)]) throws(SequenceIOError) {
        var temps: [String] = []
        for (data, url) in files {
            do { temps.append(try writeTemporary(data, for: url)) } catch {
                for temp in temps { unlink(temp) }
                throw error
            }
        }
        for (i, (_, url)) in files.enumerated() where rename(temps[i], url.path) != 0 {
            let failure = "renaming the temporary file to \(url.path): \(errnoMessage())"
            for temp in temps[i...] { unlink(temp) }
            throw .writeFailed(file: url.lastPathComponent, reason: failure)
        }
    }

    /// Refuses a target that exists and is neither a regular file nor a symbolic link: moving a
    /// new file over a folder, device, pipe or socket (as root, /dev/null) would replace it with a
    /// regular file. Called before any work.
    public static func checkReplaceable(_ url: URL) throws(SequenceIOError) {
        var existing = stat()
        let kind = lstat(url.path, &existing) == 0 ? existing.st_mode & S_IFMT : S_IFREG
        guard kind == S_IFREG || kind == S_IFLNK else {
            throw .writeFailed(
                file: url.lastPathComponent,
                reason:
                    "\(url.path) exists and is not a regular file (a folder, device, pipe or socket); it is not replaced"
            )
        }
    }

    /// The name prefix of `url`'s temporary files: `.NAME.` (then a UUID and `.tmp`).
    static func temporaryPrefix(for url: URL) -> String { ".\(url.lastPathComponent.prefix(100))." }

    /// Removes the temporary files an interrupted ``write(_:to:)`` of `url` may have left in
    /// its folder (`.NAME.<UUID>.tmp`); returns their names. Other files are never touched.
    @discardableResult
    public static func removeTemporaryFiles(for url: URL) -> [String] {
        let directory = url.deletingLastPathComponent()
        let prefix = temporaryPrefix(for: url)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        var removed: [String] = []
        for name in names where name.hasPrefix(prefix) && name.hasSuffix(".tmp") {
            let middle = name.dropFirst(prefix.count).dropLast(4)
            guard UUID(uuidString: String(middle)) != nil else { continue }
            if unlink(directory.appendingPathComponent(name).path) == 0 { removed.append(name) }
        }
        return removed
    }

    /// Writes and syncs `data` to a new temporary file next to `url`; returns its path.
    static func writeTemporary(_ data: Data, for url: URL) throws(SequenceIOError) -> String {
        let name = url.lastPathComponent
        guard url.isFileURL else {
            throw .writeFailed(file: name, reason: "\(url) is not a file URL")
        }
        try checkReplaceable(url)
        let directory = url.deletingLastPathComponent()
        let tempURL = directory.appendingPathComponent("\(temporaryPrefix(for: url))\(UUID().uuidString).tmp")
        let tempPath = tempURL.path

        let fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw .writeFailed(
                file: name, reason: "cannot create a temporary file in \(directory.path): \(errnoMessage())")
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
        if let failure {
            unlink(tempPath)
            throw .writeFailed(file: name, reason: failure)
        }
        return tempPath
    }
}

func errnoMessage() -> String {
    String(cString: strerror(errno))
}
