import Foundation
import Testing

/// What every `pararnn` process pays before it does anything: the shared libraries the loader
/// maps and relocates. Libraries that only some inputs or commands need (libsndfile and its
/// codecs for audio, FFTW for long convolutions, OpenBLAS, libhdf5, MPI) are opened with
/// dlopen on first use, so they must not be among the executable's load-time dependencies.
@Suite("pararnn: start-up")
struct StartupTests {
    @Test("the executable does not load libsndfile, FFTW, OpenBLAS, libhdf5 or MPI at start-up")
    func noOptionalLibrariesAtLoadTime() throws {
        let ldd = URL(fileURLWithPath: "/usr/bin/ldd")
        guard FileManager.default.isExecutableFile(atPath: ldd.path) else { return }  // not Linux/glibc
        let process = Process()
        process.executableURL = ldd
        process.arguments = [pararnnExecutable.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let listing = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0 && listing.contains("libc.so"), "\(listing)")
        for library in ["libsndfile", "libFLAC", "libvorbis", "libfftw3", "libopenblas", "libhdf5", "libmpi"] {
            #expect(!listing.contains(library), "\(library) is loaded at start-up:\n\(listing)")
        }
    }
}
