/// Where independent sequences start when several of them are packed end to end along time.
///
/// A packed problem holds sequences 0…n−1 of lengths L₀ … L_{n−1} one after the other in
/// `T = Σ L_i` steps; sequence i occupies steps `starts[i] ..< starts[i] + L_i`. A scan with
/// boundaries restarts at every sequence: the affine element of a start step s becomes
/// (A = 0, b = A_s h₀ⁱ + b_s), i.e. the state restarts from the sequence's own initial state h₀ⁱ
/// (a *reset*). Still associative, so every chunk plan and worker count stays valid.
/// In reverse (an adjoint), the reset step of sequence i is its last step: nothing flows across
/// a boundary in either direction.
///
/// The value stores only the sorted start offsets, so an unpacked problem (one sequence) costs
/// nothing: plain scans never look at it.
///
/// ```swift
/// let boundaries = try SequenceBoundaries(lengths: [300, 1, 4_000])
/// boundaries.starts            // [0, 300, 301]
/// boundaries.range(of: 2)      // 301..<4301
/// ```
public struct SequenceBoundaries: Sendable, Equatable, Hashable {
    /// Start step of each sequence, strictly increasing, the first 0.
    public let starts: [Int]
    /// Total number of steps T (Σ lengths).
    public let steps: Int

    /// Boundaries of sequences with these lengths (each ≥ 1), packed in order.
    /// - Throws: ``ScanError/invalidBoundaries(_:)`` for no sequences or a length below 1,
    ///   ``ScanError/emptySequence`` never (a zero length is named instead).
    public init(lengths: [Int]) throws(ScanError) {
        if lengths.isEmpty { throw .invalidBoundaries("no sequences") }
        var starts: [Int] = []
        starts.reserveCapacity(lengths.count)
        var total = 0
        for (i, length) in lengths.enumerated() {
            if length < 1 {
                throw .invalidBoundaries("sequence \(i) has length \(length); every sequence needs at least one step")
            }
            starts.append(total)
            let (sum, overflow) = total.addingReportingOverflow(length)
            if overflow { throw .invalidBoundaries("total length overflows Int") }
            total = sum
        }
        self.starts = starts
        self.steps = total
    }

    /// Boundaries from start offsets (strictly increasing, the first 0, all below `steps`).
    public init(starts: [Int], steps: Int) throws(ScanError) {
        if starts.first != 0 { throw .invalidBoundaries("the first sequence must start at step 0") }
        for i in 1..<starts.count where starts[i] <= starts[i - 1] {
            throw .invalidBoundaries(
                "starts must increase strictly (start \(i) is \(starts[i]) after \(starts[i - 1]))")
        }
        if starts.last! >= steps { throw .invalidBoundaries("start \(starts.last!) is not below T = \(steps)") }
        self.starts = starts
        self.steps = steps
    }

    /// One sequence of `steps` steps (the unpacked case).
    public static func single(steps: Int) -> SequenceBoundaries {
        // Never throws for steps ≥ 1; callers check T > 0 first.
        (try? SequenceBoundaries(starts: [0], steps: max(1, steps)))!
    }

    /// Number of sequences.
    @inlinable public var count: Int { starts.count }

    /// Length of each sequence.
    public var lengths: [Int] { (0..<count).map { range(of: $0).count } }

    /// The steps of sequence `i`.
    @inlinable
    public func range(of i: Int) -> Range<Int> {
        starts[i]..<(i + 1 < starts.count ? starts[i + 1] : steps)
    }

    /// The sequence that holds step `t` (0 ≤ t < T): binary search over the starts.
    @inlinable
    public func sequence(containing t: Int) -> Int {
        firstStart(atLeast: t + 1) - 1
    }

    /// Index of the first start ≥ `t` (`count` if none).
    @inlinable
    public func firstStart(atLeast t: Int) -> Int {
        var lo = 0
        var hi = starts.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if starts[mid] < t { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Whether step `t` is the first step of a sequence.
    @inlinable
    public func isStart(_ t: Int) -> Bool {
        let i = firstStart(atLeast: t)
        return i < starts.count && starts[i] == t
    }

    /// The reset steps inside `range` in processing order, with their sequences: forward, the
    /// sequence starts (ascending); reverse, the sequence ends − 1 (descending).
    public func resets(in range: Range<Int>, reverse: Bool) -> [(step: Int, sequence: Int)] {
        if range.isEmpty { return [] }
        if !reverse {
            var out: [(step: Int, sequence: Int)] = []
            var i = firstStart(atLeast: range.lowerBound)
            while i < starts.count, starts[i] < range.upperBound {
                out.append((starts[i], i))
                i += 1
            }
            return out
        }
        // Sequence i ends at e_i = starts[i + 1] − 1 (T − 1 for the last): e_i ∈ range ⇔
        // starts[i + 1] ∈ [lower + 1, upper + 1).
        var out: [(step: Int, sequence: Int)] = []
        var i = firstStart(atLeast: range.lowerBound + 1) - 1
        while i < starts.count {
            let end = i + 1 < starts.count ? starts[i + 1] - 1 : steps - 1
            if end >= range.upperBound { break }
            if end >= range.lowerBound { out.append((end, i)) }
            i += 1
        }
        return out.reversed()
    }

    /// `ranges` (contiguous, covering some steps) cut further at every sequence start, so that no
    /// piece spans two sequences.
    public func splitting(_ ranges: [Range<Int>]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        out.reserveCapacity(ranges.count + starts.count)
        for range in ranges where !range.isEmpty {
            var lower = range.lowerBound
            var i = firstStart(atLeast: lower + 1)
            while i < starts.count, starts[i] < range.upperBound {
                out.append(lower..<starts[i])
                lower = starts[i]
                i += 1
            }
            out.append(lower..<range.upperBound)
        }
        return out
    }
}
