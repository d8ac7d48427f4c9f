import Foundation
import ParaRNN
import SequenceIO

/// Reads a streamed solve's input one segment ahead, on a background thread: while segment k
/// is solved, segment k + 1 is read into the other of two reused buffers, converted to the
/// compute type and checked for values that are not finite. Reading then costs wall time only
/// where it is slower than solving (the rollout leaves a core free for it; on 16 cores the
/// reads took ≈ 30 ms of a 300 ms Newton solve when they were done in turn). A segment the
/// thread has not begun when the solver wants it is read by the solver's thread itself.
///
/// Segment k covers steps `k·n ..< min(T, (k + 1)·n)` for n = `segmentSteps`. A segment that
/// cannot be read ends the reading: nothing after it is read.
///
///     let reader = SegmentReader<Float>(source: source, segmentSteps: 4096, computeType: .float32)
///     while let segment = reader.next() {
///         let x = try segment.values.get()   // [count][B][m], time-major
///         …                                  // solve it; segment k + 1 is being read meanwhile
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

    /// One reused buffer. Only the reading thread writes it, while the solver holds the other.
    private final class Buffer { var values: [S] = [] }

    let source: any SegmentSource
    let segmentSteps: Int
    let segments: Int
    let computeType: ScalarType
    private let queue = DispatchQueue(label: "pararnn.input", qos: .userInitiated)
    private let buffers = [Buffer(), Buffer()]
    /// Where the next segment (number ``taken``) is; guarded by `condition`.
    private enum State {
        case none
        /// Asked of the reading thread, not begun.
        case queued(Int)
        /// Being read by the reading thread.
        case reading
        case done(Segment)
    }
    private var state = State.none
    private let condition = NSCondition()
    /// How many segments ``next()`` has returned.
    private var taken = 0

    init(source: any SegmentSource, segmentSteps: Int, computeType: ScalarType) {
        self.source = source
        self.segmentSteps = segmentSteps
        self.computeType = computeType
        segments = (source.steps + segmentSteps - 1) / segmentSteps
    }

    /// The next segment (waits for it); starts reading the one after. `nil` after the last
    /// segment or after a segment that failed. A segment the reading thread has not begun
    /// (the first one, or when the thread waits for a core: 2 cores, 2 workers) is read here
    /// instead of waiting for the thread to be scheduled.
    func next() -> Segment? {
        guard taken < segments else { return nil }
        let k = taken
        var segment: Segment?
        condition.lock()
        if k == 0 { state = .queued(0) }
        while segment == nil {
            switch state {
            case .queued(let q) where q == k:
                state = .reading
                condition.unlock()
                segment = read(k, into: buffers[k % 2])
                condition.lock()
            case .done(let s): segment = s
            default: condition.wait()
            }
        }
        state = .none
        condition.unlock()
        taken += 1
        if case .failure = segment!.values {
            taken = segments
        } else if taken < segments {
            startReading(taken)
        }
        return segment
    }

    /// Asks the reading thread for segment `k`, unless ``next()`` takes it first.
    private func startReading(_ k: Int) {
        condition.withLock { state = .queued(k) }
        queue.async { [self] in
            condition.lock()
            guard case .queued(let q) = state, q == k else {
                condition.unlock()
                return
            }
            state = .reading
            condition.unlock()
            let segment = read(k, into: buffers[k % 2])
            condition.lock()
            state = .done(segment)
            condition.broadcast()
            condition.unlock()
        }
    }

    private func read(_ k: Int, into buffer: Buffer) -> Segment {
        let range = (k * segmentSteps)..<min(source.steps, (k + 1) * segmentSteps)
        let count = range.count * source.batch * source.features
        // The last segment may be shorter: the same storage, fewer values.
        if buffer.values.count > count {
            buffer.values.removeLast(buffer.values.count - count)
        } else if buffer.values.count < count {
            buffer.values = [S](repeating: 0, count: count)
        }
        let failure: SequenceIOError? = buffer.values.withUnsafeMutableBytes { raw in
            do throws(SequenceIOError) {
                try source.read(steps: range, into: raw.baseAddress!, as: computeType)
                return nil
            } catch { return error }
        }
        if let failure { return Segment(range: range, values: .failure(.source(failure))) }
        // Values the source checked stay finite unless rounded from float64 to Float.
        if source.scalarType == .float64, S.self == Float.self,
            let bad = buffer.values.withUnsafeBufferPointer({ firstNonFinite($0) })
        {
            return Segment(range: range, values: .failure(.notFiniteInComputeType(index: bad)))
        }
        return Segment(range: range, values: .success(buffer.values))
    }
}
