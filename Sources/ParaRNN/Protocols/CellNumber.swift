import ParallelScan

/// The arithmetic a cell's step function f is written in, once, so that it can run on plain
/// numbers (evaluation) and on forward-mode dual numbers (Jacobians).
///
/// Write f as a generic function over `T: CellNumber` with `T.Base == Scalar`; lift parameters
/// with `T(constant)`. ``Dual`` carries one tangent direction, so a k-column Jacobian costs k
/// evaluations of f.
public protocol CellNumber: Sendable {
    associatedtype Base: CellMath
    /// A constant (zero tangent).
    init(_ constant: Base)
    /// The primal value.
    var value: Base { get }
    static func + (lhs: Self, rhs: Self) -> Self
    static func - (lhs: Self, rhs: Self) -> Self
    static func * (lhs: Self, rhs: Self) -> Self
    static func / (lhs: Self, rhs: Self) -> Self
    static prefix func - (operand: Self) -> Self
    /// e^x.
    static func exp(_ x: Self) -> Self
    /// The logistic function.
    static func sigmoid(_ x: Self) -> Self
    /// The hyperbolic tangent.
    static func tanh(_ x: Self) -> Self
}

extension Float: CellNumber {
    public typealias Base = Float
    @inlinable public var value: Float { self }
    @inlinable public static func exp(_ x: Float) -> Float { cellExp(x) }
}

extension Double: CellNumber {
    public typealias Base = Double
    @inlinable public var value: Double { self }
    @inlinable public static func exp(_ x: Double) -> Double { cellExp(x) }
}

/// A forward-mode dual number v + ε·t with ε² = 0: arithmetic on it carries the directional
/// derivative t alongside the value v.
public struct Dual<Base: CellMath>: CellNumber, Equatable {
    public var value: Base
    /// The tangent (directional derivative).
    public var tangent: Base

    @inlinable public init(_ constant: Base) {
        value = constant
        tangent = 0
    }

    @inlinable public init(value: Base, tangent: Base) {
        self.value = value
        self.tangent = tangent
    }

    @inlinable public static func + (l: Dual, r: Dual) -> Dual {
        Dual(value: l.value + r.value, tangent: l.tangent + r.tangent)
    }
    @inlinable public static func - (l: Dual, r: Dual) -> Dual {
        Dual(value: l.value - r.value, tangent: l.tangent - r.tangent)
    }
    @inlinable public static func * (l: Dual, r: Dual) -> Dual {
        Dual(value: l.value * r.value, tangent: l.tangent * r.value + l.value * r.tangent)
    }
    @inlinable public static func / (l: Dual, r: Dual) -> Dual {
        let q = l.value / r.value
        return Dual(value: q, tangent: (l.tangent - q * r.tangent) / r.value)
    }
    @inlinable public static prefix func - (x: Dual) -> Dual {
        Dual(value: -x.value, tangent: -x.tangent)
    }
    @inlinable public static func exp(_ x: Dual) -> Dual {
        let e = Base.cellExp(x.value)
        return Dual(value: e, tangent: e * x.tangent)
    }
    @inlinable public static func sigmoid(_ x: Dual) -> Dual {
        let s = Base.sigmoid(x.value)
        return Dual(value: s, tangent: s * (1 - s) * x.tangent)
    }
    @inlinable public static func tanh(_ x: Dual) -> Dual {
        let t = Base.tanh(x.value)
        return Dual(value: t, tangent: (1 - t * t) * x.tangent)
    }
}
