import Foundation

/// SplitMix64 (Steele, Lea & Flood 2014): a 64-bit state advanced by the golden-ratio increment
/// and finalised by two xor-shift-multiply rounds. Small, fast, and the same stream on every
/// platform — the one generator pararnn's initialisations, grids and training batches use.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    /// Equal seeds give equal streams.
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in (0, 1): never 0, so logarithms are safe.
    public mutating func openUniform() -> Double { (Double(next() >> 11) + 0.5) * 0x1p-53 }

    /// A standard normal sample (Box–Muller on two open-interval uniforms).
    public mutating func normal() -> Double {
        let u1 = openUniform()
        let u2 = uniform()
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }
}
