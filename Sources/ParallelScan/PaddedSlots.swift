/// Per-chunk rows that never share a cache line: `slots` rows of `count` elements, each starting
/// on its own ``alignment``-byte boundary.
///
/// Workers of a chunked scan write their chunk's summary (P, Q and the product scratch) at every
/// step of a reduction. Packed back to back from a 16-byte-aligned `malloc`, the end of row c and
/// the start of row c + 1 fall in one cache line, and two cores writing it at every step pass the
/// line back and forth (a transfer costs about as much as a whole d = 8 reduction step). Rows
/// here are rounded up to 128 bytes — two lines, since Intel's adjacent-line prefetcher fetches
/// lines in pairs — and start on a 128-byte boundary, so rows of different workers share nothing.
///
/// ```swift
/// let summaries = PaddedSlots<Float>(slots: chunks, count: 2 * lanes, repeating: 0)
/// defer { summaries.deallocate() }
/// pool.forEach(chunks) { c in reduce(chunk: c, into: summaries[c]) }
/// ```
@usableFromInline
package struct PaddedSlots<Element>: @unchecked Sendable {
    /// Bytes every row is aligned to and rounded up to.
    @inlinable package static var alignment: Int { 128 }

    /// The first row.
    @usableFromInline package let base: UnsafeMutablePointer<Element>
    /// Elements from the start of one row to the start of the next (≥ the row's `count`).
    @usableFromInline package let stride: Int
    /// The number of rows.
    @usableFromInline package let slots: Int

    /// Rows of `count` elements for `slots` chunks, uninitialised (for trivial element types,
    /// as every scan scalar is, writing before reading is enough).
    @inlinable
    package init(slots: Int, count: Int) {
        let size = MemoryLayout<Element>.stride
        let alignment = Self.alignment
        let rowBytes = max(1, count) * size
        // A row of whole 128-byte units when the element divides them (every scan scalar);
        // otherwise a gap of at least 128 bytes between rows.
        let stride =
            alignment % size == 0
            ? (rowBytes + alignment - 1) / alignment * (alignment / size)
            : max(1, count) + (alignment + size - 1) / size
        self.slots = max(1, slots)
        self.stride = stride
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: self.slots * stride * size, alignment: max(alignment, MemoryLayout<Element>.alignment))
        base = raw.bindMemory(to: Element.self, capacity: self.slots * stride)
    }

    /// Rows of `count` elements for `slots` chunks, every element (padding included) set to
    /// `value`.
    @inlinable
    package init(slots: Int, count: Int, repeating value: Element) {
        self.init(slots: slots, count: count)
        base.initialize(repeating: value, count: self.slots * stride)
    }

    /// Row `slot`.
    @inlinable
    package subscript(slot: Int) -> UnsafeMutablePointer<Element> { base + slot * stride }

    /// Frees the rows (elements must be deinitialised first if they need it).
    @inlinable
    package func deallocate() { UnsafeMutableRawPointer(base).deallocate() }
}
