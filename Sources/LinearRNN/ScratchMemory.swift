import ParallelScan

// Parameter copies and output arrays the hot loops index through raw pointers.

/// A heap copy of a small array (parameters), freed by `free()`; lets hot loops index a raw
/// pointer without nesting `withUnsafeBufferPointer` closures.
struct Copied<S>: @unchecked Sendable {
    let p: UnsafeMutablePointer<S>
    init(_ array: [S]) {
        p = .allocate(capacity: max(1, array.count))
        array.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { p.initialize(from: base, count: src.count) }
        }
    }
    init(zeros count: Int) where S: ScanScalar {
        p = .allocate(capacity: max(1, count))
        p.initialize(repeating: 0, count: max(1, count))
    }
    func free() { p.deallocate() }
}

/// Builds an array of `count` elements by letting `body` write its (zeroed) storage.
@inline(__always)
func makeArray<S: ScanScalar>(_ count: Int, _ body: (UnsafeMutablePointer<S>) -> Void) -> [S] {
    [S](unsafeUninitializedCapacity: count) { buffer, initialized in
        guard let base = buffer.baseAddress else {
            initialized = 0
            return
        }
        base.initialize(repeating: 0, count: count)
        body(base)
        initialized = count
    }
}
