import Foundation
import SequenceIO
import Testing

/// ``StreamingFile``: the file appears only on commit, complete, durable or not; an existing
/// file is replaced (by exchanging names) and leaves nothing behind; a folder or pipe in the
/// way is refused before anything is written.
@Suite struct StreamingFileTests {
    func write(_ text: String, to url: URL, durable: Bool) throws(SequenceIOError) {
        let file = try StreamingFile(url: url, durable: durable)
        let bytes = Data(text.utf8)
        // Positioned writes, the second half first.
        let half = bytes.count / 2
        try file.write(Data(bytes[half...]), at: half)
        try file.write(Data(bytes[..<half]), at: 0)
        try file.commit()
    }

    @Test func commitReplacesAnExistingFileDurableOrNotAndLeavesOnlyIt() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let url = dir.file("h.npy")
        for durable in [false, true] {
            try write("first contents, the longer ones", to: url, durable: durable)
            #expect(try String(contentsOf: url, encoding: .utf8) == "first contents, the longer ones")
            try write("second", to: url, durable: durable)
            #expect(try String(contentsOf: url, encoding: .utf8) == "second")
            #expect(try dir.contents() == ["h.npy"])
            try FileManager.default.removeItem(at: url)
        }
    }

    /// Waits (up to 30 s, polling) until `dir` holds exactly `names`: a detached removal finishes
    /// on its own time.
    func waitForContents(_ dir: TempDir, _ names: [String]) throws -> [String] {
        for _ in 0..<3000 {
            let now = try dir.contents()
            if now == names { return now }
            usleep(10_000)
        }
        return try dir.contents()
    }

    @Test func aLargeReplacedFileIsRemovedByADetachedProcess() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let url = dir.file("h.npy")
        let old = Data(repeating: 7, count: DetachedRemoval.threshold + 4096)
        try old.write(to: url)
        try write("new contents", to: url, durable: false)
        #expect(try String(contentsOf: url, encoding: .utf8) == "new contents")
        #expect(try waitForContents(dir, ["h.npy"]) == ["h.npy"])
    }

    @Test func detachedRemovalTakesAnyFileName() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        for name in ["-rf x", "it's \"quoted\" $HOME;*", ".h.npy.tmp"] {
            let url = dir.file(name)
            try Data("x".utf8).write(to: url)
            try Data("keep".utf8).write(to: dir.file("keep"))
            // Where the system cannot detach it (no /bin/sh, /bin/rm or glibc ≥ 2.34), the file
            // is removed inline by `remove`.
            if DetachedRemoval.isAvailable {
                #expect(DetachedRemoval.spawnDetachedRemoval(of: url.path))
            } else {
                DetachedRemoval.remove(url.path, bytes: DetachedRemoval.threshold)
            }
            #expect(try waitForContents(dir, ["keep"]) == ["keep"], "\(name)")
        }
    }

    @Test func nothingAppearsBeforeCommitOrAfterDiscard() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let url = dir.file("h.npy")
        try Data("old".utf8).write(to: url)
        let file = try StreamingFile(url: url, durable: false)
        try file.write(Data("new contents".utf8), at: 0)
        #expect(try String(contentsOf: url, encoding: .utf8) == "old")
        #expect(try dir.contents().count == 2)  // h.npy and the temporary file
        file.discard()
        #expect(try String(contentsOf: url, encoding: .utf8) == "old")
        #expect(try dir.contents() == ["h.npy"])
    }

    @Test func aFolderOrPipeInTheWayIsRefusedBeforeAnyWork() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let sub = dir.file("sub")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: false)
        try Data("x".utf8).write(to: sub.appendingPathComponent("keep"))
        let pipe = dir.file("p.npy")
        #expect(mkfifo(pipe.path, 0o644) == 0)
        for url in [sub, pipe] {
            let error = caught { () throws(SequenceIOError) in try StreamingFile(url: url, durable: false) }
            #expect(error?.description.contains("is not a regular file") == true, "\(String(describing: error))")
            // The whole-file writer (in-memory solves, reports, models) refuses them the same way.
            let atomic = caught { () throws(SequenceIOError) in try AtomicFile.write(Data("y".utf8), to: url) }
            #expect(atomic?.description.contains("is not a regular file") == true, "\(String(describing: atomic))")
        }
        #expect(try dir.contents() == ["p.npy", "sub"])
        var info = stat()
        #expect(lstat(pipe.path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFIFO)
        #expect(try FileManager.default.contentsOfDirectory(atPath: sub.path) == ["keep"])
    }
}
