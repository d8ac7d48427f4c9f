import ParallelScan

extension NewtonEngine {
    /// ELK's trust-region iteration (see ``ELK``), shared by the unfused
    /// (``iterateELK(tolerance:maxIterations:fused:report:)``) and the fused
    /// (``iterateELKFused(tolerance:maxIterations:report:)``) iterations, which differ only in
    /// how a pass is made:
    /// - `measure(σ²)` linearises the current states and measures them (the start, a refused
    ///   step restored, an overflowed iterate bounded);
    /// - `step(σ²)` saves the states into `saved`, takes one filtered step and measures the
    ///   iterate it leaves.
    ///
    /// The σ² handed to both is the one the pass filters with. The unfused iteration filters the
    /// step it takes (`filtersAhead: false`: the schedule's current σ²; its `measure` ignores σ²);
    /// the fused pass filters the recurrence of the *following* step in the same memory pass
    /// (`filtersAhead: true`: ``ELKSchedule/next``, the σ² a taken step leads to).
    ///
    /// From the measure M⁽⁰⁾ of the current states, each iteration: stop if the
    /// ``ConvergenceMonitor`` (tolerance, non-finite residual, iteration limit) or
    /// ``ELKProgress`` (stagnation) says so; if ``ELKRepair`` says a sweep is due (stalled for 3
    /// iterations, no sweep in the last), roll the segments from the first unconverged step out
    /// exactly (``sweepSegments(_:)``), measure, restart the merit comparison from there and count
    /// the iteration; otherwise take a trial step; keep it when
    /// ``ELKSchedule/decide(trial:current:)`` accepts its merit, otherwise restore the states from
    /// `saved` and measure them again. An iterate whose residual is not finite is bounded
    /// (``boundStates()``) and measured again. The outcome notes the final σ², the refused steps
    /// and the bounded overflows.
    ///
    ///     return iterateTrustRegion(
    ///         structure: structure, tolerance: tolerance, maxIterations: maxIterations, saved: saved,
    ///         filtersAhead: false, report: report
    ///     ) { _ in lineariseWithMerit(…) } step: { sigma2 in
    ///         copyStates(to: saved); kalmanDamp(…, sigma2: sigma2); scan(…); return lineariseWithMerit(…)
    ///     }
    func iterateTrustRegion(
        structure: JacobianStructure, tolerance: Double, maxIterations: Int, saved: UnsafePointer<Scalar>,
        filtersAhead: Bool, report: (Int, Double) -> Void, measure: (_ sigma2: Double) -> ELKMeasure,
        step: (_ sigma2: Double) -> ELKMeasure
    ) -> SolveAttempt {
        var bounded = 0
        /// `first`, or after an overflow the bounded states measured again.
        func finite(_ first: ELKMeasure, sigma2: Double) -> ELKMeasure {
            if first.residual.isFinite || boundStates() == 0 { return first }
            bounded += 1
            return measure(sigma2)
        }
        // Stagnation is ELK's own rule (``ELKProgress``), not the monitor's.
        var monitor = ConvergenceMonitor(
            method: .elk, tolerance: tolerance, maxIterations: maxIterations, patience: .max)
        var schedule = ELKSchedule(capsAfterRefusal: structure != .dense)
        var progress = ELKProgress()
        var repair = ELKRepair(steps: steps, spent: seamRepairDepth)
        func finish(_ attempt: SolveAttempt) -> SolveAttempt {
            var described = noteOverflows(ELK.describe(attempt, schedule), bounded)
            described.outcome += repair.note
            return described
        }
        var current = finite(measure(schedule.sigma2), sigma2: schedule.sigma2)
        report(0, current.residual)
        var iteration = 0
        while true {
            if let finished = monitor.record(current.residual, iteration: iteration) { return finish(finished) }
            if progress.stagnates(residual: current.residual, unconverged: current.unconverged) {
                return finish(monitor.stopped(iteration, ELK.stagnation(current.residual, tolerance)))
            }
            iteration += 1
            if repair.isDue(stalled: progress.stalled, firstUnconverged: current.firstUnconverged) {
                let segments = repair.segments(from: current.firstUnconverged)
                repair.record(sweep: sweepSegments(segments), front: segments[0].count)
                current = finite(measure(schedule.sigma2), sigma2: schedule.sigma2)
                schedule.restart(from: current.merit)
                report(iteration, current.residual)
                continue
            }
            repair.record(sweep: nil)
            let sigma2 = filtersAhead ? schedule.next : schedule.sigma2
            let trial = finite(step(sigma2), sigma2: sigma2)
            if schedule.decide(trial: trial.merit, current: current.merit) {
                current = trial
            } else {
                copyStates(from: saved)
                current = finite(measure(schedule.sigma2), sigma2: schedule.sigma2)
            }
            report(iteration, current.residual)
        }
    }
}
