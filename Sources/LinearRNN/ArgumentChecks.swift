import ParallelScan

// The argument checks every layer runs before touching memory.

@inline(__always)
func check(_ name: String, _ actual: Int, _ expected: Int) throws(LinearRNNError) {
    if actual != expected { throw .shapeMismatch(name: name, expected: expected, actual: actual) }
}

@inline(__always)
func checkPositive(_ name: String, _ value: Int) throws(LinearRNNError) {
    if value < 1 { throw .emptyDimension(name: name, value: value) }
}

@inline(__always)
func checkSequence(steps: Int, batch: Int) throws(LinearRNNError) {
    if steps <= 0 { throw .emptySequence }
    try checkPositive("batch", batch)
}

/// Checks that packed-sequence boundaries cover exactly the T steps of the input.
@inline(__always)
func checkBoundaries(_ boundaries: SequenceBoundaries?, steps: Int) throws(LinearRNNError) {
    if let boundaries { try check("boundaries (total steps)", boundaries.steps, steps) }
}
