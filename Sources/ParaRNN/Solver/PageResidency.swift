import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The kernel's page size (4 KiB on x86-64).
private let pageBytes: Int = {
    #if os(Linux)
        let size = sysconf(Int32(_SC_PAGESIZE))
        return size > 0 ? size : 4096
    #else
        return 4096
    #endif
}()

/// Whether every page spanned by `count` scalars at `pointer` is mapped already (`mincore`,
/// ≈ 2 ns a page: 1.7 µs for 3 MB on the 2-core VM), so that stores into it take no page
/// fault. A streamed solve's per-segment buffers mostly come back from the allocator mapped
/// (GRU d = 4, B = 16, 512-step segments: 2 400 faults in the whole run), and need no
/// prefault (``prefaultPages(_:count:pool:)``, a fork/join of its own); a fresh buffer does.
/// False where it cannot tell (another system, or mincore fails).
///
/// A page mapped but never written (the shared zero page) counts as resident; the buffers
/// asked about here are written, never read, before they are filled.
func pagesResident<S>(_ pointer: UnsafeMutablePointer<S>, count: Int) -> Bool {
    #if os(Linux)
        let bytes = count * MemoryLayout<S>.stride
        guard bytes > 0 else { return true }
        let first = Int(bitPattern: pointer) & ~(pageBytes - 1)
        let last = (Int(bitPattern: pointer) + bytes - 1) & ~(pageBytes - 1)
        let pages = (last - first) / pageBytes + 1
        let window = 1024
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: window) { resident in
            var page = 0
            while page < pages {
                let n = min(window, pages - page)
                guard let start = UnsafeMutableRawPointer(bitPattern: first + page * pageBytes),
                    mincore(start, n * pageBytes, resident.baseAddress!) == 0
                else { return false }
                for i in 0..<n where resident[i] & 1 == 0 { return false }
                page += n
            }
            return true
        }
    #else
        return false
    #endif
}
