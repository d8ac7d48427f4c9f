import Testing

@testable import ParaRNN

/// ELK's trust-region schedule and stagnation rule, step by step.
@Suite struct ELKScheduleTests {
    /// Whether `schedule` takes the step from merit `current` to `trial` (outside `#expect`,
    /// which cannot call mutating members).
    func take(_ schedule: inout ELKSchedule, _ trial: Double, from current: Double) -> Bool {
        schedule.decide(trial: trial, current: current)
    }

    @Test("steps that lower the merit grow σ² ×10 up to the maximum")
    func decreasingMeritGrows() {
        var schedule = ELKSchedule()
        var merit = 100.0
        var expected = ELK.initialVariance
        for _ in 0..<15 {
            #expect(schedule.next == min(expected * 10, ELK.maximumVariance))
            let taken = take(&schedule, merit / 2, from: merit)
            #expect(taken)
            merit /= 2
            expected = min(expected * 10, ELK.maximumVariance)
            #expect(schedule.sigma2 == expected)
        }
        #expect(schedule.rejected == 0)
    }

    @Test("after a refusal σ² stays below the refused level until the merit reaches a new low")
    func refusalSetsACeiling() {
        var schedule = ELKSchedule()
        var outcomes: [Bool] = []
        outcomes.append(take(&schedule, 5, from: 10))  // taken, new low: σ² 1e3
        #expect(schedule.sigma2 == 1e3)
        outcomes.append(take(&schedule, 500, from: 5))  // > 10 × best: refused at 1e3
        #expect(schedule.sigma2 == 1e2 && schedule.rejected == 1)
        // Taken steps that do not reach a new low keep σ² at 1e2 (the free schedule went back to
        // 1e3, to be refused again).
        for trial in [20.0, 30, 8] {
            #expect(schedule.next == 1e2)
            outcomes.append(take(&schedule, trial, from: 10))
            #expect(schedule.sigma2 == 1e2)
        }
        // A new lowest merit lifts the ceiling one decade: the step after it grows again.
        outcomes.append(take(&schedule, 4, from: 8))
        #expect(schedule.sigma2 == 1e2)
        #expect(schedule.next == 1e3)
        outcomes.append(take(&schedule, 3, from: 4))
        #expect(schedule.sigma2 == 1e3)
        #expect(outcomes == [true, false, true, true, true, true, true])
        // NaN is refused; σ² never falls below its minimum.
        var refusedNaN = 0
        for _ in 0..<20 where !take(&schedule, .nan, from: 3) { refusedNaN += 1 }
        #expect(refusedNaN == 20)
        #expect(schedule.sigma2 == ELK.minimumVariance)
    }

    @Test("the dense filter's schedule moves freely: ×10 after every taken step, ÷10 after a refusal")
    func denseScheduleHasNoCeiling() {
        var schedule = ELKSchedule(capsAfterRefusal: false)
        let outcomes = [take(&schedule, 5, from: 10), take(&schedule, 500, from: 5)]
        #expect(outcomes == [true, false])
        #expect(schedule.sigma2 == 1e2)
        #expect(schedule.next == 1e3)
        let taken = take(&schedule, 20, from: 10)
        #expect(taken && schedule.sigma2 == 1e3)
    }

    @Test("stagnation: a falling unconverged count is progress; nothing moving stops after 50")
    func progressCountsUnconvergedValues() {
        // Residual stuck at 2 while the unconverged count halves every 20 iterations: never stops.
        var crawling = ELKProgress()
        var stops = 0
        for i in 0..<200 where crawling.stagnates(residual: 2, unconverged: 10_000 >> (i / 20)) { stops += 1 }
        #expect(stops == 0)
        // Neither moves: stops at the 50th iteration after the first.
        var stuck = ELKProgress()
        var stopped: Int? = nil
        for i in 0...100 where stopped == nil {
            if stuck.stagnates(residual: 2, unconverged: 5000) { stopped = i }
        }
        #expect(stopped == ELKProgress.patience)
    }

    @Test("merit and unconverged count: Σ r² with r relative to max(1, |F|), r > tolerance counted")
    func meritCounts() {
        let states: [Double] = [1, 0, 5, 0.5]
        let values: [Double] = [1, 0.1, 2, 0.5 + 1e-12]
        let (merit, above, first) = relativeMerit(states: states, values: values, count: 4, tolerance: 1e-10)
        // r = 0, −0.1, 3/2, −1e-12.
        #expect(abs(merit - (0.01 + 2.25 + 1e-24)) < 1e-15)
        #expect(above == 2)
        #expect(first == 1)
        let converged = relativeMerit(states: [1.0, 2], values: [1.0, 2], count: 2, tolerance: 1e-10)
        #expect(converged.first == 2)
        let nan = relativeMerit(states: [1.0, .nan], values: [1.0, 2], count: 2, tolerance: 1e-10)
        #expect(nan.first == 1)
        // The first index is the first above the sweep threshold (tolerance / 100), once any value
        // is above the tolerance: r = 1e-11, 1e-9.
        let strict = relativeMerit(states: [1 + 1e-11, 1 + 1e-9], values: [1.0, 1], count: 2, tolerance: 1e-10)
        #expect(strict.unconverged == 1 && strict.first == 0)
        #expect(sweepThreshold(tolerance: 1e-10, scalar: Double.self) == 1e-12)
        #expect(sweepThreshold(tolerance: 1e-5, scalar: Float.self) == 16 * Double(Float.ulpOfOne))
        // The first unconverged step of a block of rows of 2 values starting at step 10.
        #expect(ELKMeasure.step(first: 3, count: 4, start: 10, row: 2) == 11)
        #expect(ELKMeasure.step(first: 4, count: 4, start: 10, row: 2) == .max)
    }

    @Test("segment sweep: L = max(16, T/64) from the first unconverged step, only when stalled, never twice in a row")
    func segmentSweep() {
        var repair = ELKRepair(steps: 10_000)
        #expect(repair.length == 156)
        #expect(!repair.isDue(stalled: ELKRepair.stalledIterations - 1, firstUnconverged: 10))
        #expect(repair.isDue(stalled: ELKRepair.stalledIterations, firstUnconverged: 10))
        #expect(!repair.isDue(stalled: ELKRepair.stalledIterations, firstUnconverged: .max))
        let segments = repair.segments(from: 9_700)
        #expect(segments == [9_700..<9_856, 9_856..<10_000])
        repair.record(sweep: 300, front: 156)
        #expect(!repair.isDue(stalled: 10, firstUnconverged: 9_800))
        #expect(
            repair.note.contains(
                "1 segment sweep: 300 steps rolled out in segments of 156; fronts 156 steps = 1 % of T, the longest 156"
            ),
            "\(repair.note)")
        repair.record(sweep: nil)
        #expect(repair.isDue(stalled: 10, firstUnconverged: 9_800))
        // The front doubles after each sweep, up to T / 4.
        #expect(repair.segments(from: 0).first == 0..<312)
        for _ in 0..<5 { repair.record(sweep: 1) }
        #expect(repair.front == 2_500)
        #expect(repair.segments(from: 100)[0] == 100..<2_600)
        #expect(repair.segments(from: 100)[1] == 2_600..<2_756)
        // The fronts settle at most T / 2 in all: the last front is cut to what is left, then no
        // more sweeps.
        repair.record(sweep: 1, front: 4_000)
        #expect(repair.frontBudget == 5_000 - 4_156)
        #expect(repair.segments(from: 100)[0] == 100..<944)
        repair.record(sweep: nil)
        #expect(repair.isDue(stalled: 10, firstUnconverged: 100))
        repair.record(sweep: 1, front: 844)
        repair.record(sweep: nil)
        #expect(!repair.isDue(stalled: 10, firstUnconverged: 100))
        #expect(ELKRepair(steps: 100).length == 16)
        #expect(ELKRepair(steps: 100).note.isEmpty)
    }
}
