import Foundation
import ParallelScan

/// The SGConv (structured global convolution) kernel of H channels.
///
/// With kernel dimension d and length L there are S = 1 + ⌈log₂(L/d)⌉ scales (S = 1 when L ≤ d).
/// Scale i has learned weights W_i ∈ R^{H×d}; it is linearly interpolated by the factor
/// 2^{max(0, i−1)} (PyTorch `interpolate`, linear, align_corners = False — see
/// ``interpolateLinear(_:factor:)``), multiplied by m_h^{S−1−i} with
/// m_h = linspace(decayMin, decayMax, H) (default 2: relative weight (½)^i), and the pieces are
/// concatenated (lengths d, d, 2d, 4d, …; total d·2^{S−1} ≥ L). The full kernel is divided by
/// its L2 norm per channel — computed once at creation and stored in ``norms`` — and then
/// truncated (or zero-padded) to L.
public struct SGConvKernel: Sendable {
    /// H.
    public let channels: Int
    /// d.
    public let kernelDim: Int
    /// L.
    public let length: Int
    /// S.
    public var scales: Int { weights.count }
    /// W_i, `[S][H][d]` (flattened per scale).
    public var weights: [[Double]]
    /// m_h, `[H]`.
    public let decay: [Double]
    /// The stored L2 norms of the un-normalised full kernel, `[H]`.
    public private(set) var norms: [Double]

    /// S = 1 + ⌈log₂(L/d)⌉ (at least 1).
    public static func numberOfScales(length L: Int, kernelDim d: Int) -> Int {
        var s = 0
        while d << s < L { s += 1 }
        return 1 + s
    }

    /// The total length d·2^{S−1} of the concatenated kernel.
    public var fullLength: Int { kernelDim << (scales - 1) }

    /// Linear interpolation of `x` (length d) to length d·`factor`, align_corners = False:
    /// out_j = (1−λ)x[i0] + λx[i1], with s = factor, t = max(0, (j+½)/s − ½), i0 = ⌊t⌋,
    /// i1 = min(i0+1, d−1), λ = t − i0.
    public static func interpolateLinear(_ x: [Double], factor: Int) -> [Double] {
        let d = x.count
        if factor == 1 || d == 0 { return x }
        return (0..<(d * factor)).map { j in
            let t = max(0, (Double(j) + 0.5) / Double(factor) - 0.5)
            let i0 = min(Int(t), d - 1)
            let i1 = min(i0 + 1, d - 1)
            let lam = t - Double(i0)
            return (1 - lam) * x[i0] + lam * x[i1]
        }
    }

    /// Creates a kernel from explicit weights `[S][H·d]` and computes the stored norms.
    /// - Throws: for L < 1, d < 1, H < 1, decay ≤ 0, or weights of the wrong shape.
    public init(
        channels: Int, kernelDim: Int, length: Int, weights: [[Double]], decayMin: Double = 2,
        decayMax: Double = 2
    ) throws(LongConvError) {
        if length < 1 { throw .emptyLength }
        if channels < 1 { throw .noChannels }
        if kernelDim < 1 { throw .invalidParameter("kernelDim must be ≥ 1") }
        if !(decayMin > 0 && decayMax > 0) { throw .invalidParameter("decay factors must be > 0") }
        let s = SGConvKernel.numberOfScales(length: length, kernelDim: kernelDim)
        try checkShape("weights (scales)", weights.count, s)
        for w in weights { try checkShape("weights[i]", w.count, channels * kernelDim) }
        self.channels = channels
        self.kernelDim = kernelDim
        self.length = length
        self.weights = weights
        decay = (0..<channels).map { h in
            channels == 1 ? decayMin : decayMin + (decayMax - decayMin) * Double(h) / Double(channels - 1)
        }
        norms = [Double](repeating: 1, count: channels)
        let full = unnormalizedFullKernel()
        let F = fullLength
        norms = (0..<channels).map { h in
            let n = (0..<F).reduce(0.0) { $0 + full[h * F + $1] * full[h * F + $1] }.squareRoot()
            return n > 0 ? n : 1
        }
    }

    /// Weights W_i ~ N(0, 1).
    public static func initialized(
        channels: Int, kernelDim: Int, length: Int, decayMin: Double = 2, decayMax: Double = 2, seed: UInt64 = 0
    ) throws(LongConvError) -> SGConvKernel {
        if length < 1 { throw .emptyLength }
        if kernelDim < 1 { throw .invalidParameter("kernelDim must be ≥ 1") }
        var rng = SplitMix64(seed: seed)
        let s = numberOfScales(length: length, kernelDim: kernelDim)
        let w = (0..<s).map { _ in (0..<(max(0, channels) * kernelDim)).map { _ in rng.normal() } }
        return try SGConvKernel(
            channels: channels, kernelDim: kernelDim, length: length, weights: w, decayMin: decayMin,
            decayMax: decayMax)
    }

    /// The concatenated, decayed kernel before normalisation, `[H][d·2^{S−1}]`.
    public func unnormalizedFullKernel() -> [Double] {
        let F = fullLength
        let d = kernelDim
        let S = scales
        var out = [Double](repeating: 0, count: channels * F)
        for h in 0..<channels {
            var offset = 0
            for i in 0..<S {
                let piece = SGConvKernel.interpolateLinear(
                    Array(weights[i][(h * d)..<(h * d + d)]), factor: 1 << max(0, i - 1))
                let wgt = pow(decay[h], Double(S - 1 - i))
                for (j, v) in piece.enumerated() { out[h * F + offset + j] = v * wgt }
                offset += piece.count
            }
        }
        return out
    }

    /// The normalised kernel truncated/padded to L, `[H][L]`.
    public func kernel() -> [Double] {
        let F = fullLength
        let L = length
        let full = unnormalizedFullKernel()
        var out = [Double](repeating: 0, count: channels * L)
        for h in 0..<channels {
            for l in 0..<min(L, F) { out[h * L + l] = full[h * F + l] / norms[h] }
        }
        return out
    }
}
