#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Removes a large replaced file without making the caller wait for the file system to free
/// its blocks.
///
/// After ``StreamingFile/commit()`` exchanges the new file with the old one, the old contents sit
/// under the temporary name and only have to disappear. Removing them frees every block the old
/// file held, and that is slow where blocks were written out: on the 2-core VM (ext4 mounted
/// with `discard`, a virtio disk) `unlink` of a synced 160 MB file took 115–120 ms of wall time
/// but 14 ms of CPU, 13–15 ms for 16 MB, and 17 ms for 160 MB still in the page cache unwritten
/// (Python, 4 runs each). A run over a T = 10⁷ output that a previous run wrote and the system
/// had synced spent those 120 ms after its output was complete.
///
/// So a file of at least ``threshold`` bytes is removed by a detached `/bin/rm`, started through
/// `/bin/sh -c 'rm … &'` in its own process group with standard input and output on
/// `/dev/null` and no other descriptor inherited; the shell exits at once (the caller waits
/// for it, about a millisecond) and `rm` finishes on its own, reparented to the system's
/// reaper. Smaller files, and any system where that cannot be started, are removed inline as
/// before. Either way the file named by the caller's URL is already complete: only the old,
/// hidden `.NAME.<UUID>.tmp` name lingers, for the time the file system takes.
///
/// ```swift
/// DetachedRemoval.remove("/data/.h.npy.5F1C….tmp", bytes: 160_000_128)
/// ```
package enum DetachedRemoval {
    /// Files this large or larger (bytes) are removed by a detached process.
    package static let threshold = 8 << 20

    /// Removes `path` (a regular file of `bytes` bytes): detached when large, else inline.
    package static func remove(_ path: String, bytes: Int) {
        if bytes >= threshold, spawnDetachedRemoval(of: path) { return }
        unlink(path)
    }

    /// Whether this system can detach a removal (`/bin/sh`, `/bin/rm` and glibc's
    /// `posix_spawn_file_actions_addclosefrom_np`); where not, ``remove(_:bytes:)`` unlinks inline.
    package static var isAvailable: Bool {
        #if os(Linux)
            return access("/bin/sh", X_OK) == 0 && access("/bin/rm", X_OK) == 0 && closeFrom != nil
        #else
            return false
        #endif
    }

    /// Starts `/bin/sh -c '/bin/rm -f -- "$1" &' sh PATH` and waits for the shell only.
    /// `false` when it could not be started or the shell failed (the caller then unlinks).
    package static func spawnDetachedRemoval(of path: String) -> Bool {
        #if os(Linux)
            guard isAvailable, let closeFrom else { return false }
            var actions = posix_spawn_file_actions_t()
            guard posix_spawn_file_actions_init(&actions) == 0 else { return false }
            defer { posix_spawn_file_actions_destroy(&actions) }
            var attributes = posix_spawnattr_t()
            guard posix_spawnattr_init(&attributes) == 0 else { return false }
            defer { posix_spawnattr_destroy(&attributes) }
            // Its own process group (a Ctrl-C at the terminal right after does not stop the
            // removal half-way), the three standard descriptors on /dev/null, nothing else open.
            guard posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP)) == 0,
                posix_spawnattr_setpgroup(&attributes, 0) == 0,
                posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) == 0,
                posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0) == 0,
                posix_spawn_file_actions_adddup2(&actions, 1, 2) == 0,
                closeFrom(&actions, 3) == 0
            else { return false }
            let arguments = ["/bin/sh", "-c", "/bin/rm -f -- \"$1\" &", "sh", path]
            var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
            var environment: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/bin:/bin"), nil]
            defer { for pointer in argv + environment { free(pointer) } }
            var pid = pid_t()
            guard posix_spawn(&pid, "/bin/sh", &actions, &attributes, &argv, &environment) == 0 else { return false }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 {
                guard errno == EINTR else { return false }
            }
            return status & 0xFFFF == 0  // exited normally with status 0
        #else
            return false
        #endif
    }

    #if os(Linux)
        private typealias CloseFrom =
            @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), looked up at run
        /// time: without it the spawned process could inherit descriptors such as the caller's
        /// pipes, so nothing is detached.
        private static let closeFrom: CloseFrom? = {
            guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
            return unsafeBitCast(symbol, to: CloseFrom.self)
        }()
    #endif
}
