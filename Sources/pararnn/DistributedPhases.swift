import Foundation
import ParaMPI
import ParaRNN

#if canImport(Glibc)
    import Glibc
#endif

/// Where each rank of `pararnn solve --distributed` spends its time, from the process's start to
/// the end of the collective write, gathered over the ranks (`MPI_Allreduce` max and min) and
/// printed by rank 0 as one `phases` line:
///
///     phases, ms (min–max over ranks): start 41–47 (MPI init 22–25), read 2.9–3.4,
///       solve 96–99 [local pieces 88–90, guess exchange 0.0–0.3, …], write 12–20 [rows …],
///       total 0.201–0.214 s since the process started; CPU user 150–160, sys 10–12
///
/// `start` runs from the process's start (kernel clock ticks, 10 ms) to the distributed solve's
/// entry: loading the binary and the Swift runtime; `MPI init` is loading libmpi and
/// `MPI_Init_thread`. What `mpirun` spends before the ranks start and after they exit is outside
/// every rank's clock: the wall time of the `mpirun` command minus `total`.
struct DistributedPhases {
    enum Phase: Int, CaseIterable {
        case start, mpiInit, read, solve
        case pieces, guess, exchange, correction, collectives, finiteCheck
        case write, writeHeader, writeRows, writeSync, writeRename
        case total, cpuUser, cpuSystem
        /// CPU seconds (user + sys, all threads) and minor page faults during the solve.
        case solveCPU, solveFaults
    }

    var seconds = [Double](repeating: 0, count: Phase.allCases.count)
    let coupled = CoupledPhaseTimings()

    subscript(_ phase: Phase) -> Double {
        get { seconds[phase.rawValue] }
        set { seconds[phase.rawValue] = newValue }
    }

    /// Adds the time since `start` to `phase`; returns now.
    @discardableResult
    mutating func add(_ phase: Phase, since start: ContinuousClock.Instant) -> ContinuousClock.Instant {
        let now = ContinuousClock.now
        self[phase] += pararnn.seconds(now - start)
        return now
    }

    /// The process's CPU seconds (user + sys, all threads) and minor page faults so far.
    static func usage() -> (cpu: Double, faults: Double) {
        var usage = rusage()
        getrusage(RUSAGE_SELF_PHASES, &usage)
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) * 1e-6
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) * 1e-6
        return (user + system, Double(usage.ru_minflt))
    }

    /// Copies the solver's phase times in, stamps the total and the CPU time.
    mutating func finish(began: ContinuousClock.Instant, startOffset: Double) {
        let map: [(Phase, CoupledPhaseTimings.Phase)] = [
            (.pieces, .pieces), (.guess, .guess), (.exchange, .exchange), (.correction, .correction),
            (.collectives, .collectives), (.finiteCheck, .finiteCheck),
        ]
        for (mine, theirs) in map { self[mine] = coupled[theirs] }
        self[.total] = startOffset + pararnn.seconds(ContinuousClock.now - began)
        var usage = rusage()
        getrusage(RUSAGE_SELF_PHASES, &usage)
        self[.cpuUser] = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) * 1e-6
        self[.cpuSystem] = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) * 1e-6
    }

    /// The `phases` line (collective: every rank calls it; rank 0 gets the text).
    func gathered(world: Communicator, inPieces: Bool) -> (text: String, maxTotal: Double) {
        let (high, low) = world.allreduceMaxMin(seconds)
        let rounds = world.allreduceMaxMin([Double(coupled.rounds)]).max[0]
        func ms(_ p: Phase) -> String {
            let (a, b) = (low[p.rawValue] * 1e3, high[p.rawValue] * 1e3)
            let digits = b < 10 ? 1 : 0
            return String(format: "%.\(digits)f–%.\(digits)f", a, b)
        }
        var text =
            "phases, ms (min–max over ranks): start \(ms(.start)) (MPI init \(ms(.mpiInit))), read \(ms(.read)), solve \(ms(.solve))"
        if inPieces {
            text +=
                " [local pieces \(ms(.pieces)), guess exchange \(ms(.guess)), round exchanges \(ms(.exchange)), correction \(ms(.correction)) (\(Int(rounds)) round\(rounds == 1 ? "" : "s")), collectives \(ms(.collectives)), finite check \(ms(.finiteCheck))]"
        }
        text +=
            ", solve CPU \(ms(.solveCPU)) with \(Int(low[Phase.solveFaults.rawValue]))–\(Int(high[Phase.solveFaults.rawValue])) page faults"
        text +=
            ", write \(ms(.write)) [header \(ms(.writeHeader)), rows \(ms(.writeRows)), sync \(ms(.writeSync)), rename \(ms(.writeRename))]"
        text += String(
            format: ", total %.3f–%.3f s since the process started", low[Phase.total.rawValue],
            high[Phase.total.rawValue])
        text += "; CPU user \(ms(.cpuUser)), sys \(ms(.cpuSystem)) per rank\n"
        return (text, high[Phase.total.rawValue])
    }
}

#if os(Linux)
    private let RUSAGE_SELF_PHASES = __rusage_who_t(RUSAGE_SELF.rawValue)
#else
    private let RUSAGE_SELF_PHASES = RUSAGE_SELF
#endif
