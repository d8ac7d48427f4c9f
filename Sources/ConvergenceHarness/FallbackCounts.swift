import ParaRNN

/// The three counts that decide issue 16's "done when" for a grid, read from a report.
///
/// The harness solves every case with `fallback = false`; the solver's own chain
/// (method → ELK → sequential rollout) is reconstructed from the cases of the grid: ELK in the
/// chain starts from the solver's guess — f(0, u_t) (guess "default") when the first attempt
/// started from a given guess or from f(0, u_t), the chunk rollouts when it started from them
/// (guess "chunks", the product's default) — so
///     chain(M, key) ends in the rollout ⇔ M fails on key ∧ ELK fails on key with guess g,
///     g = "chunks" if key's guess is "chunks", else "default"
/// (for M = ELK: ⇔ ELK fails on key). A chain needing a case the report lacks (no `elk` or no
/// such guess in the grid, or a shard) is counted as undetermined, never as a success.
///
/// - ``chainFallbacks``: cases of ParaGRU/ParaLSTM with weight scale s ≤ 3 whose chain ends in
///   the sequential rollout (must be 0);
/// - ``automaticFallbacks``: case keys (the method aside) where `.automatic` — with this report's
///   thread count — picked a parallel method whose chain then ends in the rollout (must be 0);
///   ``contractivityFallbacks`` the same for ``CaseResult/parallelChoice``, the method its
///   contractivity rule picks once the cost model allows a parallel solve (more cores);
/// - ``nanHistories``: cases whose residual history holds a NaN (must be 0).
///
///     let counts = FallbackCounts(report)
///     print(counts.line)   // "done-when: (a) 0 of 96 … (c) 0 NaN histories"
public struct FallbackCounts: Equatable, Sendable {
    /// ParaGRU/ParaLSTM cases with s ≤ 3 whose chain ends in the sequential rollout.
    public var chainFallbacks = 0
    /// ParaGRU/ParaLSTM cases with s ≤ 3 whose chain is known.
    public var chainCases = 0
    /// ParaGRU/ParaLSTM cases with s ≤ 3 whose chain needs a case the report lacks.
    public var chainUndetermined = 0
    /// Case keys where `.automatic` (this report's threads) picked a parallel method that then
    /// fell back to the rollout.
    public var automaticFallbacks = 0
    /// Case keys where `.automatic` (this report's threads) picked a parallel method whose chain
    /// is known.
    public var automaticParallelPicks = 0
    /// The same for ``CaseResult/parallelChoice`` (the contractivity rule's pick).
    public var contractivityFallbacks = 0
    public var contractivityParallelPicks = 0
    /// Picks (either kind) whose chain needs a case the report lacks.
    public var picksUndetermined = 0
    /// Cases whose residual history holds a NaN, and a ±Inf.
    public var nanHistories = 0
    public var infiniteHistories = 0
    /// The thread count the guess "chunks" planned its chunks for (the run's `--threads`), when
    /// the report has such cases: their iterations, and so the counts, depend on it.
    public var chunkThreads: Int?
    /// (a) and the contractivity picks of (b) per initial guess, as (fallbacks, known): in the
    /// line when the report holds more than one guess.
    public var byGuess: [HarnessGuess: GuessCounts] = [:]

    /// (a) and the contractivity picks of (b) for the cases of one guess.
    public struct GuessCounts: Equatable, Sendable {
        public var chainFallbacks = 0
        public var chainCases = 0
        public var contractivityFallbacks = 0
        public var contractivityParallelPicks = 0
    }

    /// The counts of `report`.
    public init(_ report: HarnessReport) {
        var byKey: [CaseKey: CaseResult] = [:]
        for c in report.cases { byKey[c.key] = c }
        /// Whether the chain from `method` on `key` ends in the rollout (`nil`: unknown).
        func fallsBack(_ method: SolverMethod, _ key: CaseKey) -> Bool? {
            var first = key
            first.method = method
            guard let attempt = byKey[first] else { return nil }
            if Self.solved(attempt) { return false }
            var elk = key
            elk.method = .elk
            elk.guess = method == .elk || key.guess == .chunks ? key.guess : .default
            guard let fallback = byKey[elk] else { return nil }
            return !Self.solved(fallback)
        }
        if report.cases.contains(where: { $0.key.guess == .chunks }) { chunkThreads = report.machine.threads }
        var groups: [CaseKey: CaseResult] = [:]
        for c in report.cases {
            if c.residualHistory.contains(where: \.isNaN) { nanHistories += 1 }
            if c.residualHistory.contains(where: \.isInfinite) { infiniteHistories += 1 }
            if [.paragru, .paralstm].contains(c.key.cell), c.key.scale <= 3 {
                switch fallsBack(c.key.method, c.key) {
                case .some(true):
                    chainFallbacks += 1
                    chainCases += 1
                    byGuess[c.key.guess, default: GuessCounts()].chainFallbacks += 1
                    byGuess[c.key.guess, default: GuessCounts()].chainCases += 1
                case .some(false):
                    chainCases += 1
                    byGuess[c.key.guess, default: GuessCounts()].chainCases += 1
                case nil: chainUndetermined += 1
                }
            }
            var group = c.key
            group.method = .automatic
            if groups[group] == nil { groups[group] = c }
        }
        for (group, c) in groups {
            for (pick, isAutomatic) in [(c.automaticMethod, true), (c.parallelChoice, false)] {
                guard let pick, Self.parallel.contains(pick) else { continue }
                guard let falls = fallsBack(pick, group) else {
                    picksUndetermined += 1
                    continue
                }
                if isAutomatic {
                    automaticParallelPicks += 1
                    if falls { automaticFallbacks += 1 }
                } else {
                    contractivityParallelPicks += 1
                    byGuess[group.guess, default: GuessCounts()].contractivityParallelPicks += 1
                    if falls {
                        contractivityFallbacks += 1
                        byGuess[group.guess, default: GuessCounts()].contractivityFallbacks += 1
                    }
                }
            }
        }
    }

    static let parallel: Set<SolverMethod> = [.newton, .quasiNewton, .damped, .elk]

    /// A case counts as solved when it ran and met its tolerance.
    static func solved(_ c: CaseResult) -> Bool { c.failure == nil && c.converged }

    /// Whether all three counts are zero (undetermined chains aside).
    public var passed: Bool {
        chainFallbacks == 0 && automaticFallbacks == 0 && contractivityFallbacks == 0 && nanHistories == 0
    }

    /// The counts in one line.
    public var line: String {
        var text =
            "done-when: (a) ParaGRU/ParaLSTM s ≤ 3: \(chainFallbacks) of \(chainCases) cases end in the sequential rollout with ELK in the chain"
        if chainUndetermined > 0 { text += " (\(chainUndetermined) undetermined: their ELK case is not in the report)" }
        text +=
            "; (b) .automatic picked a parallel method that fell back in \(automaticFallbacks) of \(automaticParallelPicks) picks (this run's threads), its contractivity pick in \(contractivityFallbacks) of \(contractivityParallelPicks)"
        if picksUndetermined > 0 { text += " (\(picksUndetermined) undetermined)" }
        text += "; (c) \(nanHistories) residual histories with NaN (\(infiniteHistories) with ±Inf)"
        if byGuess.count > 1 {
            let parts = byGuess.sorted { $0.key.rawValue < $1.key.rawValue }.map { guess, n in
                "\(guess.rawValue): (a) \(n.chainFallbacks) of \(n.chainCases), contractivity picks \(n.contractivityFallbacks) of \(n.contractivityParallelPicks)"
            }
            text += "; by guess — " + parts.joined(separator: ", ")
        }
        if let chunkThreads { text += "; guess \"chunks\" planned for \(chunkThreads) threads" }
        return text
    }
}
