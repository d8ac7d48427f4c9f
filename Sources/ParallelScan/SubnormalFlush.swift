import CVectorMath

/// Runs `body` with subnormal numbers flushed to zero on the calling thread (x86 FTZ + DAZ,
/// AArch64 FZ), then restores the thread's floating-point control word.
///
/// Why: a parallel Newton or ELK pass composes each chunk's steps into a summary
/// P = Â_T ⋯ Â_1. For a contractive cell |P| decays geometrically, and on its way to zero it
/// spends tens of steps in the subnormal range (below 2⁻¹²⁶ ≈ 1.2·10⁻³⁸ for Float,
/// 2⁻¹⁰²² ≈ 2.2·10⁻³⁰⁸ for Double). Intel cores take a microcode assist for each such operation;
/// on the 16-core Xeon the chunk reductions of a ParaGRU d = 4 Newton solve cost 48 ns per step
/// (2.5× the linearisation) until they ran flushed. A flushed value differs from IEEE by less
/// than the smallest normal number, far below every tolerance the solver certifies, and
/// JAX/XLA's CPU runtime runs its kernels the same way.
///
/// Scoped, never global: only the passes that call this see the mode, and the caller's thread
/// gets its own control word back, so sequential loops keep IEEE semantics.
///
/// ```swift
/// pool.forEach(workers) { c in
///     withSubnormalsFlushed { runChunk(c) }
/// }
/// ```
@inlinable
package func withSubnormalsFlushed<Result>(_ body: () throws -> Result) rethrows -> Result {
    let saved = pararnn_flush_subnormals_begin()
    defer { pararnn_flush_subnormals_end(saved) }
    return try body()
}

/// Flushes subnormals to zero on the calling thread until ``restoreFloatingPointControl(_:)``
/// is called with the returned word: the two-call form of ``withSubnormalsFlushed(_:)`` for
/// a closure body that should not be re-indented into another closure.
///
/// ```swift
/// let control = flushSubnormals()
/// defer { restoreFloatingPointControl(control) }
/// ```
@inlinable
package func flushSubnormals() -> UInt {
    UInt(pararnn_flush_subnormals_begin())
}

/// Restores the floating-point control word saved by ``flushSubnormals()``.
@inlinable
package func restoreFloatingPointControl(_ saved: UInt) {
    pararnn_flush_subnormals_end(CUnsignedLong(saved))
}
