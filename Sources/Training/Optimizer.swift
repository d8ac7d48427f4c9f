/// Adam / AdamW with global-norm gradient clipping.
///
///     g ← g · min(1, c/‖g‖₂)                       (clipping, if c is set)
///     m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²
///     θ ← θ − η (m/(1 − β₁ᵗ)) / (√(v/(1 − β₂ᵗ)) + ε) − η λ θ      (λ > 0: AdamW's decoupled decay)
public struct AdamW: Sendable, Codable {
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    public var epsilon: Double = 1e-8
    /// Decoupled weight decay λ (0: plain Adam).
    public var weightDecay: Double = 0
    /// Clip the gradient's global L2 norm to this value (`nil`: no clipping).
    public var clipNorm: Double? = 1
    var first: [Double] = []
    var second: [Double] = []
    /// Steps taken.
    public private(set) var step = 0

    public init(weightDecay: Double = 0, clipNorm: Double? = 1) {
        self.weightDecay = weightDecay
        self.clipNorm = clipNorm
    }

    /// Applies one update with learning rate `rate`; returns the gradient norm before clipping.
    @discardableResult
    public mutating func update<S: BinaryFloatingPoint>(_ parameters: inout [S], gradient: [S], rate: Double) -> Double
    {
        precondition(parameters.count == gradient.count)
        if first.count != parameters.count {
            first = [Double](repeating: 0, count: parameters.count)
            second = first
            step = 0
        }
        step += 1
        let norm = gradient.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let scale = clipNorm.map { norm > $0 && norm > 0 ? $0 / norm : 1 } ?? 1
        let c1 = 1 - pow(beta1, step)
        let c2 = 1 - pow(beta2, step)
        for i in parameters.indices {
            let g = Double(gradient[i]) * scale
            first[i] = beta1 * first[i] + (1 - beta1) * g
            second[i] = beta2 * second[i] + (1 - beta2) * g * g
            var p = Double(parameters[i])
            p -= rate * (first[i] / c1) / ((second[i] / c2).squareRoot() + epsilon)
            p -= rate * weightDecay * p
            parameters[i] = S(p)
        }
        return norm
    }
}

/// Learning rate with linear warm-up then cosine decay to `floor × peak`.
public struct LearningRateSchedule: Sendable, Codable {
    public var peak: Double
    public var warmupSteps: Int
    public var totalSteps: Int
    public var floor: Double

    public init(peak: Double, warmupSteps: Int = 0, totalSteps: Int, floor: Double = 0.1) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = max(1, totalSteps)
        self.floor = floor
    }

    /// The rate at (0-based) step `step`.
    public func rate(at step: Int) -> Double {
        if step < warmupSteps { return peak * Double(step + 1) / Double(warmupSteps) }
        let progress = min(1, Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps)))
        let cosine = 0.5 * (1 + cosApprox(Double.pi * progress))
        return peak * (floor + (1 - floor) * cosine)
    }
}

func pow(_ x: Double, _ n: Int) -> Double {
    var result = 1.0
    for _ in 0..<n { result *= x }
    return result
}

/// cos via its Taylor series on [0, π] after shifting to [−π/2, π/2] (enough for a schedule).
func cosApprox(_ x: Double) -> Double {
    // cos(x) = −sin(x − π/2); sin by series on |y| ≤ π/2.
    let y = x - Double.pi / 2
    var term = y
    var sum = y
    for k in 1..<12 {
        term *= -y * y / Double((2 * k) * (2 * k + 1))
        sum += term
    }
    return -sum
}
