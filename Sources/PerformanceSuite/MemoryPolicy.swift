/// Keeps freed memory in the process for reuse: large buffers come from the heap rather than
/// fresh `mmap`s, and freed memory is not trimmed back to the system. Repeated solves (training
/// loops, benchmarks) then reuse pages instead of faulting in and zeroing new ones — measured
/// here as ~20 % of a T = 10^6 solve's time (the kernel's `clear_page`). Process-wide, so only
/// executables call it (`pararnn` does at start-up); libraries leave malloc alone.
public enum MemoryPolicy {
    public static func retainFreedMemory() {
        #if os(Linux)
            // glibc's <malloc.h>: M_TRIM_THRESHOLD = −1, M_MMAP_THRESHOLD = −3.
            _ = glibcMallopt(-3, 1 << 30)
            _ = glibcMallopt(-1, Int32.max)
        #endif
    }
}

#if os(Linux)
    @_silgen_name("mallopt")
    private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
