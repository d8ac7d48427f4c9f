/// A fixed number of scalars in one heap block that starts on a 64-byte cache line, freed with
/// the last reference: the packed recurrent weights of the fused dense kernels.
///
/// A Swift array's elements start 32 bytes into a 16-byte aligned block, so a packed panel
/// read as SIMD8<Float> (32-byte) vectors sits at a random offset mod 64: at 16 or 48 bytes
/// every second load straddles two lines, and a d = 64 GRU step's 1 536 weight loads run
/// ≈ 1.25× slower (measured in a C model of the kernel on the 2-core EPYC VM: 0.60 vs
/// 0.48 µs per product from L2, 0.51 vs 0.37 µs from L1). Whether a run got the good or the
/// bad offset depended on the heap's state before the pack was built (the `pararnn solve` of a
/// d = 64 GRU measured no difference, so it was getting a good one).
///
///     let panel = LineAlignedScalars<Float>(count: n) { p in for i in 0..<n { p[i] = 0 } }
///     panel.base[0]  // the first scalar, 64-byte aligned
final class LineAlignedScalars<Scalar>: @unchecked Sendable {
    /// The first scalar: `count` initialised values, on a 64-byte boundary, never written after
    /// `init` (which is what makes sharing across threads safe).
    let base: UnsafeMutablePointer<Scalar>
    let count: Int

    /// Allocates `count` scalars and lets `fill` initialise every one of them.
    init(count: Int, fill: (UnsafeMutablePointer<Scalar>) -> Void) {
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: max(1, count) * MemoryLayout<Scalar>.stride, alignment: 64)
        base = raw.bindMemory(to: Scalar.self, capacity: max(1, count))
        self.count = count
        fill(base)
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }
}
