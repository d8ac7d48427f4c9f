/// Calls `body(t)` for every step t of `range`: first to last, or last to first when `reverse`
/// (a chunk of a reverse scan). The one step walk of the scan kernels' solves and reductions;
/// inlined, it is the plain counted loop.
///
///     forEachStep(of: 2..<5, reverse: true) { t in print(t) }   // 4, 3, 2
@inlinable @inline(__always)
package func forEachStep(of range: Range<Int>, reverse: Bool, _ body: (Int) -> Void) {
    var t = reverse ? range.upperBound - 1 : range.lowerBound
    let stride = reverse ? -1 : 1
    for _ in 0..<range.count {
        body(t)
        t += stride
    }
}
