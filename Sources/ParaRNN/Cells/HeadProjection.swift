/// Expands ParaRNN's block-diagonal head projection `B[H, m/H, G, d/H]` to dense `W[G·d][m]`
/// (head k maps inputs k·m/H… to channels k·d/H…; zeros elsewhere). Catalogue cells with
/// ParaRNN naming use it in ``CatalogueCell/make(_:as:)``.
public func headProjectionToDense<S: BinaryFloatingPoint>(
    _ B: [S], inputSize m: Int, hiddenSize d: Int, heads: Int, gates: Int
) throws(CellError) -> [S] {
    if heads <= 0 || m % heads != 0 || d % heads != 0 {
        throw .invalidShape(
            "\(heads) heads must divide both the input size \(m) and the hidden size \(d)")
    }
    let mh = m / heads
    let dh = d / heads
    try checkParameter("B", B, [heads, mh, gates, dh])
    var w = [S](repeating: 0, count: gates * d * m)
    for k in 0..<heads {
        for i in 0..<mh {
            for v in 0..<gates {
                for j in 0..<dh {
                    let value = B[((k * mh + i) * gates + v) * dh + j]
                    w[(v * d + k * dh + j) * m + k * mh + i] = value
                }
            }
        }
    }
    return w
}
