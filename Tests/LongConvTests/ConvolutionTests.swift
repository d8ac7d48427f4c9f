import LongConv
import ParallelScan
import Testing

@Suite("FFT convolution")
struct ConvolutionTests {
    @Test("fastFFTLength is the smallest 7-smooth n ≥ target")
    func fastLength() {
        func smooth(_ n: Int) -> Bool {
            var m = n
            for p in [2, 3, 5, 7] { while m % p == 0 { m /= p } }
            return m == 1
        }
        #expect(fastFFTLength(atLeast: 0) == 1)
        #expect(fastFFTLength(atLeast: 1) == 1)
        #expect(fastFFTLength(atLeast: 11) == 12)
        #expect(fastFFTLength(atLeast: 8193) == 8232)
        for t in 1...400 {
            let n = fastFFTLength(atLeast: t)
            #expect(n >= t && smooth(n))
            #expect(!(t..<n).contains(where: smooth))
        }
    }

    @Test("direct convolution equals a naive triple loop (causal and bidirectional)")
    func directMatchesNaive() throws {
        let (B, C, L) = (2, 3, 13)
        let u = randomArray(B * C * L, seed: 1)
        let k0 = randomArray(C * L, seed: 2)
        let k1 = randomArray(C * L, seed: 3)
        let d = randomArray(C, seed: 4)
        let y = try DirectConvolution.causal(u, batch: B, channels: C, length: L, kernel: k0, skip: d)
        let ref = naiveConvolution(u, batch: B, channels: C, length: L, k0: k0, k1: nil, skip: d)
        #expect(maxDiff(y, ref) <= 1e-13 * maxAbs(ref))
        let yb = try DirectConvolution.bidirectional(
            u, batch: B, channels: C, length: L, forwardKernel: k0, backwardKernel: k1, skip: d)
        let refb = naiveConvolution(u, batch: B, channels: C, length: L, k0: k0, k1: k1, skip: d)
        #expect(maxDiff(yb, refb) <= 1e-13 * maxAbs(refb))
    }

    /// Double: FFT round-off is O(ε·log n) relative to ‖K‖‖u‖, so 1e-12 of the output scale
    /// leaves ample margin (observed ~1e-15). Float FFT against a double direct reference:
    /// ε_f ≈ 6e-8 times a small log n factor → 1e-5 of the output scale.
    @Test("FFT convolution equals direct convolution", arguments: [1, 2, 3, 17, 64, 1000, 4097])
    func fftMatchesDirect(length L: Int) throws {
        let (B, C) = L > 1000 ? (1, 2) : (2, 3)
        let u = randomArray(B * C * L, seed: UInt64(L))
        let k = randomArray(C * L, seed: UInt64(L) + 7)
        let d = randomArray(C, seed: 99)
        let pool = WorkerPool(threadCount: 2, choice: .allThreads)
        let ref = try DirectConvolution.causal(u, batch: B, channels: C, length: L, kernel: k, skip: d, pool: pool)
        let scale = maxAbs(ref)

        let conv = try FFTConvolver<Double>(length: L, pool: pool)
        #expect(conv.fftLength >= 2 * L - 1)
        let y = try conv.convolve(u, batch: B, channels: C, kernel: k, skip: d)
        #expect(maxDiff(y, ref) <= 1e-12 * scale, "double, L = \(L)")

        let uf = u.map { Float($0) }
        let kf = k.map { Float($0) }
        let df = d.map { Float($0) }
        let refF = try DirectConvolution.causal(
            uf.map { Double($0) }, batch: B, channels: C, length: L, kernel: kf.map { Double($0) },
            skip: df.map { Double($0) }, pool: pool)
        let convF = try FFTConvolver<Float>(length: L, pool: pool)
        let yf = try convF.convolve(uf, batch: B, channels: C, kernel: kf, skip: df)
        #expect(maxDiff(yf.map { Double($0) }, refF) <= 1e-5 * maxAbs(refF), "float, L = \(L)")
    }

    @Test("bidirectional FFT convolution equals direct", arguments: [1, 2, 16, 17, 333])
    func bidirectional(length L: Int) throws {
        let (B, C) = (2, 2)
        let u = randomArray(B * C * L, seed: 11)
        let k0 = randomArray(C * L, seed: 12)
        let k1 = randomArray(C * L, seed: 13)
        let ref = try DirectConvolution.bidirectional(
            u, batch: B, channels: C, length: L, forwardKernel: k0, backwardKernel: k1)
        let conv = try FFTConvolver<Double>(length: L)
        let y = try conv.convolveBidirectional(u, batch: B, channels: C, forwardKernel: k0, backwardKernel: k1)
        #expect(maxDiff(y, ref) <= 1e-12 * maxAbs(ref))
        let yf = try FFTConvolver<Float>(length: L).convolveBidirectional(
            u.map { Float($0) }, batch: B, channels: C, forwardKernel: k0.map { Float($0) },
            backwardKernel: k1.map { Float($0) })
        #expect(maxDiff(yf.map { Double($0) }, ref) <= 1e-5 * maxAbs(ref))
    }

    @Test("plans are cached and reused; parallel result is bitwise the 1-thread result")
    func cacheAndDeterminism() throws {
        let cache = FFTPlanCache()
        let p1 = try cache.plan(length: 96, scalar: Double.self)
        let p2 = try cache.plan(length: 96, scalar: Double.self)
        #expect(p1 === p2)
        let p3 = try cache.plan(length: 96, scalar: Float.self)
        #expect(cache.count == 2 && p3.length == 96)
        let L = 300
        let B = 3
        let C = 5
        let c1 = try FFTConvolver<Double>(
            length: L, cache: cache, pool: WorkerPool(threadCount: 1, choice: .allThreads))
        let c2 = try FFTConvolver<Double>(
            length: L, cache: cache, pool: WorkerPool(threadCount: 2, choice: .allThreads))
        #expect(c1.plan === c2.plan)
        let u = randomArray(B * C * L, seed: 5)
        let k = randomArray(C * L, seed: 6)
        let d = randomArray(C, seed: 7)
        let y1 = try c1.convolve(u, batch: B, channels: C, kernel: k, skip: d)
        let y2 = try c2.convolve(u, batch: B, channels: C, kernel: k, skip: d)
        #expect(y1 == y2)
        let g = randomArray(B * C * L, seed: 8)
        let g1 = try c1.backward(gradOutput: g, input: u, batch: B, channels: C, kernel: k, skip: d)
        let g2 = try c2.backward(gradOutput: g, input: u, batch: B, channels: C, kernel: k, skip: d)
        #expect(g1.input == g2.input && g1.kernel == g2.kernel && g1.skip == g2.skip)
    }

    @Test("invalid shapes throw clear errors")
    func errors() throws {
        #expect(throws: LongConvError.emptyLength) { try FFTConvolver<Double>(length: 0) }
        let conv = try FFTConvolver<Double>(length: 4)
        #expect(throws: LongConvError.shapeMismatch(name: "u", expected: 8, actual: 7)) {
            try conv.convolve(
                [Double](repeating: 0, count: 7), batch: 1, channels: 2, kernel: [Double](repeating: 0, count: 8))
        }
        #expect(throws: LongConvError.shapeMismatch(name: "kernel", expected: 8, actual: 4)) {
            try conv.spectrum(kernel: [Double](repeating: 0, count: 4), channels: 2)
        }
        #expect(throws: LongConvError.oddStateSize(7)) { try S4DKernel.initialized(channels: 1, stateSize: 7) }
        #expect(throws: LongConvError.oddStateSize(5)) { try S4DPLRKernel.dplrFromHiPPO(stateSize: 5) }
        #expect(LongConvError.emptyLength.description.contains("L is 0"))
    }

    /// loss = Σ w·y is linear in u, K and D separately, so central differences are exact up to
    /// round-off; a 1e-5 relative tolerance is loose.
    @Test("convolution gradients match central finite differences")
    func convolutionGradients() throws {
        let (B, C, L) = (2, 2, 37)
        let u = randomArray(B * C * L, seed: 21)
        let k = randomArray(C * L, seed: 22)
        let d = randomArray(C, seed: 23)
        let w = randomArray(B * C * L, seed: 24)
        let conv = try FFTConvolver<Double>(length: L)
        func loss(_ u: [Double], _ k: [Double], _ d: [Double]) throws -> Double {
            let y = try conv.convolve(u, batch: B, channels: C, kernel: k, skip: d)
            return zip(y, w).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let g = try conv.backward(gradOutput: w, input: u, batch: B, channels: C, kernel: k, skip: d)
        let h = 1e-4
        func check(_ analytic: Double, _ plus: Double, _ minus: Double) {
            let fd = (plus - minus) / (2 * h)
            #expect(Swift.abs(analytic - fd) <= 1e-5 * max(Swift.abs(fd), 1), "\(analytic) vs \(fd)")
        }
        for i in stride(from: 0, to: u.count, by: 7) {
            var up = u
            var um = u
            up[i] += h
            um[i] -= h
            check(g.input[i], try loss(up, k, d), try loss(um, k, d))
        }
        for i in stride(from: 0, to: k.count, by: 5) {
            var kp = k
            var km = k
            kp[i] += h
            km[i] -= h
            check(g.kernel[i], try loss(u, kp, d), try loss(u, km, d))
        }
        for i in 0..<C {
            var dp = d
            var dm = d
            dp[i] += h
            dm[i] -= h
            check(g.skip[i], try loss(u, k, dp), try loss(u, k, dm))
        }
    }

    @Test("bidirectional convolution gradients match central finite differences")
    func bidirectionalGradients() throws {
        let (B, C, L) = (2, 2, 23)
        let u = randomArray(B * C * L, seed: 41)
        let k0 = randomArray(C * L, seed: 42)
        let k1 = randomArray(C * L, seed: 43)
        let d = randomArray(C, seed: 44)
        let w = randomArray(B * C * L, seed: 45)
        let conv = try FFTConvolver<Double>(length: L)
        func loss(_ u: [Double], _ k0: [Double], _ k1: [Double]) throws -> Double {
            let y = try conv.convolveBidirectional(
                u, batch: B, channels: C, forwardKernel: k0, backwardKernel: k1, skip: d)
            return zip(y, w).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let g = try conv.backward(
            gradOutput: w, input: u, batch: B, channels: C, kernel: k0, backwardKernel: k1, skip: d)
        let h = 1e-4
        func check(_ analytic: Double, _ plus: Double, _ minus: Double) {
            let fd = (plus - minus) / (2 * h)
            #expect(Swift.abs(analytic - fd) <= 1e-5 * max(Swift.abs(fd), 1), "\(analytic) vs \(fd)")
        }
        for i in stride(from: 0, to: u.count, by: 5) {
            var up = u
            var um = u
            up[i] += h
            um[i] -= h
            check(g.input[i], try loss(up, k0, k1), try loss(um, k0, k1))
        }
        for i in 0..<(C * L) {
            var p = k0
            var m = k0
            p[i] += h
            m[i] -= h
            check(g.kernel[i], try loss(u, p, k1), try loss(u, m, k1))
            var p1 = k1
            var m1 = k1
            p1[i] += h
            m1[i] -= h
            check(g.backwardKernel[i], try loss(u, k0, p1), try loss(u, k0, m1))
        }
    }

    @Test("concurrent plan requests create each plan once")
    func concurrentPlanning() throws {
        let cache = FFTPlanCache()
        let lengths = [64, 100, 128, 210, 64, 100, 128, 210]
        let ids = UnsafeMutableBufferPointer<ObjectIdentifier?>.allocate(capacity: lengths.count)
        ids.initialize(repeating: nil)
        defer { ids.deallocate() }
        WorkerPool(threadCount: 2, choice: .allThreads).forEach(lengths.count) { i in
            ids[i] = (try? cache.plan(length: lengths[i], scalar: Double.self)).map { ObjectIdentifier($0) }
        }
        #expect(cache.count == 4)
        for i in 0..<4 { #expect(ids[i] != nil && ids[i] == ids[i + 4]) }
    }
}
