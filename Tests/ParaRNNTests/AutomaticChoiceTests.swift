import ParaRNN
import Testing

/// `.automatic`'s contractivity rule (``SequenceSolver/refineChoice(_:_:by:)``) pinned for given
/// estimates and cell structures: on the harness grid (`Harness/presets/full-subset.json`) it
/// never picks a parallel method that then falls back to the sequential rollout.
@Suite("Automatic choice from the contractivity")
struct AutomaticChoiceTests {
    /// The rule for `guess`: ParaRNN's f(0, u) by default, as on the harness grid the pins come from.
    func pick<C: RecurrentCell>(
        _ cell: C, _ lyapunov: Double, _ maxNorm: Double, from method: SolverMethod = .newton,
        guess: NewtonGuess = .zeroState
    ) -> (SolverMethod, String) {
        var options = SolverOptions()
        options.newtonGuess = guess
        return SequenceSolver(cell: cell, options: options).refineChoice(
            method, "B = 1: predicted Newton speedup 3× → parallel Newton",
            by: Contractivity(window: 512, lyapunov: lyapunov, maxNorm: maxNorm))
    }

    @Test("diagonal and 2×2-block Jacobians: contracting → Newton, expanding in places → ELK, λ ≥ 0 → sequential")
    func diagonalAndBlocks() throws {
        let paragru = try RandomCells.paraGRU(Double.self, m: 2, d: 4, scale: 1, seed: 1)
        let paralstm = try RandomCells.paraLSTM(Float.self, m: 2, d: 4, scale: 1, seed: 1)
        for (lyapunov, maxNorm, want) in [
            (-0.2, 0.9, SolverMethod.newton), (-0.2, 1.0, .newton), (-0.05, 1.5, .elk), (-0.1, 2.3, .elk),
            (-0.1, 20, .elk), (0, 0.9, .sequential), (0.05, 1.5, .sequential),
            // Contracting too weakly (λ > −0.05) → sequential: the four contractivity picks of the
            // 16-core `full-diagonal-short` shard 1/2 that fell back (ParaGRU T = 10³, d = 32,
            // B = 4, s = 3, seed 1: λ = −0.028, ‖J‖ = 1.95; ELK hit its 100-iteration limit), and
            // the other weak cases of the grids (ParaGRU d = 32 λ = −0.044: 79–90 ELK iterations;
            // ParaLSTM λ = −0.031, −0.036).
            (-0.028, 1.953, .sequential), (-0.044, 1.68, .sequential), (-0.031, 2.02, .sequential),
            (-0.049, 0.9, .sequential), (-0.051, 1.4, .elk), (-0.06, 0.95, .newton),
        ] {
            #expect(pick(paragru, lyapunov, maxNorm).0 == want, "ParaGRU λ \(lyapunov) ‖J‖ \(maxNorm)")
            #expect(pick(paralstm, lyapunov, maxNorm).0 == want, "ParaLSTM λ \(lyapunov) ‖J‖ \(maxNorm)")
        }
        let (_, reason) = pick(paragru, -0.08, 1.5)
        #expect(reason.contains("λ") && reason.contains("ELK") && reason.hasPrefix("B = 1"), "\(reason)")
        let (_, weak) = pick(paralstm, -0.03, 2)
        #expect(weak.contains("contracting too weakly"), "\(weak)")
    }

    @Test("dense Jacobians (full filter or quasi-ELK): Newton up to max‖J‖ 3.5, then sequential")
    func dense() throws {
        let small = try RandomCells.gru(Double.self, m: 2, d: 8, scale: 1, seed: 2)
        let lstm = try RandomCells.lstm(Float.self, m: 2, d: 8, scale: 1, seed: 2)
        let wide = try RandomCells.elman(Double.self, m: 2, d: 40, scale: 1, seed: 2)
        for (lyapunov, maxNorm, want) in [
            (-0.3, 0.9, SolverMethod.newton), (-0.2, 3.45, .newton), (-0.05, 3.64, .sequential),
            (-0.3, 7.2, .sequential), (0.01, 1.0, .sequential),
        ] {
            #expect(pick(small, lyapunov, maxNorm).0 == want, "GRU λ \(lyapunov) ‖J‖ \(maxNorm)")
            #expect(pick(lstm, lyapunov, maxNorm).0 == want, "LSTM λ \(lyapunov) ‖J‖ \(maxNorm)")
            #expect(pick(wide, lyapunov, maxNorm).0 == want, "Elman d 40 λ \(lyapunov) ‖J‖ \(maxNorm)")
        }
    }

    @Test(
        "dense Jacobians from chunk rollouts: Newton wherever λ ≤ −0.06, whatever max‖J‖ of a gated cell; sequential above"
    )
    func denseFromChunkRollouts() throws {
        let small = try RandomCells.gru(Double.self, m: 2, d: 8, scale: 1, seed: 2)
        let lstm = try RandomCells.lstm(Float.self, m: 2, d: 8, scale: 1, seed: 2)
        // (−0.389, 5.29): Benchmarks/peers/rollout.py's GRU d = 64, certified at its seams on 16
        // threads in 21–24 ms against the rollout's 66–96 ms (Benchmarks/results/device-16core-stop21.md).
        for (lyapunov, maxNorm, want) in [
            (-0.389, 5.29, SolverMethod.newton), (-0.3, 7.2, .newton), (-0.06, 3.64, .newton),
            (-0.04, 1.0, .sequential), (0.01, 1.0, .sequential),
            // λ > −0.06 → sequential: GRU d = 8, s = 3, seed 1 fell back at T = 10⁵ in Float
            // (`full-dense-d8-long-chunks`, 16-thread plan); LSTM d = 32, s = 2 at −0.062 converged.
            (-0.057, 6.18, .sequential), (-0.055, 3.64, .sequential), (-0.062, 10.6, .newton),
        ] {
            #expect(pick(small, lyapunov, maxNorm, guess: .chunkRollouts).0 == want, "GRU λ \(lyapunov) ‖J‖ \(maxNorm)")
            #expect(pick(lstm, lyapunov, maxNorm, guess: .chunkRollouts).0 == want, "LSTM λ \(lyapunov) ‖J‖ \(maxNorm)")
        }
        #expect(pick(small, -0.3, 7.2, guess: .chunkRollouts).1.contains("chunk rollouts meet at their seams"))
    }

    @Test("an ungated dense cell (Elman) from chunk rollouts: sequential above max‖J‖ 6")
    func ungatedDenseFromChunkRollouts() throws {
        let elman = try RandomCells.elman(Float.self, m: 2, d: 8, scale: 1, seed: 2)
        let gru = try RandomCells.gru(Float.self, m: 2, d: 8, scale: 1, seed: 2)
        // The six Elman picks of `full-dense-d8-chunks` (16-thread plan) that fell back: s = 3,
        // seed 1 (λ −0.26 to −0.33, ‖J‖ 8.93) and s = 2, T = 10⁴, Float (λ −0.059, ‖J‖ 5.96); the
        // converged ones just inside: d = 32, s = 1 (−0.22, 5.89), d = 8, s = 1.5 (−0.131, 4.47)
        // and s = 1 (−0.087, 2.96).
        for (lyapunov, maxNorm, want) in [
            (-0.325, 8.93, SolverMethod.sequential), (-0.262, 8.93, .sequential), (-0.059, 5.96, .sequential),
            (-0.22, 5.89, .newton), (-0.131, 4.47, .newton), (-0.087, 2.96, .newton),
        ] {
            #expect(
                pick(elman, lyapunov, maxNorm, guess: .chunkRollouts).0 == want, "Elman λ \(lyapunov) ‖J‖ \(maxNorm)")
        }
        // The gated cells keep Newton there (GRU converged up to ‖J‖ 8.0, LSTM up to 16.6).
        #expect(pick(gru, -0.11, 8.01, guess: .chunkRollouts).0 == .newton)
        #expect(pick(elman, -0.3, 8.93, guess: .chunkRollouts).1.contains("ungated dense cell"))
    }

    @Test("the cost model's sequential choice and NaN estimates are left alone")
    func unchanged() throws {
        let cell = try RandomCells.paraGRU(Double.self, m: 2, d: 4, scale: 1, seed: 3)
        #expect(pick(cell, -0.2, 1.5, from: .sequential).0 == .sequential)
        #expect(pick(cell, .nan, 1.5).0 == .newton)
        #expect(pick(cell, -0.2, .nan).0 == .newton)
    }
}
