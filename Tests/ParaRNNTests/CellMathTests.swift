import Foundation
import ParaRNN
import Testing

/// The cells' exp (scalar and SIMD4) against Foundation's, and its NaN and range behaviour.
@Suite("Cell math: exp, sigmoid, tanh")
struct CellMathTests {
    @Test("Float exp: scalar, SIMD4 and SIMD8 agree and are within 4 ulp of Foundation on [−80, 80]")
    func floatExp() {
        var worst: Float = 0
        for i in 0...16_000 {
            let x = -80 + Float(i) * 0.01
            let scalar = Float.cellExp(x)
            let vector = Float.cellExp(SIMD4<Float>(x, x, x, x))
            #expect(vector[2] == scalar)
            #expect(Float.cellExp(SIMD8<Float>(repeating: x))[7] == scalar)
            worst = max(worst, abs(scalar - Foundation.exp(x)) / Foundation.exp(x))
        }
        #expect(worst <= 4 * Float.ulpOfOne, "relative error \(worst)")
    }

    @Test("Double exp: scalar, SIMD4 and SIMD8 agree and are within 4 ulp of Foundation on [−700, 700]")
    func doubleExp() {
        var worst = 0.0
        for i in 0...14_000 {
            let x = -700 + Double(i) * 0.1
            let scalar = Double.cellExp(x)
            #expect(Double.cellExp(SIMD4<Double>(repeating: x))[1] == scalar)
            #expect(Double.cellExp(SIMD8<Double>(repeating: x))[6] == scalar)
            worst = max(worst, abs(scalar - Foundation.exp(x)) / Foundation.exp(x))
        }
        #expect(worst <= 4 * Double.ulpOfOne, "relative error \(worst)")
    }

    @Test("NaN stays NaN, huge inputs saturate without Inf, in every lane")
    func specialValues() {
        let v = Float.cellExp(SIMD4<Float>(.nan, 1000, -1000, 0))
        #expect(v[0].isNaN && v[1].isFinite && v[1] > 1e37 && v[2] >= 0 && v[2] < 1e-37 && v[3] == 1)
        #expect(Float.cellExp(Float.nan).isNaN && Double.cellExp(Double.nan).isNaN)
        #expect(Double.cellExp(SIMD4<Double>(.nan, 0, 0, 0))[0].isNaN)
        let s = Float.sigmoid(SIMD4<Float>(.nan, 0, 100, -100))
        #expect(s[0].isNaN && s[1] == 0.5 && s[2] == 1 && s[3] < 1e-30)
        #expect(Float.tanh(Float.nan).isNaN && Float.tanh(SIMD4<Float>(repeating: .nan))[3].isNaN)
        let eight = Float.cellExp(SIMD8<Float>(.nan, 1000, -1000, 0, .nan, 1000, -1000, 0))
        #expect(eight[4].isNaN && eight[5].isFinite && eight[5] > 1e37 && eight[6] < 1e-37 && eight[7] == 1)
        let s8 = Double.sigmoid(SIMD8<Double>(0, 0, 0, 0, .nan, 0, 100, -100))
        #expect(s8[4].isNaN && s8[5] == 0.5 && s8[6] == 1 && s8[7] < 1e-30)
    }

    @Test("Float sigmoid and tanh: scalar, SIMD4 and SIMD8 agree bit for bit")
    func gateFunctionsAgreeAcrossWidths() {
        var x: Float = -90
        while x <= 90 {
            let four = SIMD4<Float>(x, -x, x / 3, x * 0.7)
            let s4 = Float.sigmoid(four)
            let t4 = Float.tanh(four)
            let s8 = Float.sigmoid(SIMD8<Float>(lowHalf: four, highHalf: four))
            let t8 = Float.tanh(SIMD8<Float>(lowHalf: four, highHalf: four))
            for lane in 0..<4 {
                #expect(s4[lane].bitPattern == Float.sigmoid(four[lane]).bitPattern)
                #expect(t4[lane].bitPattern == Float.tanh(four[lane]).bitPattern)
                #expect(s8[lane + 4].bitPattern == s4[lane].bitPattern)
                #expect(t8[lane].bitPattern == t4[lane].bitPattern)
            }
            x += 0.37
        }
    }
}
