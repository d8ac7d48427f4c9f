import CBLAS
import CFFTW
import Foundation
import Testing

/// Checks that the system libraries load (OpenBLAS, LAPACKE and FFTW are opened with dlopen on
/// their first call) and compute what their documentation says.
@Suite("System libraries")
struct SystemLibrarySmokeTests {
    @Test("cblas_sgemm multiplies a 2×3 by a 3×2 matrix")
    func sgemm() {
        let a: [Float] = [1, 2, 3, 4, 5, 6]  // 2×3 row-major
        let b: [Float] = [7, 8, 9, 10, 11, 12]  // 3×2 row-major
        var c = [Float](repeating: 0, count: 4)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 3, 1, a, 3, b, 2, 0, &c, 2)
        // Hand-computed: [1·7+2·9+3·11, 1·8+2·10+3·12; 4·7+5·9+6·11, 4·8+5·10+6·12]
        #expect(c == [58, 64, 139, 154])
    }

    @Test("LAPACKE_dgesv solves a 3×3 linear system")
    func dgesv() {
        // A x = b with x = (1, -2, 3).
        var a: [Double] = [2, 1, -1, -3, -1, 2, -2, 1, 2]
        let x: [Double] = [1, -2, 3]
        var b = (0..<3).map { i in (0..<3).reduce(0.0) { $0 + a[i * 3 + $1] * x[$1] } }
        var pivots = [Int32](repeating: 0, count: 3)
        let info = LAPACKE_dgesv(LAPACK_ROW_MAJOR, 3, 1, &a, 3, &pivots, &b, 1)
        #expect(info == 0)
        for i in 0..<3 { #expect(abs(b[i] - x[i]) < 1e-12) }
    }

    @Test("FFTW r2c transform of a cosine has a single peak")
    func fftwR2C() {
        let n = 16
        let input = fftw_alloc_real(n)!
        let output = fftw_alloc_complex(n / 2 + 1)!
        defer {
            fftw_free(input)
            fftw_free(output)
        }
        let plan = fftw_plan_dft_r2c_1d(Int32(n), input, output, UInt32(FFTW_ESTIMATE))
        defer { fftw_destroy_plan(plan) }
        for i in 0..<n { input[i] = cos(2 * Double.pi * 3 * Double(i) / Double(n)) }
        fftw_execute(plan)
        let out = UnsafeMutableRawPointer(output).assumingMemoryBound(to: Double.self)
        for k in 0...(n / 2) {
            let re = out[2 * k]
            let im = out[2 * k + 1]
            let expectedRe = k == 3 ? Double(n) / 2 : 0
            #expect(abs(re - expectedRe) < 1e-12, "bin \(k) real part")
            #expect(abs(im) < 1e-12, "bin \(k) imaginary part")
        }
    }

    @Test("fftwf (single precision) loads too")
    func fftwfLinked() {
        let n = 8
        let input = fftwf_alloc_real(n)!
        let output = fftwf_alloc_complex(n / 2 + 1)!
        defer {
            fftwf_free(input)
            fftwf_free(output)
        }
        let plan = fftwf_plan_dft_r2c_1d(Int32(n), input, output, UInt32(FFTW_ESTIMATE))
        defer { fftwf_destroy_plan(plan) }
        for i in 0..<n { input[i] = 1 }
        fftwf_execute(plan)
        let out = UnsafeMutableRawPointer(output).assumingMemoryBound(to: Float.self)
        #expect(out[0] == Float(n))
        #expect(abs(out[2]) < 1e-6)
    }
}
