// A single sequence's fused GRU/LSTM step with the gate activations run inside the recurrent
// product.
//
// W_hh of a d = 64 GRU (48 KiB in Float) is larger than a 32 KiB L1, so every step's product
// reads one 64-column band (16 KiB) from L2 even with the bands walked in alternating order —
// the band walked last, at about half the speed of the others. The gates whose columns lie
// wholly in the bands before it are final by then, so their activations (σ, or tanh for the
// LSTM's g) run inside that band, one lane group after every few rows
// (``DenseRecurrentPack/product(h:hidden:weights:stride:bias:into:descending:sideJobs:sideJob:)``):
// their exponentials fill the cycles the band waits for L2. The rest of the gate math follows
// the product as in ``GRU/stagedGates(_:u:uStride:g:h:out:activated:)``. Each lane's operations
// and every output's sum are unchanged, so the states are bitwise those of the one-pass gates.
//
// For example (GRU d = 64, ascending step): bands r, z, n; r and z are final before the n band,
// so their 16 octets of σ run inside it, one every four rows.
//
// gru.interleavedStep(d, product, u: u, uStride: lanes, g: g, h: h, out: out)

/// Runs `body` over `0..<rows` in `jobs` chunks with `job(j)` after chunk j (the whole range at
/// once when `jobs` is 0): chunk j ends at ⌊(j + 1)·rows / jobs⌋.
@inline(__always)
func forEachRowChunk(_ rows: Int, jobs: Int, after job: (Int) -> Void, _ body: (Range<Int>) -> Void) {
    if jobs == 0 {
        body(0..<rows)
        return
    }
    var start = 0
    for j in 0..<jobs {
        let end = (j + 1) * rows / jobs
        body(start..<end)
        job(j)
        start = end
    }
}

/// The lane groups of ``forEachLaneGroup(_:octet:quad:)`` over `count` lanes: how many there are,
/// and group `index` as (first lane, lanes).
enum LaneGroups {
    @inline(__always)
    static func count(_ lanes: Int) -> Int { lanes / 8 + (lanes % 8 + 3) / 4 }

    @inline(__always)
    static func group(_ index: Int, of lanes: Int) -> (start: Int, width: Int) {
        let octets = lanes / 8
        if index < octets { return (8 * index, 8) }
        let start = 8 * octets + 4 * (index - octets)
        return (start, min(4, lanes - start))
    }
}

/// One step's recurrent product g = W_hh h + b_hh of one sequence, for a cell that runs its gate
/// activations inside it.
struct SingleStepProduct<Scalar: CellMath> {
    let h: UnsafePointer<Scalar>
    let hidden: Int
    let weights: UnsafePointer<Scalar>
    let stride: Int
    let bias: UnsafePointer<Scalar>
    let descending: Bool

    /// Bit q set for each of the first `gates` gate blocks (columns q·d ..< (q + 1)·d) that lie
    /// wholly outside the band the product walks last, so are final before it starts.
    @inline(__always)
    func gatesBeforeLastBand(_ gates: Int) -> UInt8 {
        let last = DenseRecurrentPack<Scalar>.lastBand(stride: stride, descending: descending)
        var mask: UInt8 = 0
        for q in 0..<gates where !last.overlaps((q * hidden)..<((q + 1) * hidden)) { mask |= 1 << q }
        return mask
    }

    /// g = W_hh h + b_hh with `activate(gate, lanes)` run for every lane group of every gate in
    /// `mask`, spread over the last band's rows.
    @inline(__always)
    func run(
        into g: UnsafeMutablePointer<Scalar>, activating mask: UInt8,
        _ activate: (Int, (start: Int, width: Int)) -> Void
    ) {
        let groups = LaneGroups.count(hidden)
        DenseRecurrentPack<Scalar>.product(
            h: h, hidden: hidden, weights: weights, stride: stride, bias: bias, into: g, descending: descending,
            sideJobs: mask.nonzeroBitCount * groups
        ) { j in
            // The (j / groups)-th gate of the mask.
            var rest = j / groups
            var gate = 0
            while mask & (1 << gate) == 0 || rest > 0 {
                if mask & (1 << gate) != 0 { rest -= 1 }
                gate += 1
            }
            activate(gate, LaneGroups.group(j % groups, of: hidden))
        }
    }
}

/// g ← σ(u + g), or tanh(u + g), over one lane group (8 lanes, or at most 4).
@inline(__always)
func activateLanes<Scalar: CellMath>(
    _ lanes: (start: Int, width: Int), u: UnsafePointer<Scalar>, g: UnsafeMutablePointer<Scalar>, tanh: Bool
) {
    let (i, k) = lanes
    if k == 8 {
        let x = loadLanes(u + i, 8, as: SIMD8<Scalar>.self) + loadLanes(g + i, 8, as: SIMD8<Scalar>.self)
        storeLanes(tanh ? Scalar.tanh(x) : Scalar.sigmoid(x), g + i, 8)
    } else {
        let x = loadLanes(u + i, k, as: SIMD4<Scalar>.self) + loadLanes(g + i, k, as: SIMD4<Scalar>.self)
        storeLanes(tanh ? Scalar.tanh(x) : Scalar.sigmoid(x), g + i, k)
    }
}

extension GRU {
    /// One step of one sequence (see the file's comment): r and z activated inside the product
    /// when final before its last band, then ``stagedGates(_:u:uStride:g:h:out:activated:)``.
    @inline(__always)
    static func interleavedStep(
        _ d: Int, _ product: SingleStepProduct<Scalar>, u: UnsafePointer<Scalar>, uStride: Int,
        g: UnsafeMutablePointer<Scalar>, h: UnsafePointer<Scalar>, out: UnsafeMutablePointer<Scalar>
    ) {
        let early = product.gatesBeforeLastBand(2)
        product.run(into: g, activating: early) { gate, lanes in
            activateLanes(lanes, u: u + gate * uStride, g: g + gate * d, tanh: false)
        }
        stagedGates(d, u: u, uStride: uStride, g: g, h: h, out: out, activated: early)
    }
}

extension LSTM {
    /// One step of one sequence (see the file's comment): i, f, g, o activated inside the
    /// product when final before its last band, then
    /// ``stagedGates(_:u:uStride:g:c:h:cOut:hOut:activated:)``.
    @inline(__always)
    static func interleavedStep(
        _ d: Int, _ product: SingleStepProduct<Scalar>, u: UnsafePointer<Scalar>, uStride: Int,
        g: UnsafeMutablePointer<Scalar>, c: UnsafePointer<Scalar>, h: UnsafePointer<Scalar>,
        cOut: UnsafeMutablePointer<Scalar>, hOut: UnsafeMutablePointer<Scalar>
    ) {
        let early = product.gatesBeforeLastBand(4)
        product.run(into: g, activating: early) { gate, lanes in
            activateLanes(lanes, u: u + gate * uStride, g: g + gate * d, tanh: gate == 2)
        }
        stagedGates(d, u: u, uStride: uStride, g: g, c: c, h: h, cOut: cOut, hOut: hOut, activated: early)
    }
}
