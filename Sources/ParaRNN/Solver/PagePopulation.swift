import Foundation
import ParallelScan

#if canImport(Glibc)
    import Glibc
#endif

/// `MADV_POPULATE_WRITE` (Linux 5.14): absent from older C headers, so spelled out.
private let madvisePopulateWrite: Int32 = 23

/// The kernel's page size (4 KiB on x86-64).
private let pageBytes: Int = {
    #if os(Linux)
        let size = sysconf(Int32(_SC_PAGESIZE))
        return size > 0 ? size : 4096
    #else
        return 4096
    #endif
}()

/// Whether workers may populate the pages of a shared buffer themselves
/// (``populatePages(_:count:part:of:)``): the kernel accepts `MADV_POPULATE_WRITE` (probed once
/// on a fresh anonymous page) and `PARARNN_POPULATE_PAGES=0` is not set (for A/B measurements
/// against ``prefaultPages(_:count:pool:)``'s separate fork/join).
package let pagePopulationAvailable: Bool = {
    guard ProcessInfo.processInfo.environment["PARARNN_POPULATE_PAGES"] != "0" else { return false }
    #if os(Linux)
        guard let page = mmap(nil, pageBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            page != MAP_FAILED
        else { return false }
        defer { munmap(page, pageBytes) }
        return madvise(page, pageBytes, madvisePopulateWrite) == 0
    #else
        return false
    #endif
}()

/// Asks the kernel to populate share `part` of `parts` of the pages spanned by `count` scalars
/// at `pointer` (contiguous runs of whole pages, as ``prefaultPages(_:count:pool:)`` splits
/// them), as if written, without changing a byte: `madvise(MADV_POPULATE_WRITE)`. Unlike
/// prefaulting by stores, it cannot race with other workers' stores into the same pages, so
/// each worker of a pass can populate its share at the start of its own item, in the same
/// fork/join as the work that fills the buffer.
///
/// Only the pages not resident yet are asked for (`mincore`, ≈ 2 ns a page): a streamed
/// solve's per-segment buffers mostly come back from the allocator already mapped, and on
/// those `MADV_POPULATE_WRITE` still costs ≈ 130 ns a page (97 µs for 3 MB on the 2-core VM,
/// against 4 µs to store one value per page) — more than the fork/join it saves. Fresh pages
/// cost about the same either way (≈ 1 µs each, the fault). A page mapped but never written
/// (the shared zero page) reads as resident and is left to fault on its first store.
///
/// The first and last page may hold bytes outside the buffer (an allocation's header): they are
/// mapped (the buffer lies in them) and left as they are. Returns false where the kernel
/// refuses (the caller checks ``pagePopulationAvailable`` first).
@discardableResult
func populatePages<S>(_ pointer: UnsafeMutablePointer<S>, count: Int, part: Int, of parts: Int) -> Bool {
    #if os(Linux)
        let bytes = count * MemoryLayout<S>.stride
        guard bytes > 0 else { return true }
        let first = Int(bitPattern: pointer) & ~(pageBytes - 1)
        let last = (Int(bitPattern: pointer) + bytes - 1) & ~(pageBytes - 1)
        let pages = (last - first) / pageBytes + 1
        let share = ChunkPlan.evenRange(index: part, of: parts, total: pages)
        let window = 256
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: window) { resident in
            var ok = true
            var page = share.lowerBound
            while page < share.upperBound {
                let count = min(window, share.upperBound - page)
                let start = UnsafeMutableRawPointer(bitPattern: first + page * pageBytes)!
                if mincore(start, count * pageBytes, resident.baseAddress!) != 0 {
                    resident.initialize(repeating: 0)  // unknown: ask for them all
                }
                // Runs of pages not resident, each one madvise call.
                var i = 0
                while i < count {
                    if resident[i] & 1 != 0 {
                        i += 1
                        continue
                    }
                    var j = i + 1
                    while j < count, resident[j] & 1 == 0 { j += 1 }
                    ok = madvise(start + i * pageBytes, (j - i) * pageBytes, madvisePopulateWrite) == 0 && ok
                    i = j
                }
                page += count
            }
            return ok
        }
    #else
        return false
    #endif
}
