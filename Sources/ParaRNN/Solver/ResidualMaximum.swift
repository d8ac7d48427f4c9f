import ParallelScan

/// The largest of `count` residuals, NaN if any is NaN. Residuals are ≥ +0 (never −0), so
/// their bit patterns order like their values, with every NaN above +Inf: an unsigned-integer
/// max, which vectorises (a floating-point max with a NaN flag does not).
@inline(__always)
func maximumResidual<S: ScanScalar>(_ residuals: UnsafePointer<S>, count: Int) -> Double {
    let raw = UnsafeRawPointer(residuals)
    if MemoryLayout<S>.size == 4 {
        var bits: UInt32 = 0
        for i in 0..<count { bits = Swift.max(bits, raw.load(fromByteOffset: 4 * i, as: UInt32.self)) }
        let value = Float(bitPattern: bits)
        return value.isNaN ? .nan : Double(value)
    }
    var bits: UInt64 = 0
    for i in 0..<count { bits = Swift.max(bits, raw.load(fromByteOffset: 8 * i, as: UInt64.self)) }
    let value = Double(bitPattern: bits)
    return value.isNaN ? .nan : value
}

/// Folds a block's residual into a running one, keeping NaN.
@inline(__always)
func combineResiduals(_ running: Double, _ block: Double) -> Double {
    running.isNaN || block.isNaN ? .nan : Swift.max(running, block)
}
