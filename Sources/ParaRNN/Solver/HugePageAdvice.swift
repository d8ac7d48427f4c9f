import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `PARARNN_HUGE_PAGES=0` in the environment (read once).
private let hugePagesDisabled = ProcessInfo.processInfo.environment["PARARNN_HUGE_PAGES"] == "0"

/// Asks Linux to back the 2 MiB-aligned interior of `bytes` bytes at `pointer` with transparent
/// huge pages (`madvise(MADV_HUGEPAGE)`; a hint, ignored where THP is off and elsewhere than
/// Linux). For large buffers filled once by many workers: with 4 KiB pages a 40 MB buffer
/// takes ≈ 10 000 first-touch faults, which serialise on the process's page tables when several
/// threads fault at once; with 2 MiB pages it takes 20. Only buffers larger than 4 MiB are
/// advised; `PARARNN_HUGE_PAGES=0` turns the advice off (for A/B measurements).
///
/// ```swift
/// var states = uninitializedArray(Float.self, count: n)
/// states.withUnsafeMutableBytes { adviseHugePages($0.baseAddress!, bytes: $0.count) }
/// ```
package func adviseHugePages(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
    #if os(Linux)
        let huge = 2 << 20
        guard bytes >= 2 * huge, !hugePagesDisabled else { return }
        let start = (Int(bitPattern: pointer) + huge - 1) & ~(huge - 1)
        let end = (Int(bitPattern: pointer) + bytes) & ~(huge - 1)
        guard end > start, let aligned = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(aligned, end - start, MADV_HUGEPAGE)
    #endif
}
