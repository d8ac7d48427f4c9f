import Foundation
import ParaRNN
import ParallelScan
import SequenceIO

/// The output `.npy` of a streamed solve, written as the segments are solved: the header with
/// the final shape `[T, d]` or `[B, T, d]` first, then each segment's rows at their offsets
/// (batch entry e's rows of steps t₀ ..< t₁ at ((e·T + t₀)·d) values past the header). The
/// file appears only on ``commit()`` (see ``StreamingFile``); a run that fails or is
/// interrupted leaves nothing.
///
/// The writes run on a background thread, at most ``queuedBytes`` (16 MiB, at least two
/// segments) behind the solver, so writing the output overlaps the next segments' solve. When
/// that thread falls behind (it waits for a core: 2 cores, 2 workers, or a busy machine), the
/// solver's thread writes instead of waiting: a segment that finds the queue full is written
/// at once, and ``commit()`` writes what is still queued. The segments' rows go to disjoint
/// places in the file, so their order does not matter. An error of a background write is
/// thrown by the next ``write(_:steps:)`` or by ``commit()``.
///
///     let writer = try HiddenWriter<Float>(url: out, steps: T, batch: 1, width: d, batched: false)
///     try writer.write(h, steps: 0..<4096)     // h: [4096][1][d]
///     try writer.commit()
final class HiddenWriter<S: CellMath>: @unchecked Sendable {
    let file: StreamingFile
    let steps: Int, batch: Int, width: Int
    let dataOffset: Int
    /// The batch-major staging rows (B > 1) of the background thread, of the caller's and of
    /// the write offered to the solver's workers (``offer(_:steps:)``).
    private var queueStaging: [S] = [], callerStaging: [S] = [], offerStaging: [S] = []
    /// The writing thread (``IOLane``).
    private let lane: IOLane
    /// How many segments may wait for the background thread.
    private let capacity: Int
    /// How far (in bytes of output) the writes may lag behind the solver.
    static var queuedBytes: Int { 16 << 20 }
    private let lock = NSLock()
    /// Segments not yet taken by a writer (guarded by `lock`).
    private var pending: [(hidden: [S], range: Range<Int>)] = []
    private var failure: SequenceIOError?

    /// - Parameters:
    ///   - segmentSteps: the steps per segment (sizes the write queue).
    ///   - durable: sync the file to the disk before it is renamed into place (`--sync`; see
    ///     ``StreamingFile``).
    ///   - yieldsToSolver: the writing thread runs only on idle cores (``IOLane``).
    init(
        url: URL, steps: Int, batch: Int, width: Int, batched: Bool, segmentSteps: Int, durable: Bool = false,
        yieldsToSolver: Bool = false
    ) throws(SequenceIOError) {
        capacity = max(2, Self.queuedBytes / max(1, segmentSteps * batch * width * MemoryLayout<S>.size))
        file = try StreamingFile(url: url, durable: durable)
        self.steps = steps
        self.batch = batch
        self.width = width
        let shape = batched ? [batch, steps, width] : [steps, width]
        let header = NPY.header(shape: shape, type: S.self == Float.self ? .float32 : .float64)
        try file.write(header, at: 0)
        dataOffset = header.count
        // Every byte of the file will be written: its blocks are reserved up front.
        file.reserve(bytes: header.count + steps * batch * width * MemoryLayout<S>.size)
        // Last: a thread started before a failed step above would never be closed.
        lane = IOLane(name: "pararnn.output", yieldsToSolver: yieldsToSolver)
    }

    deinit { lane.close() }

    /// Queues h of steps `range`, time-major `[range.count][B][width]`, for writing; writes it
    /// now, on the caller's thread, when ``queuedBytes`` are queued already.
    func write(_ hidden: [S], steps range: Range<Int>) throws(SequenceIOError) {
        if let failure = takeFailure() { throw failure }
        let queued = lock.withLock {
            guard pending.count < capacity else { return false }
            pending.append((hidden, range))
            return true
        }
        guard queued else {
            try writeNow(hidden, steps: range, staging: &callerStaging)
            return
        }
        lane.async { [self] in
            // The oldest waiting segment, unless the caller took it (commit) or a write failed.
            guard let next = lock.withLock({ failure == nil && !pending.isEmpty ? pending.removeFirst() : nil })
            else { return }
            do throws(SequenceIOError) { try writeNow(next.hidden, steps: next.range, staging: &queueStaging) } catch {
                lock.withLock { failure = error }
            }
        }
    }

    private func takeFailure() -> SequenceIOError? { lock.withLock { failure } }

    /// The pieces an offered write (``offer(_:steps:pieces:)``) is cut into for a pass of
    /// `chunks` chunks: one per 8 chunks. Writing a segment's h costs about a tenth of a
    /// Newton pass over it (a d = 4 ParaGRU: 16 bytes per step at ≈ 0.4 ns a byte, against
    /// ≈ 60 ns a step), so a piece is about one chunk's work and the pieces spread over the
    /// workers that finish first, instead of one worker holding up the join with the whole
    /// segment (16 workers: 49 chunks of ≈ 60 µs per 50,000-step segment, 6 pieces). On 2
    /// workers (8 chunks) it is one piece: 7 pieces of 128 KiB made the 2-core VM's whole
    /// process 1.03× slower (T = 10⁶, 30 rounds).
    static func pieces(chunks: Int) -> Int { max(1, chunks / 8) }

    /// h of steps `range` as writes for the next segment's parallel passes to take on
    /// (``SideWork``: the first workers to run out of chunks write it, where the writing
    /// thread would have taken a core from a worker), in `pieces` pieces of whole rows (one
    /// for B > 1, written through its own staging rows). A pass takes all the pieces or none;
    /// where none was taken, their ``SideWork/claim()`` succeeds and the caller hands the rows
    /// to ``write(_:steps:)``. At most one offer may be outstanding at a time. A failure is
    /// thrown by the next ``write(_:steps:)`` or by ``commit()``.
    func offer(_ hidden: [S], steps range: Range<Int>, pieces: Int = 1) -> [SideWork] {
        let rowBytes = width * MemoryLayout<S>.size
        guard batch == 1 else {
            return [
                SideWork { [self] in
                    guard takeFailure() == nil else { return }
                    do throws(SequenceIOError) { try writeNow(hidden, steps: range, staging: &offerStaging) } catch {
                        lock.withLock { failure = failure ?? error }
                    }
                }
            ]
        }
        let pieces = max(1, min(range.count, pieces))
        return (0..<pieces).map { piece in
            let rows = ChunkPlan.evenRange(index: piece, of: pieces, total: range.count)
            return SideWork { [self] in
                guard takeFailure() == nil else { return }
                hidden.withUnsafeBytes { raw in
                    guard let base = raw.baseAddress else { return }
                    do throws(SequenceIOError) {
                        try file.write(
                            base + rows.lowerBound * rowBytes, count: rows.count * rowBytes,
                            at: dataOffset + (range.lowerBound + rows.lowerBound) * rowBytes)
                    } catch { lock.withLock { failure = failure ?? error } }
                }
            }
        }
    }

    /// Writes, on the caller's thread, the segments the background thread has not taken.
    private func writePending() throws(SequenceIOError) {
        while let next = lock.withLock({ pending.isEmpty ? nil : pending.removeFirst() }) {
            try writeNow(next.hidden, steps: next.range, staging: &callerStaging)
        }
    }

    /// Writes h of steps `range` now, batch-major through `staging` when B > 1.
    private func writeNow(_ hidden: [S], steps range: Range<Int>, staging: inout [S]) throws(SequenceIOError) {
        let size = MemoryLayout<S>.size
        let rowBytes = width * size
        var failure: SequenceIOError?
        if batch == 1 {
            hidden.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return }
                do throws(SequenceIOError) {
                    try file.write(
                        base, count: range.count * rowBytes, at: dataOffset + range.lowerBound * rowBytes)
                } catch { failure = error }
            }
        } else {
            if staging.count < range.count * width { staging = [S](repeating: 0, count: range.count * width) }
            hidden.withUnsafeBytes { h in
                staging.withUnsafeMutableBufferPointer { out in
                    guard let base = out.baseAddress, let source = h.baseAddress else { return }
                    for e in 0..<batch where failure == nil {
                        copyStridedRows(
                            into: UnsafeMutableRawPointer(base), stride: rowBytes, from: source + e * rowBytes,
                            stride: batch * rowBytes, rowBytes: rowBytes, rows: range.count)
                        do throws(SequenceIOError) {
                            try file.write(
                                UnsafeRawPointer(base), count: range.count * rowBytes,
                                at: dataOffset + (e * steps + range.lowerBound) * rowBytes)
                        } catch { failure = error }
                    }
                }
            }
        }
        if let failure { throw failure }
    }

    /// Writes what is still queued (beside the background thread's last write), then moves
    /// the complete file into place (synced first if durable).
    func commit() throws(SequenceIOError) {
        do { try writePending() } catch { lock.withLock { failure = failure ?? error } }
        lane.sync()
        if let failure = takeFailure() {
            file.discard()
            throw failure
        }
        try file.commit()
    }

    /// Drops the queued writes, waits for the one under way and removes the temporary file.
    func discard() {
        lock.withLock { pending.removeAll() }
        lane.sync()
        file.discard()
    }
}
