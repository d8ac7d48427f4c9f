import Foundation
import ParaRNN
import ParallelScan
import SequenceIO

/// Reads a streamed solve's input ahead, on a background thread: while segment k is solved,
/// segments k + 1 … k + depth − 1 are read into reused buffers, converted to the compute type
/// and checked for values that are not finite. Reading then costs wall time only where it is
/// slower than solving (the rollout leaves a core free for it; on 16 cores the reads took
/// ≈ 30 ms of a 300 ms Newton solve when they were done in turn). Reading more than one
/// segment ahead lets the thread wait for a core now and then (2 cores, 2 workers, or a busy
/// machine) without holding up the solver, and a segment the thread has not begun when the
/// solver wants it is read by the solver's thread itself. The input buffers are `depth`
/// segments of `[n][B][m]` rows (3 by default).
///
/// Segment k covers steps `k·n ..< min(T, (k + 1)·n)` for n = `segmentSteps`. A segment that
/// cannot be read ends the segments handed out.
///
///     let reader = SegmentReader<Float>(source: source, segmentSteps: 4096, computeType: .float32)
///     while let segment = reader.next() {
///         let x = try segment.values.get()   // [count][B][m], time-major
///         …                                  // solve it; the next segments are read meanwhile
///     }
final class SegmentReader<S: CellMath>: @unchecked Sendable {
    /// Segment `range`'s rows `[range.count][B][m]`, or why they could not be read.
    struct Segment {
        var range: Range<Int>
        var values: Result<[S], Failure>
    }

    enum Failure: Error {
        /// The source failed (unreadable, truncated, a NaN or infinity in the file).
        case source(SequenceIOError)
        /// Value `index` of the segment is finite in the file but not in `S` (a float64 beyond
        /// Float's range).
        case notFiniteInComputeType(index: Int)
    }

    /// Where a segment is.
    private enum State {
        case empty
        /// Asked of the reading thread, not begun.
        case queued(Int)
        /// Being read (by the thread, or by the solver's thread).
        case reading
        case done(Segment)
    }

    /// One reused buffer and the state of the segment it holds (guarded by `condition`).
    private final class Slot: @unchecked Sendable {
        var values: [S] = []
        var state = State.empty
    }

    let source: any SegmentSource
    let segmentSteps: Int
    let segments: Int
    let computeType: ScalarType
    /// Buffers: the segment handed out and those read ahead.
    let depth: Int
    /// The reading thread (``IOLane``).
    private let lane: IOLane
    private let slots: [Slot]
    private let condition = NSCondition()
    /// One read of the source at a time (the solver's thread may read beside the thread).
    private let sourceLock = NSLock()
    /// How many segments ``next()`` has returned.
    private var taken = 0
    /// The read ahead that ``next(offeringReadAhead:)`` offered, with its job for the thread.
    private var offered: (work: SideWork, job: @Sendable () -> Void)?

    /// - Parameter yieldsToSolver: the reading thread runs only on idle cores (``IOLane``).
    init(
        source: any SegmentSource, segmentSteps: Int, computeType: ScalarType, depth: Int = 3,
        yieldsToSolver: Bool = false
    ) {
        lane = IOLane(name: "pararnn.input", yieldsToSolver: yieldsToSolver)
        self.source = source
        self.segmentSteps = segmentSteps
        self.computeType = computeType
        segments = (source.steps + segmentSteps - 1) / segmentSteps
        self.depth = max(1, min(depth, segments))
        slots = (0..<self.depth).map { _ in Slot() }
    }

    deinit { lane.close() }

    /// The next segment (waits for it); asks for the one `depth` ahead. `nil` after the last
    /// segment or after a segment that failed. The rows handed out stay valid until the next
    /// call.
    func next() -> Segment? {
        next(offeringReadAhead: false).segment
    }

    /// ``next()``; with `offeringReadAhead`, the read of the segment `depth` ahead (if any) is
    /// not given to the reading thread but returned as a ``SideWork`` for the solver's passes
    /// to take on (the first worker to run out of chunks reads it, where the reading thread
    /// would have taken a core from a worker). The caller calls ``settleOffer()`` once the
    /// solve is done: a read no pass took goes to the reading thread then.
    func next(offeringReadAhead: Bool) -> (segment: Segment?, readAhead: SideWork?) {
        settleOffer()
        guard taken < segments else { return (nil, nil) }
        let k = taken
        // Segment k − 1's buffer is free again: it reads segment k − 1 + depth.
        var readAhead: SideWork?
        if k == 0 {
            for j in 0..<depth { enqueue(j) }
        } else if k - 1 + depth < segments {
            if offeringReadAhead {
                let job = queue(k - 1 + depth)
                readAhead = SideWork(job)
                offered = (readAhead!, job)
            } else {
                enqueue(k - 1 + depth)
            }
        }
        let slot = slots[k % depth]
        var segment: Segment?
        condition.lock()
        while segment == nil {
            switch slot.state {
            case .queued(let q) where q == k:
                slot.state = .reading
                condition.unlock()
                segment = read(k, into: slot)
                condition.lock()
            case .done(let s): segment = s
            default: condition.wait()
            }
        }
        slot.state = .empty
        condition.unlock()
        taken += 1
        if case .failure = segment!.values { taken = segments }
        return (segment, readAhead)
    }

    /// Gives the offered read ahead to the reading thread unless a pass took it.
    func settleOffer() {
        guard let pending = offered else { return }
        offered = nil
        if pending.work.claim() { lane.async(pending.job) }
    }

    /// Asks the reading thread for segment `k`, unless ``next()`` takes it first.
    private func enqueue(_ k: Int) {
        lane.async(queue(k))
    }

    /// Marks segment `k` as asked for and returns the job that reads it unless ``next()``
    /// has taken it first.
    private func queue(_ k: Int) -> @Sendable () -> Void {
        let slot = slots[k % depth]
        condition.withLock { slot.state = .queued(k) }
        // Weak: an offered read the caller never settles (it failed) must not keep the reader.
        return { [weak self] in
            guard let self else { return }
            condition.lock()
            guard case .queued(let q) = slot.state, q == k else {
                condition.unlock()
                return
            }
            slot.state = .reading
            condition.unlock()
            let segment = read(k, into: slot)
            condition.lock()
            slot.state = .done(segment)
            condition.broadcast()
            condition.unlock()
        }
    }

    private func read(_ k: Int, into slot: Slot) -> Segment {
        let range = (k * segmentSteps)..<min(source.steps, (k + 1) * segmentSteps)
        let count = range.count * source.batch * source.features
        // The last segment may be shorter: the same storage, fewer values.
        if slot.values.count > count {
            slot.values.removeLast(slot.values.count - count)
        } else if slot.values.count < count {
            slot.values = [S](repeating: 0, count: count)
        }
        let failure: SequenceIOError? = slot.values.withUnsafeMutableBytes { raw in
            sourceLock.lock()
            defer { sourceLock.unlock() }
            do throws(SequenceIOError) {
                try source.read(steps: range, into: raw.baseAddress!, as: computeType)
                return nil
            } catch { return error }
        }
        if let failure { return Segment(range: range, values: .failure(.source(failure))) }
        // Values the source checked stay finite unless rounded from float64 to Float.
        if source.scalarType == .float64, S.self == Float.self,
            let bad = slot.values.withUnsafeBufferPointer({ firstNonFinite($0) })
        {
            return Segment(range: range, values: .failure(.notFiniteInComputeType(index: bad)))
        }
        return Segment(range: range, values: .success(slot.values))
    }
}
