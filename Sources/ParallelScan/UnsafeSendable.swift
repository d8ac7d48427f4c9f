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

extension Array {
    /// Calls `body` with the array's storage as a pointer that pool workers may share and only
    /// read (the array must not be empty): `withUnsafeBufferPointer` and ``UnsafeSendable`` in
    /// one step.
    ///
    ///     x.withSendablePointer { x in pool.forEach(rows) { r in use(x.base + r * m) } }
    @inlinable @inline(__always)
    package func withSendablePointer<R>(_ body: (UnsafeSendable<Element>) -> R) -> R {
        withUnsafeBufferPointer { body(UnsafeSendable($0.baseAddress!)) }
    }

    /// ``withSendablePointer(_:)`` for workers that write disjoint parts of the array.
    ///
    ///     y.withMutableSendablePointer { y in pool.forEach(rows) { r in y.base[r] = 0 } }
    @inlinable @inline(__always)
    package mutating func withMutableSendablePointer<R>(_ body: (UnsafeMutableSendable<Element>) -> R) -> R {
        withUnsafeMutableBufferPointer { body(UnsafeMutableSendable($0.baseAddress!)) }
    }
}

@inlinable
func checkBuffer(_ name: String, _ actual: Int, _ expected: Int) throws(ScanError) {
    if actual != expected { throw .bufferSize(name: name, expected: expected, actual: actual) }
}
