import ParallelScan
import Testing

/// `withSubnormalsFlushed` turns subnormal results into zeros inside its body only, and the
/// calling thread gets IEEE subnormals back afterwards (x86 FTZ/DAZ, AArch64 FZ; other targets
/// leave the mode alone, so the flushed expectation is checked only where it applies).
@Suite("Subnormal flushing is scoped")
struct SubnormalFlushTests {
    /// A product whose exact value is subnormal: 2⁻¹⁰⁰ · 2⁻³⁰ = 2⁻¹³⁰ < 2⁻¹²⁶ (Float).
    /// The operands come through an opaque array so the compiler cannot fold the product.
    func tinyProduct(_ operands: [Float]) -> Float { operands[0] * operands[1] }

    @Test func flushesInsideAndRestoresAfter() {
        let operands: [Float] = [
            Float(sign: .plus, exponent: -100, significand: 1),
            Float(sign: .plus, exponent: -30, significand: 1),
        ]
        let before = tinyProduct(operands)
        #expect(before.isSubnormal)
        let inside = withSubnormalsFlushed { tinyProduct(operands) }
        #if arch(x86_64) || arch(i386) || arch(arm64)
            #expect(inside == 0)
        #endif
        // The two-call form restores the caller's mode too.
        let control = flushSubnormals()
        let insideToo = tinyProduct(operands)
        restoreFloatingPointControl(control)
        #if arch(x86_64) || arch(i386) || arch(arm64)
            #expect(insideToo == 0)
        #endif
        let after = tinyProduct(operands)
        #expect(after.isSubnormal)
        #expect(after == before)
    }

    /// Double: 2⁻¹⁰⁰⁰ · 2⁻⁴⁰ = 2⁻¹⁰⁴⁰ < 2⁻¹⁰²².
    @Test func flushesDoubleToo() {
        let operands: [Double] = [
            Double(sign: .plus, exponent: -1000, significand: 1),
            Double(sign: .plus, exponent: -40, significand: 1),
        ]
        let product = { (o: [Double]) in o[0] * o[1] }
        #expect(product(operands).isSubnormal)
        let inside = withSubnormalsFlushed { product(operands) }
        #if arch(x86_64) || arch(i386) || arch(arm64)
            #expect(inside == 0)
        #endif
        #expect(product(operands).isSubnormal)
    }
}
