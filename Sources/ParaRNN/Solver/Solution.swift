import ParallelScan

/// How a sequence is solved.
public enum SolverMethod: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Choose sequential or parallel Newton from batch, state size, length and threads.
    case automatic
    /// Plain rollout h_t = f(h_{t−1}, x_t), one step after the other (the reference).
    case sequential
    /// Newton's method with the cell's exact structured Jacobian (ParaRNN; DEER for dense cells).
    case newton
    /// Newton with only the diagonal of the Jacobian (quasi-DEER): cheaper steps, more of them.
    case quasiNewton = "quasi-newton"
    /// Damped Newton: Jacobians clipped so each linear step is a contraction (ELK-style
    /// stabilisation for cells where plain Newton overflows or oscillates).
    case damped
    /// ELK: Levenberg–Marquardt damped Newton as a Kalman filter whose observations are the
    /// previous iterate, its trust region adapted by the merit's decrease (see `ELK`): converges
    /// where Newton's steps overflow or oscillate, to the same certified solution.
    case elk

    public var description: String { rawValue }
}

/// One strategy tried during a solve.
public struct SolveAttempt: Sendable, Codable, Equatable {
    /// The method of this attempt.
    public var method: SolverMethod
    /// Newton iterations (linear scans) it ran.
    public var iterations: Int
    /// max_t ‖r_t‖ before each iteration and after the last, relative to max(1, |f|).
    public var residualHistory: [Double]
    /// Whether it met the tolerance.
    public var converged: Bool
    /// Why it stopped (converged, iteration limit, stagnation, non-finite residual, …).
    public var outcome: String
}

/// The result of a solve: the states, and the evidence that they solve the recurrence.
public struct Solution<Scalar: ScanScalar>: Sendable {
    /// States `[T][stateRow]` in the cell's state layout (see ``RecurrentCell``).
    public var states: [Scalar]
    /// T.
    public var steps: Int
    /// B.
    public var batch: Int
    /// The method that produced ``states``.
    public var method: SolverMethod
    /// Every attempt in order (a fallback adds attempts).
    public var attempts: [SolveAttempt]
    /// Whether ``finalResidual`` meets ``tolerance`` and every state is finite. A sequential
    /// rollout is exact by construction (residual 0) unless it overflowed: a solution with a
    /// ``nonFiniteState`` is never converged.
    public var converged: Bool
    /// The certified residual max_t ‖s_t − f(s_{t−1}, x_t)‖∞ / max(1, ‖f‖∞) of ``states``.
    public var finalResidual: Double
    /// The tolerance used.
    public var tolerance: Double
    /// Why `.automatic` chose what it chose (or "requested").
    public var decision: String
    /// Number of segments the sequence was solved in (cache blocking); 1 if not segmented.
    public var segments: Int
    /// The first NaN or Inf in ``states`` (in memory order), or `nil` when every state is
    /// finite. When set, ``converged`` is false and ``finalResidual`` is NaN.
    public var nonFiniteState: NonFiniteState?
    /// How strongly the recurrence contracts along its first steps (``Contractivity``), when a
    /// parallel method was requested or considered; `nil` for a plain sequential solve.
    public var contractivity: Contractivity? = nil
    /// For several sequences solved packed end to end: each one's length (their sum is
    /// ``steps``); `nil` for a single sequence.
    public var sequenceLengths: [Int]? = nil
    /// For packed solves: each sequence's certified residual max over its steps of
    /// ‖s_t − f(s_{t−1}, x_t)‖∞ / max(1, ‖f‖∞) (0 for a rollout, NaN where a state is not
    /// finite); ``finalResidual`` is their maximum.
    public var sequenceResiduals: [Double]? = nil
    /// The hidden outputs `[T][B][width]`, where the rollout wrote them beside the states
    /// (``SolverOptions/hiddenOutputWidth``); `nil` otherwise.
    package var hiddenOutputs: [Scalar]? = nil

    public init(
        states: [Scalar], steps: Int, batch: Int, method: SolverMethod, attempts: [SolveAttempt],
        converged: Bool, finalResidual: Double, tolerance: Double, decision: String, segments: Int,
        nonFiniteState: NonFiniteState? = nil
    ) {
        self.states = states
        self.steps = steps
        self.batch = batch
        self.method = method
        self.attempts = attempts
        self.converged = converged && nonFiniteState == nil
        self.finalResidual = finalResidual
        self.tolerance = tolerance
        self.decision = decision
        self.segments = segments
        self.nonFiniteState = nonFiniteState
    }

    /// Total Newton iterations over all attempts and segments.
    public var iterations: Int { attempts.reduce(0) { $0 + $1.iterations } }
    /// Residuals of all attempts, in order.
    public var residualHistory: [Double] { attempts.flatMap(\.residualHistory) }
}

/// Where a solution first holds a NaN or Inf (see ``Solution/nonFiniteState``).
public struct NonFiniteState: Sendable, Codable, Equatable, CustomStringConvertible {
    /// The time step t (0-based).
    public var step: Int
    /// The index within step t's state row (the cell's state layout, see ``RecurrentCell``).
    public var offset: Int
    /// The value found (NaN, +Inf or −Inf).
    public var value: Double

    public init(step: Int, offset: Int, value: Double) {
        (self.step, self.offset, self.value) = (step, offset, value)
    }

    /// "NaN", "+Inf" or "-Inf".
    public var valueName: String { value.isNaN ? "NaN" : value > 0 ? "+Inf" : "-Inf" }

    public var description: String { "\(valueName) at step \(step) (state index \(offset))" }
}

/// Why a solve could not start.
public enum SolverError: Error, Equatable, Sendable, CustomStringConvertible {
    case emptySequence
    case shapeMismatch(String)
    case nonFiniteInput(index: Int)
    case invalidOption(String)

    public var description: String {
        switch self {
        case .emptySequence: return "empty input: the sequence has no time steps"
        case .shapeMismatch(let text): return "shape mismatch: \(text)"
        case .nonFiniteInput(let index): return "input holds NaN or Inf at flat index \(index)"
        case .invalidOption(let text): return "invalid option: \(text)"
        }
    }
}

/// Progress of a running solve, for progress bars.
public struct SolverProgress: Sendable {
    public var method: SolverMethod
    public var iteration: Int
    public var residual: Double
    public var segment: Int
    public var segments: Int
}
