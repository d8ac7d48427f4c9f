import ComplexModule
import Foundation
import LongConv
import ParallelScan
import Testing

/// Test-side discretisation, written from the formulas (independent of the library code).
func referenceDiscretize(_ a: Cx, _ b: Cx, dt: Double, zoh: Bool) -> (Cx, Cx) {
    if zoh {
        let aBar = Cx.exp(a * dt)
        return (aBar, (aBar - .one) / a * b)
    }
    let den = Cx.one - a * (dt / 2)
    return ((Cx.one + a * (dt / 2)) / den, Cx(dt) / den * b)
}

func cx(_ z: Complex<Double>) -> Cx { Cx(z.real, z.imaginary) }

@Suite("S4D kernel and layer")
struct S4DTests {
    @Test(
        "S4D kernel equals the impulse response of the complex recurrence",
        arguments: [
            (Discretization.zeroOrderHold, S4DInitialization.lin), (.bilinear, .lin), (.zeroOrderHold, .inv),
            (.bilinear, .inv),
        ])
    func kernelMatchesRecurrence(disc: Discretization, initialization: S4DInitialization) throws {
        let (H, N, L) = (3, 8, 200)
        let kern = try S4DKernel.initialized(
            channels: H, stateSize: N, initialization: initialization, discretization: disc, seed: 3)
        let k = try kern.kernel(length: L)
        for h in 0..<H {
            var ref = [Double](repeating: 0, count: L)
            for n in 0..<(N / 2) {
                let i = h * N / 2 + n
                let a = Cx(-exp(kern.aRealLog[i]), kern.aImag[i])
                let (aBar, bBar) = referenceDiscretize(
                    a, cx(kern.b[i]), dt: exp(kern.logDt[h]), zoh: disc == .zeroOrderHold)
                // Impulse u = δ: x_0 = B̄, x_ℓ = Ā x_{ℓ−1}; y_ℓ = 2 Re C x_ℓ.
                var x = bBar
                for l in 0..<L {
                    ref[l] += 2 * (cx(kern.c[i]) * x).re
                    x = aBar * x
                }
            }
            let got = Array(k[(h * L)..<(h * L + L)])
            #expect(maxDiff(got, ref) <= 1e-12 * maxAbs(ref))
        }
    }

    @Test("S4D-Lin with reference-convention weights gives the paper's kernel, A_n = −½ + iπn")
    func paperConvention() throws {
        // Weights as the reference code stores them: log_A_real = log ½, A_imag = πn, B = 1,
        // C arbitrary; the kernel by the paper's formula K_ℓ = 2 Re Σ_n C_n B̄_n Ā_n^ℓ (ZOH).
        let (N, L, dt) = (8, 64, 0.05)
        let modes = N / 2
        let c = (0..<modes).map { Complex<Double>(0.3 + 0.1 * Double($0), 0.7 - 0.2 * Double($0)) }
        let kern = try S4DKernel(
            channels: 1, stateSize: N, discretization: .zeroOrderHold, logDt: [log(dt)],
            aRealLog: [Double](repeating: log(0.5), count: modes),
            aImag: (0..<modes).map { Double.pi * Double($0) },
            b: [Complex<Double>](repeating: Complex(1, 0), count: modes), c: c)
        let k = try kern.kernel(length: L)
        var ref = [Double](repeating: 0, count: L)
        for n in 0..<modes {
            let a = Cx(-0.5, Double.pi * Double(n))
            let aBar = Cx.exp(a * dt)
            let bBar = (aBar - .one) / a
            var power = Cx.one
            for l in 0..<L {
                ref[l] += 2 * (cx(c[n]) * bBar * power).re
                power = power * aBar
            }
        }
        #expect(maxDiff(k, ref) <= 1e-12 * maxAbs(ref))
        // The conjugate convention gives a different kernel for the same C: the test can fail.
        let conjugate = try S4DKernel(
            channels: 1, stateSize: N, discretization: .zeroOrderHold, logDt: [log(dt)],
            aRealLog: kern.aRealLog, aImag: kern.aImag.map { -$0 }, b: kern.b, c: c)
        #expect(maxDiff(try conjugate.kernel(length: L), ref) > 1e-3 * maxAbs(ref))
        // The initialiser's S4D-Lin modes are the paper's.
        let initialized = try S4DKernel.initialized(channels: 1, stateSize: N, initialization: .lin)
        #expect(initialized.continuousA(channel: 0, mode: 3) == Complex(-0.5, 3 * Double.pi))
    }

    @Test("S4D layer (FFT) equals the sequential recurrence; chunks with carried state compose")
    func layerMatchesRecurrence() throws {
        let (B, H, N, L) = (2, 3, 16, 300)
        let kern = try S4DKernel.initialized(channels: H, stateSize: N, initialization: .inv, seed: 9)
        let d = randomArray(H, seed: 10)
        let u = randomArray(B * H * L, seed: 11)
        let layer = try S4DLayer<Double>(
            kernel: kern, skip: d, length: L, pool: WorkerPool(threadCount: 2, choice: .allThreads))
        let y = try layer.forward(u, batch: B)
        let (yr, _) = try layer.recurrentForward(u, batch: B)
        #expect(maxDiff(y, yr) <= 1e-10 * maxAbs(yr))

        let layerF = try S4DLayer<Float>(kernel: kern, skip: d.map { Float($0) }, length: L)
        let yf = try layerF.forward(u.map { Float($0) }, batch: B)
        #expect(maxDiff(yf.map { Double($0) }, yr) <= 1e-5 * maxAbs(yr))

        // Two chunks of 150 with the state carried equal one run of 300.
        let half = try S4DLayer<Double>(kernel: kern, skip: d, length: L / 2)
        var first = [Double]()
        var second = [Double]()
        for item in 0..<(B * H) {
            first += u[(item * L)..<(item * L + L / 2)]
            second += u[(item * L + L / 2)..<(item * L + L)]
        }
        let (y1, s1) = try half.recurrentForward(first, batch: B)
        let (y2, _) = try half.recurrentForward(second, batch: B, initialState: s1)
        var joined = [Double]()
        for item in 0..<(B * H) {
            joined += y1[(item * L / 2)..<(item * L / 2 + L / 2)]
            joined += y2[(item * L / 2)..<(item * L / 2 + L / 2)]
        }
        #expect(maxDiff(joined, yr) <= 1e-12 * maxAbs(yr))
    }

    /// Central differences with h = 1e-5: truncation ~h²·f''' ≈ 1e-10 and round-off ~ε·|f|/h ≈ 1e-10
    /// relative, so 1e-5 relative error is a safe bound.
    @Test(
        "S4D parameter gradients match central finite differences",
        arguments: [Discretization.zeroOrderHold, .bilinear])
    func gradients(disc: Discretization) throws {
        let (H, N, L) = (2, 4, 64)
        let base = try S4DKernel.initialized(
            channels: H, stateSize: N, discretization: disc, dtMin: 0.01, dtMax: 0.2, seed: 17)
        var kern = base
        var rng = SplitMix64(seed: 5)
        kern.b = kern.b.map { _ in Complex(rng.normal(), rng.normal()) }
        kern.aRealLog = kern.aRealLog.map { $0 + 0.3 * rng.normal() }
        let g = randomArray(H * L, seed: 31)
        func loss(_ k: S4DKernel) throws -> Double {
            zip(try k.kernel(length: L), g).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let grad = try kern.kernelGradient(length: L, gradKernel: g)
        let h = 1e-5
        func check(_ name: String, _ analytic: Double, _ perturb: (inout S4DKernel, Double) -> Void) throws {
            var p = kern
            var m = kern
            perturb(&p, h)
            perturb(&m, -h)
            let fd = (try loss(p) - loss(m)) / (2 * h)
            let err = Swift.abs(analytic - fd) / max(Swift.abs(fd), Swift.abs(analytic), 1e-6)
            #expect(err <= 1e-5, "\(name): analytic \(analytic), finite difference \(fd)")
        }
        for hh in 0..<H { try check("logDt[\(hh)]", grad.logDt[hh]) { $0.logDt[hh] += $1 } }
        for i in 0..<(H * N / 2) {
            try check("aRealLog[\(i)]", grad.aRealLog[i]) { $0.aRealLog[i] += $1 }
            try check("aImag[\(i)]", grad.aImag[i]) { $0.aImag[i] += $1 }
            try check("Re C[\(i)]", grad.cReal[i]) { $0.c[i] = $0.c[i] + Complex($1, 0) }
            try check("Im C[\(i)]", grad.cImag[i]) { $0.c[i] = $0.c[i] + Complex(0, $1) }
            try check("Re B[\(i)]", grad.bReal[i]) { $0.b[i] = $0.b[i] + Complex($1, 0) }
            try check("Im B[\(i)]", grad.bImag[i]) { $0.b[i] = $0.b[i] + Complex(0, $1) }
        }
    }

    @Test("S4D layer backward: dL/dlogΔ and dL/du through FFT and kernel match finite differences")
    func layerChain() throws {
        let (B, H, N, L) = (2, 2, 8, 50)
        let kern = try S4DKernel.initialized(channels: H, stateSize: N, seed: 4)
        let d = randomArray(H, seed: 1)
        let u = randomArray(B * H * L, seed: 2)
        let w = randomArray(B * H * L, seed: 3)
        let layer = try S4DLayer<Double>(kernel: kern, skip: d, length: L)
        func loss(_ l: S4DLayer<Double>, _ u: [Double]) throws -> Double {
            zip(try l.forward(u, batch: B), w).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let g = try layer.backward(gradOutput: w, input: u, batch: B)
        let h = 1e-5
        for hh in 0..<H {
            var p = layer
            var m = layer
            p.kernel.logDt[hh] += h
            m.kernel.logDt[hh] -= h
            let fd = (try loss(p, u) - loss(m, u)) / (2 * h)
            #expect(Swift.abs(fd - g.kernel.logDt[hh]) <= 1e-5 * Swift.abs(fd))
        }
        var up = u
        var um = u
        up[17] += h
        um[17] -= h
        let fd = (try loss(layer, up) - loss(layer, um)) / (2 * h)
        #expect(Swift.abs(fd - g.input[17]) <= 1e-5 * max(Swift.abs(fd), 1))
    }
}

@Suite("S4 DPLR kernel")
struct S4DPLRTests {
    @Test("the DPLR eigenbasis reconstructs HiPPO-LegS A and B", arguments: [8, 16])
    func reconstruction(N: Int) throws {
        let dplr = try S4DPLRKernel.dplrFromHiPPO(stateSize: N)
        let (a, b, _) = S4DPLRKernel.hippoLegS(stateSize: N)
        let m = N / 2
        // V_full = [V, conj V]; A = V_full (diag(Λ, Λ̄) − p pᴴ) V_fullᴴ, B = V_full (B̃, conj B̃).
        let V: [Cx] = (0..<N).flatMap { j in
            (0..<m).map { cx(dplr.eigenvectors[j * m + $0]) } + (0..<m).map { cx(dplr.eigenvectors[j * m + $0]).conj }
        }
        let lam = dplr.lambda.map(cx) + dplr.lambda.map { cx($0).conj }
        let p = dplr.p.map(cx) + dplr.p.map { cx($0).conj }
        let bt = dplr.b.map(cx) + dplr.b.map { cx($0).conj }
        var err = 0.0
        var errB = 0.0
        for r in 0..<N {
            var sb = Cx.zero
            for k in 0..<N { sb = sb + V[r * N + k] * bt[k] }
            errB = max(errB, (sb - Cx(b[r])).abs)
            for c in 0..<N {
                var s = Cx.zero
                for k in 0..<N {
                    for l in 0..<N {
                        let inner = (k == l ? lam[k] : .zero) - p[k] * p[l].conj
                        s = s + V[r * N + k] * inner * V[c * N + l].conj
                    }
                }
                err = max(err, (s - Cx(a[r * N + c])).abs)
            }
        }
        #expect(err <= 1e-10 * Double(N))
        #expect(errB <= 1e-10 * Double(N))
        for l in dplr.lambda { #expect(Swift.abs(l.real + 0.5) < 1e-12 && l.imaginary < 0) }
    }

    @Test(
        "Cauchy + Woodbury kernel equals the dense recurrence C Ā^ℓ B̄",
        arguments: [(16, 256, 1e-3), (32, 256, 1e-2), (64, 256, 1e-1), (16, 255, 5e-2)])
    func kernelMatchesDense(N: Int, L: Int, dt: Double) throws {
        var kern = try S4DPLRKernel.initialized(channels: 2, stateSize: N, seed: UInt64(N))
        kern.logDt = [log(dt), log(dt * 3)]
        let k = try kern.kernel(length: L)
        let m = N / 2
        let lam = kern.lambda.map(cx) + kern.lambda.map { cx($0).conj }
        let p = kern.p.map(cx) + kern.p.map { cx($0).conj }
        let bt = kern.b.map(cx) + kern.b.map { cx($0).conj }
        for h in 0..<2 {
            let delta = exp(kern.logDt[h])
            let cvec = (0..<m).map { cx(kern.c[h * m + $0]) } + (0..<m).map { cx(kern.c[h * m + $0]).conj }
            // Dense A, then Ā = (I − ΔA/2)⁻¹(I + ΔA/2), B̄ = (I − ΔA/2)⁻¹ΔB.
            var minus = [Cx](repeating: .zero, count: N * N)
            var plus = minus
            for r in 0..<N {
                for c in 0..<N {
                    let arc = (r == c ? lam[r] : .zero) - p[r] * p[c].conj
                    minus[r * N + c] = (r == c ? .one : .zero) - arc * (delta / 2)
                    plus[r * N + c] = (r == c ? .one : .zero) + arc * (delta / 2)
                }
            }
            var combined = [Cx](repeating: .zero, count: N * (N + 1))
            for r in 0..<N {
                for c in 0..<N { combined[r * (N + 1) + c] = plus[r * N + c] }
                combined[r * (N + 1) + N] = bt[r] * delta
            }
            let sol = complexSolve(minus, combined, n: N, k: N + 1)
            var x = (0..<N).map { sol[$0 * (N + 1) + N] }
            var ref = [Double](repeating: 0, count: L)
            for l in 0..<L {
                var y = Cx.zero
                for i in 0..<N { y = y + cvec[i] * x[i] }
                ref[l] = y.re
                var nx = [Cx](repeating: .zero, count: N)
                for r in 0..<N {
                    var s = Cx.zero
                    for c in 0..<N { s = s + sol[r * (N + 1) + c] * x[c] }
                    nx[r] = s
                }
                x = nx
            }
            let got = Array(k[(h * L)..<(h * L + L)])
            #expect(maxDiff(got, ref) <= 1e-10 * maxAbs(ref), "N = \(N), L = \(L), Δ = \(delta)")
        }
    }
}

@Suite("SGConv kernel and layer")
struct SGConvTests {
    @Test("scales, lengths and linear interpolation (align_corners = False)")
    func shapes() throws {
        #expect(SGConvKernel.numberOfScales(length: 1024, kernelDim: 32) == 6)
        #expect(SGConvKernel.numberOfScales(length: 1000, kernelDim: 32) == 6)
        #expect(SGConvKernel.numberOfScales(length: 16, kernelDim: 32) == 1)
        let k = try SGConvKernel.initialized(channels: 3, kernelDim: 8, length: 100, seed: 1)
        #expect(k.scales == 5 && k.fullLength == 128 && k.kernel().count == 300)
        let x = SGConvKernel.interpolateLinear([1, 2, 4, 8], factor: 2)
        #expect(x == [1, 1.25, 1.75, 2.5, 3.5, 5, 7, 8])
    }

    @Test("each scale decays by 1/m relative to the previous; normalised kernel has unit norm")
    func decayAndNorm() throws {
        let (H, d, L) = (2, 4, 64)
        let S = SGConvKernel.numberOfScales(length: L, kernelDim: d)
        let w = (0..<S).map { _ in [Double](repeating: 1, count: H * d) }
        let k = try SGConvKernel(channels: H, kernelDim: d, length: L, weights: w, decayMin: 2, decayMax: 3)
        let kv = k.kernel()
        for h in 0..<H {
            let m = h == 0 ? 2.0 : 3.0
            var offset = 0
            for i in 0..<S {
                let len = d << max(0, i - 1)
                let piece = kv[(h * L + offset)..<(h * L + offset + len)]
                let expected = pow(m, Double(S - 1 - i)) / k.norms[h]
                for v in piece { #expect(Swift.abs(v - expected) <= 1e-14 * expected) }
                offset += len
            }
            let norm = kv[(h * L)..<(h * L + L)].reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(Swift.abs(norm - 1) < 1e-13)
        }
        let r = try SGConvKernel.initialized(channels: 3, kernelDim: 32, length: 1024, seed: 2).kernel()
        for h in 0..<3 {
            #expect(Swift.abs(r[(h * 1024)..<(h * 1024 + 1024)].reduce(0) { $0 + $1 * $1 } - 1) < 1e-12)
        }
    }

    @Test("SGConv layer equals direct convolution with its kernel")
    func layer() throws {
        let (B, H, L) = (2, 3, 200)
        let k = try SGConvKernel.initialized(channels: H, kernelDim: 16, length: L, seed: 3)
        let d = randomArray(H, seed: 4)
        let u = randomArray(B * H * L, seed: 5)
        let layer = try SGConvLayer<Double>(kernel: k, skip: d)
        let y = try layer.forward(u, batch: B)
        let ref = naiveConvolution(u, batch: B, channels: H, length: L, k0: k.kernel(), k1: nil, skip: d)
        #expect(maxDiff(y, ref) <= 1e-12 * maxAbs(ref))
    }
}
