import ParallelScan

/// The rows of a recurrent weight gradient: for every step t of a range and batch entry b, the
/// pre-activation gradient δ_{t,b} (`[G·d]`, rows `[count][B][G·d]` from `gradients`) and the
/// previous hidden state h_{t−1,b} (d values: `previous` for the range's first step, then
/// `states` one state row `stepStride` apart; entries `entryStride` apart in both).
struct OuterProductRows<Scalar> {
    let steps: Int
    let batch: Int
    let gradients: UnsafePointer<Scalar>
    let previous: UnsafePointer<Scalar>
    let states: UnsafePointer<Scalar>
    let stepStride: Int
    let entryStride: Int

    /// h_{t−1,b} for the range's step t (0-based within the range), at hidden unit 0.
    @inline(__always)
    func hidden(_ t: Int, _ b: Int) -> UnsafePointer<Scalar> {
        (t == 0 ? previous : states + (t - 1) * stepStride) + b * entryStride
    }

    /// δ_{t,b}.
    @inline(__always)
    func gradient(_ t: Int, _ b: Int, width: Int) -> UnsafePointer<Scalar> {
        gradients + (t * batch + b) * width
    }
}

/// ∂L/∂W_hh and ∂L/∂b_hh as sums of outer products over the rows (t, b), in place of a BLAS
/// GEMM (which packs both operands, the δ rows transposed, on every call):
///
///     dW[r][k] += Σ_{t,b} δ_{t,b}[r] · h_{t−1,b}[k],   db[r] += Σ_{t,b} δ_{t,b}[r]
///
/// The rows go in blocks of about 64. Per block, the block's h rows are first copied into a
/// contiguous panel `[rows][d rounded up to 16]` (zero padded), then dW is walked in register
/// tiles of 4 rows r × 16 columns (eight SIMD8 accumulators), every band of columns for four r
/// before the next four: per row (t, b), two panel vectors loaded once for the four r and four
/// δ values broadcast. Every entry is summed over the rows in (t, b) order from its previous
/// value, whatever the tiling, so the result does not depend on d's tails or the block size.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func accumulateOuterProducts<Scalar: ScanScalar>(
    _ rows: OuterProductRows<Scalar>, outputs gd: Int, hidden d: Int,
    weights dW: UnsafeMutablePointer<Scalar>, bias dB: UnsafeMutablePointer<Scalar>
) {
    let batch = max(1, rows.batch)
    let block = max(1, 64 / batch)
    let width = (d + 15) / 16 * 16
    let panel = UnsafeMutablePointer<Scalar>.allocate(capacity: block * batch * width)
    defer { panel.deallocate() }
    var first = 0
    while first < rows.steps {
        let steps = first..<min(rows.steps, first + block)
        let count = steps.count * batch
        let deltas = rows.gradient(first, 0, width: gd)
        for t in steps {
            for b in 0..<batch {
                let target = panel + ((t - first) * batch + b) * width
                copyScalars(target, rows.hidden(t, b), count: d)
                if width > d { zeroFill(target + d, count: width - d) }
            }
        }
        // Four rows r at a time over every band of columns: the rows' δ lines stay in L1 for
        // all bands, the panel for all rows.
        var r = 0
        while r < gd {
            let four = r + 4 <= gd
            var k = 0
            while k < d {
                let columns = min(16, d - k)
                if four {
                    outerProductTile4(
                        deltas + r, stride: gd, panel: panel + k, panelStride: width, rows: count,
                        into: dW + r * d + k, hidden: d, width: columns)
                } else {
                    outerProductTile1(
                        deltas + r, stride: gd, panel: panel + k, panelStride: width, rows: count,
                        into: dW + r * d + k, width: columns)
                }
                k += 16
            }
            r += four ? 4 : 1
        }
        for i in 0..<count {
            let delta = deltas + i * gd
            forEachQuad(gd) { j, lanes in
                typealias V = SIMD4<Scalar>
                let sum: V =
                    loadLanes(UnsafePointer(dB + j), lanes, as: V.self) + loadLanes(delta + j, lanes, as: V.self)
                storeLanes(sum, dB + j, lanes)
            }
        }
        first = steps.upperBound
    }
}

/// Four rows of dW (at `c`, `hidden` apart), `width` ≤ 16 columns, plus Σ_i δ_i[0…3] ⊗ panel_i
/// over `rows` rows (δ_i at `delta + i·stride`, panel_i 16 values at `panel + i·panelStride`,
/// zero past `width`).
@inline(__always)
func outerProductTile4<Scalar: ScanScalar>(
    _ delta: UnsafePointer<Scalar>, stride: Int, panel: UnsafePointer<Scalar>, panelStride: Int, rows: Int,
    into c: UnsafeMutablePointer<Scalar>, hidden d: Int, width: Int
) {
    typealias V = SIMD8<Scalar>
    let (low, high) = (min(8, width), max(0, width - 8))
    @inline(__always) func load(_ p: UnsafeMutablePointer<Scalar>, _ lanes: Int) -> V {
        loadLanes(UnsafePointer(p), lanes, as: V.self)
    }
    var (a00, a01) = (load(c, low), load(c + 8, high))
    var (a10, a11) = (load(c + d, low), load(c + d + 8, high))
    var (a20, a21) = (load(c + 2 * d, low), load(c + 2 * d + 8, high))
    var (a30, a31) = (load(c + 3 * d, low), load(c + 3 * d + 8, high))
    var x = delta
    var h = panel
    for _ in 0..<rows {
        let h0 = UnsafeRawPointer(h).loadUnaligned(as: V.self)
        let h1 = UnsafeRawPointer(h + 8).loadUnaligned(as: V.self)
        let x0 = V(repeating: x[0])
        let x1 = V(repeating: x[1])
        a00 = multiplyAdd(x0, h0, a00)
        a01 = multiplyAdd(x0, h1, a01)
        a10 = multiplyAdd(x1, h0, a10)
        a11 = multiplyAdd(x1, h1, a11)
        let x2 = V(repeating: x[2])
        let x3 = V(repeating: x[3])
        a20 = multiplyAdd(x2, h0, a20)
        a21 = multiplyAdd(x2, h1, a21)
        a30 = multiplyAdd(x3, h0, a30)
        a31 = multiplyAdd(x3, h1, a31)
        x += stride
        h += panelStride
    }
    storeLanes(a00, c, low)
    storeLanes(a01, c + 8, high)
    storeLanes(a10, c + d, low)
    storeLanes(a11, c + d + 8, high)
    storeLanes(a20, c + 2 * d, low)
    storeLanes(a21, c + 2 * d + 8, high)
    storeLanes(a30, c + 3 * d, low)
    storeLanes(a31, c + 3 * d + 8, high)
}

/// One row of dW (the G·d mod 4 tail): ``outerProductTile4(_:stride:panel:panelStride:rows:into:hidden:width:)``
/// for δ_i[0] alone.
@inline(__always)
func outerProductTile1<Scalar: ScanScalar>(
    _ delta: UnsafePointer<Scalar>, stride: Int, panel: UnsafePointer<Scalar>, panelStride: Int, rows: Int,
    into c: UnsafeMutablePointer<Scalar>, width: Int
) {
    typealias V = SIMD8<Scalar>
    let (low, high) = (min(8, width), max(0, width - 8))
    var a0: V = loadLanes(UnsafePointer(c), low, as: V.self)
    var a1: V = loadLanes(UnsafePointer(c + 8), high, as: V.self)
    for i in 0..<rows {
        let x = V(repeating: delta[i * stride])
        let h = panel + panelStride * i
        a0 = multiplyAdd(x, UnsafeRawPointer(h).loadUnaligned(as: V.self), a0)
        a1 = multiplyAdd(x, UnsafeRawPointer(h + 8).loadUnaligned(as: V.self), a1)
    }
    storeLanes(a0, c, low)
    storeLanes(a1, c + 8, high)
}
