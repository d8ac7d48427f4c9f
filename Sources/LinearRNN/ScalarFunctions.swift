import ParallelScan
import RealModule

/// Numerically stable scalar functions shared by the layers, evaluated in `S`'s own precision
/// through swift-numerics' `RealModule` (the platform's libm: `expf`/`exp`, `log1pf`/`log1p`).
///
///     let gate: Float = Fn.sigmoid(-3)       // 0.047…
///     let width: Double = Fn.softplus(0.5)   // log(1 + e^0.5)
enum Fn {
    /// softplus(x) = log(1 + eˣ), computed as max(x, 0) + log1p(e^{−|x|}) in S's precision.
    @inline(__always) static func softplus<S: ScanScalar>(_ x: S) -> S {
        if S.self == Float.self {
            let f = Float(x)
            return S(max(f, 0) + Float.log(onePlus: Float.exp(-abs(f))))
        }
        let d = Double(x)
        return S(max(d, 0) + Double.log(onePlus: Double.exp(-abs(d))))
    }
    /// σ(x) = 1 / (1 + e^{−x}), evaluated without overflow for either sign.
    @inline(__always) static func sigmoid<S: ScanScalar>(_ x: S) -> S {
        if x >= 0 { return 1 / (1 + exp(-x)) }
        let e = exp(x)
        return e / (1 + e)
    }
    /// eˣ in S's precision.
    @inline(__always) static func exp<S: ScanScalar>(_ x: S) -> S {
        if S.self == Float.self { return S(Float.exp(Float(x))) }
        return S(Double.exp(Double(x)))
    }
}
