import ParallelScan

extension WorkerPool {
    /// `[body(0), body(1), …, body(count − 1)]`, the items run in parallel as ``forEach(_:_:)``
    /// runs them: one result per item (a chunk's residual, its merit), in item order, so that a
    /// reduction over the array sees them in the same order whatever the thread count.
    ///
    ///     let residuals = pool.map(chunks.count) { c in residual(of: chunks[c]) }
    ///     let worst = residuals.reduce(0, combineResiduals)
    func map<T>(_ count: Int, _ body: (Int) -> T) -> [T] {
        guard count > 0 else { return [] }
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            let results = buffer.baseAddress!
            forEach(count) { i in (results + i).initialize(to: body(i)) }
            initialized = count
        }
    }
}
