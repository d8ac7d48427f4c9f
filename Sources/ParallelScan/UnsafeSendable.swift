/// A read-only pointer handed to pool workers.
@usableFromInline package struct UnsafeSendable<T>: @unchecked Sendable {
    @usableFromInline package let base: UnsafePointer<T>
    @inlinable package init(_ base: UnsafePointer<T>) { self.base = base }
}

/// A mutable pointer handed to pool workers that write disjoint parts of it (the caller's
/// promise that makes sharing it sound).
@usableFromInline package struct UnsafeMutableSendable<T>: @unchecked Sendable {
    @usableFromInline package let base: UnsafeMutablePointer<T>
    @inlinable package init(_ base: UnsafeMutablePointer<T>) { self.base = base }
}

@inlinable
func checkBuffer(_ name: String, _ actual: Int, _ expected: Int) throws(ScanError) {
    if actual != expected { throw .bufferSize(name: name, expected: expected, actual: actual) }
}
