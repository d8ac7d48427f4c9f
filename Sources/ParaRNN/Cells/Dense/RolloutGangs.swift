import Foundation
import ParallelScan

/// How a sequential rollout of a batch shares its steps across threads when W_hh is too large
/// for one core's cache: `gangs` groups of `size` threads; each gang rolls out its own share of
/// the sequences, and each of its members owns 1/size of the hidden units (and of W_hh's rows)
/// of all of them, meeting its gang at a barrier after every step (``SplitStepRollout``).
///
/// The batch split (one worker per group of sequences, ``SequenceSolver/rolloutWorkers(batch:threads:)``)
/// needs no barrier, but every worker streams all of W_hh through its core for every step: a
/// d = 256 GRU's 768 KiB (1 MiB for an LSTM) come from the shared L3, and 16 workers doing so at
/// once ran at half their one-worker speed (16-core VM, stop 23: 21.5 against 10.6 µs per
/// step). In gangs of four each member keeps 192 KiB of rows in its own L2 and runs four
/// sequences at once through one load of each weight vector.
///
/// ```swift
/// let plan = RolloutGangs.plan(gates: 3, hidden: 256, scalarBytes: 4, batch: 16, steps: 4000,
///                              threads: 16, cores: 16)
/// // plan == RolloutGangs(gangs: 4, size: 4)
/// ```
public struct RolloutGangs: Sendable, Equatable, CustomStringConvertible {
    /// The number of gangs (each rolls out its own sequences).
    public let gangs: Int
    /// Threads per gang (each owns a share of the hidden units).
    public let size: Int

    public init(gangs: Int, size: Int) {
        precondition(gangs >= 1 && size >= 1, "a gang plan needs at least one gang of one thread")
        (self.gangs, self.size) = (gangs, size)
    }

    /// No gangs: the rollout's batch split by sequences (or one thread).
    public static let none = RolloutGangs(gangs: 1, size: 1)

    /// The threads the plan runs: gangs × size.
    public var workers: Int { gangs * size }

    /// Whether the plan shares steps across threads at all.
    public var splitsSteps: Bool { size > 1 }

    public var description: String { "\(gangs) gang\(gangs == 1 ? "" : "s") of \(size) threads" }

    /// Bytes of a member's W_hh rows that stay in one core's L2 with the rest of its work
    /// (projections, states): half of the 512 KiB L2 of the 2-core VM's cores, the smaller of
    /// the two machines measured.
    static let cacheBudget = 256 * 1024

    /// Threads below which the batch split's workers do not starve for W_hh: on the 2-core VM
    /// two workers streaming a d = 256 GRU's 768 KiB from L3 ran B = 16 at 1.6–2.0× the
    /// one-thread throughput, while gangs of two were slower than the batch split there
    /// (their barrier every step; the one-sequence split-step rollout of the same VM ran 2–3×
    /// slower on two threads than on one in the same minutes). On 16 cores each of 16 workers
    /// took 21.5 µs per step against 10.6 µs alone (stop 23).
    static let minimumThreads = 8

    /// The gangs for a rollout of `batch` ≥ 2 sequences of `steps` steps with `threads`
    /// threads; ``none`` unless all of these hold:
    /// - W_hh (G·d² values of `scalarBytes`) is larger than ``cacheBudget``: otherwise each
    ///   worker of the batch split keeps it in its own cache already;
    /// - the sequences are long enough to pay for starting threads (≥ 256 steps) and there
    ///   are at least ``minimumThreads`` threads (never more than the machine's active cores:
    ///   members spin at a barrier every step, and a descheduled member would stall its gang);
    /// - a gang's size is the least power of two that brings a member's rows within the budget
    ///   (4 for a d = 256 GRU or LSTM in Float), and there are that many threads (never more
    ///   than the machine's active cores) and octets of units;
    /// - each member keeps at least ``SplitStepRollout/minimumWorkPerWorker`` multiply-adds per
    ///   step (the barrier's cost against the work).
    ///
    /// There are min(B, threads / size) gangs, each with an even share of the sequences.
    public static func plan(
        gates: Int, hidden d: Int, scalarBytes: Int, batch: Int, steps: Int, threads: Int,
        cores: Int = WorkerPool.activeProcessorCount
    ) -> RolloutGangs {
        let threads = min(threads, cores)
        let bytes = gates * d * d * scalarBytes
        guard batch >= 2, threads >= minimumThreads, steps >= 256, bytes > cacheBudget else { return .none }
        var size = 2
        while size * cacheBudget < bytes { size *= 2 }
        // Fewer threads than that leave a member more rows than its cache holds.
        guard size <= min(threads, d / 8) else { return .none }
        let gangs = max(1, min(batch, threads / size))
        let sequences = (batch + gangs - 1) / gangs
        guard sequences * gates * d * (d / size) >= SplitStepRollout.minimumWorkPerWorker else { return .none }
        return RolloutGangs(gangs: gangs, size: size)
    }
}
