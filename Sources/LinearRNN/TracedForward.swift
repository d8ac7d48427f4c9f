import ParallelScan

/// Writes the states a fused forward scan emits into a `[T][row]` buffer, when the forward pass
/// keeps its states (a no-op otherwise).
struct StateRecorder<S: ScanScalar>: @unchecked Sendable {
    let base: UnsafeMutablePointer<S>?
    /// Elements of one step's state row.
    let row: Int

    /// Copies step `t`'s state `h` (`row` elements).
    @inline(__always)
    func callAsFunction(_ t: Int, _ h: UnsafePointer<S>) {
        if let base { (base + t * row).initialize(from: h, count: row) }
    }
}

/// Runs a layer's forward pass and packs its ``LinearRNNTrace``: `body` writes every element of
/// the `[T][batch][outputs]` output (handed over uninitialised: a serial zero-fill of it would
/// cost a parallel pass a whole memory sweep on one core) and hands every emitted state to the
/// recorder, which keeps the `[T][stateRow]` states only when `keepStates` is set.
///
/// ```swift
/// return tracedForward(steps: T, batch: B, outputs: p, stateRow: B * n, keepStates: keep) { y, record in
///     scan.run(coefficients: { … }, emit: { t, h, _ in record(t, h); /* y_t from h */ })
/// }
/// ```
@inline(__always)
func tracedForward<S: ScanScalar>(
    steps: Int, batch: Int, outputs: Int, stateRow: Int, keepStates: Bool, boundaries: SequenceBoundaries? = nil,
    _ body: (UnsafeMutablePointer<S>, StateRecorder<S>) -> Void
) -> LinearRNNTrace<S> {
    let count = steps * stateRow
    let base = keepStates ? UnsafeMutablePointer<S>.allocate(capacity: count) : nil
    let size = steps * batch * outputs
    let output = [S](unsafeUninitializedCapacity: size) { buffer, initialized in
        if let y = buffer.baseAddress { body(y, StateRecorder(base: base, row: stateRow)) }
        initialized = size
    }
    var states: [S] = []
    if let base {
        states = Array(UnsafeBufferPointer(start: base, count: count))
        base.deinitialize(count: count)
        base.deallocate()
    }
    var trace = LinearRNNTrace(steps: steps, batch: batch, output: output, states: states)
    trace.boundaries = boundaries
    return trace
}

extension Array {
    /// Consecutive slices of the given sizes, starting at `offset`: the parameter gradients
    /// packed one after another in an accumulator row.
    func slices(from offset: Int = 0, sizes: [Int]) -> [[Element]] {
        var start = offset
        return sizes.map { size in
            defer { start += size }
            return Array(self[start..<(start + size)])
        }
    }
}
