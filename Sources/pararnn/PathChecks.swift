import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Checks on the files a command will read and write, done before any work: an output must
/// never replace an input, and its folder must be writable.
enum PathChecks {
    /// `path` made absolute and standardised, with every symbolic link in its existing part
    /// resolved (the part that does not exist yet is appended as written).
    static func canonical(_ path: String) -> String {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        var head = absolute
        var tail: [String] = []
        while true {
            if let resolved = realpath(head, nil) {
                defer { free(resolved) }
                let base = String(cString: resolved)
                return tail.isEmpty
                    ? base : (base as NSString).appendingPathComponent(tail.reversed().joined(separator: "/"))
            }
            let parent = (head as NSString).deletingLastPathComponent
            if parent == head || parent.isEmpty { return absolute }
            tail.append((head as NSString).lastPathComponent)
            head = parent
        }
    }

    /// Whether two paths name the same file: the same device and inode when both exist (this
    /// catches symbolic and hard links), otherwise the same canonical path.
    static func sameFile(_ a: String, _ b: String) -> Bool {
        var sa = stat()
        var sb = stat()
        if stat(a, &sa) == 0, stat(b, &sb) == 0 { return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino }
        return canonical(a) == canonical(b)
    }

    /// Why `path` cannot be written as a new or replaced file, or nil if it can: it must not be
    /// a folder, and its nearest existing folder must be writable (missing folders are created).
    static func writeProblem(_ path: String) -> String? {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        let url = URL(fileURLWithPath: path).standardizedFileURL
        if fm.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            return "is a folder"
        }
        var folder = url.deletingLastPathComponent()
        while !fm.fileExists(atPath: folder.path, isDirectory: &isDirectory) {
            let parent = folder.deletingLastPathComponent()
            if parent.path == folder.path { break }
            folder = parent
        }
        if !isDirectory.boolValue { return "\(folder.path) is not a folder" }
        if access(folder.path, W_OK | X_OK) != 0 {
            return "folder \(folder.path) is not writable (\(String(cString: strerror(errno))))"
        }
        return nil
    }

    /// Refuses (with one line) an output that names the same file as an input or as another
    /// output, or whose folder is not writable.
    /// - Parameters:
    ///   - outputs: (option, path) of each file to be written.
    ///   - inputs: (option, path) of each file read.
    static func check(outputs: [(String, String)], inputs: [(String, String)]) throws(PathError) {
        for (i, (option, path)) in outputs.enumerated() {
            for (inputOption, input) in inputs where sameFile(path, input) {
                throw PathError(
                    "\(option) \(path) is the same file as \(inputOption) \(input): refusing to overwrite an input")
            }
            for (otherOption, other) in outputs[..<i] where sameFile(path, other) {
                throw PathError("\(option) \(path) and \(otherOption) \(other) name the same file")
            }
        }
        for (option, path) in outputs {
            if let problem = writeProblem(path) {
                throw PathError("\((path as NSString).lastPathComponent): cannot write \(option) \(path): \(problem)")
            }
        }
    }
}

/// A refused path: `message` is the one line to print.
struct PathError: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
