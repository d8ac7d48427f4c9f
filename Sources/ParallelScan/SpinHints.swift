import CVectorMath

/// One iteration's pause in a spin-wait: PAUSE on x86 (the spinning thread leaves a hyperthread
/// sibling the core and avoids the memory-order flush when the awaited line changes), YIELD on
/// AArch64.
///
/// ```swift
/// while flag.load(ordering: .acquiring) == 0 { spinPause() }
/// ```
@inlinable
package func spinPause() { pararnn_spin_pause() }

/// Asks for the cache line holding `address` ahead of a read (PREFETCHT0): for row segments of a
/// strip too short (a line or two) for the hardware prefetcher to follow.
///
/// ```swift
/// prefetchForRead(gates + (row + 2) * width + firstColumn)
/// ```
@inlinable
package func prefetchForRead(_ address: UnsafeRawPointer) { pararnn_prefetch(address) }

/// Asks for the cache line holding `address` ahead of a write (PREFETCHW where the target has it,
/// else PREFETCHT0).
@inlinable
package func prefetchForWrite(_ address: UnsafeRawPointer) { pararnn_prefetch_write(address) }
