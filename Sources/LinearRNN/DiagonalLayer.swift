import ParallelScan

/// A layer whose recurrence is diagonal and whose maps around it are ``DiagonalMaps``:
/// ``DiagonalLinearRNN`` (real), ``LRU`` and ``S5`` (complex). Supplies the checks and the
/// maps their passes share.
protocol DiagonalLayer {
    associatedtype S: ScanScalar
    var inputSize: Int { get }
    var stateSize: Int { get }
    var outputSize: Int { get }
    /// B, C and D as raw-pointer maps for the kernels (release with `free()`).
    func makeMaps() -> DiagonalMaps<S>
    /// Whether the states (and B, C) are complex: a state row is then `[2][batch][n]`.
    static var isComplex: Bool { get }
}

extension DiagonalLayer {
    /// Checks T, the batch, x `[T][batch][m]` and the named per-step inputs `[T][batch]` (S5's
    /// Δ) for a forward pass.
    func checkInput(_ x: [S], perStep: [(String, [S])] = [], steps: Int, batch: Int) throws(LinearRNNError) {
        try checkSequence(steps: steps, batch: batch)
        try check("x", x.count, steps * batch * inputSize)
        for (name, values) in perStep { try check(name, values.count, steps * batch) }
    }

    /// Checks a backward pass's inputs (as ``checkInput(_:perStep:steps:batch:)``), output
    /// gradient `[T][batch][p]` and kept states against its trace's T and batch; returns the
    /// pass's sizes (lanes = batch · n).
    ///
    ///     let (steps, batch, m, n, p, lanes) = try checkBackward(x, trace: trace, outputGradient: g)
    func checkBackward(
        _ x: [S], perStep: [(String, [S])] = [], trace: LinearRNNTrace<S>, outputGradient g: [S]
    ) throws(LinearRNNError) -> (steps: Int, batch: Int, m: Int, n: Int, p: Int, lanes: Int) {
        let steps = trace.steps
        let batch = trace.batch
        try checkInput(x, perStep: perStep, steps: steps, batch: batch)
        try check("outputGradient", g.count, steps * batch * outputSize)
        try check("trace.states", trace.states.count, steps * (Self.isComplex ? 2 : 1) * batch * stateSize)
        return (steps, batch, inputSize, stateSize, outputSize, batch * stateSize)
    }
}

/// A ``DiagonalLayer`` with complex B = B_re + i B_im `[n][m]`, C = C_re + i C_im `[p][n]` and
/// real D `[p][m]` (``LRU``, ``S5``).
protocol ComplexDiagonalLayer: DiagonalLayer {
    var bRe: [S] { get }
    var bIm: [S] { get }
    var cRe: [S] { get }
    var cIm: [S] { get }
    var d: [S] { get }
}

extension ComplexDiagonalLayer {
    static var isComplex: Bool { true }

    func makeMaps() -> DiagonalMaps<S> {
        DiagonalMaps(
            inputSize: inputSize, stateSize: stateSize, outputSize: outputSize, b: bRe, bIm: bIm, c: cRe,
            cIm: cIm, d: d)
    }
}
