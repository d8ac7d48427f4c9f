import Foundation
import ParaRNN

/// The cells the harness can build: any cell in ParaRNN's ``CellCatalogue`` (grids name them
/// by their model-file names; Comparable in catalogue order).
public typealias HarnessCell = CellKind

/// The initial Newton iterate.
public enum HarnessGuess: String, Codable, Sendable, CaseIterable {
    /// ParaRNN's guess s_t^{(0)} = f(0, u_t) (no `guess:` argument; `newtonGuess = .zeroState`):
    /// a case's iterations do not depend on the thread count.
    case `default`
    /// All-zero states, passed as `guess:`.
    case zeros
    /// The product's default start (no `guess:` argument; `newtonGuess = .chunkRollouts`):
    /// exact rollouts of the chunks after their burn-ins, the chunks planned for the run's
    /// `--threads` (``SegmentChunks``: with one worker, one chunk, and the guess is f(0, u_t)).
    /// ELK in the solver's chain restarts from them too. A case's iterations depend on the
    /// run's threads, not on the thread it was solved on.
    case chunks
}

/// The floating-point precision of a case.
public enum HarnessPrecision: String, Codable, Sendable, CaseIterable {
    case float, double
}

/// Why a grid could not be loaded or run.
public struct HarnessError: Error, CustomStringConvertible, Equatable, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A convergence grid: the cartesian product of its axes is the list of cases.
///
/// JSON format (keys marked * are required; the others take the defaults shown):
///
///     {
///       "name": "quick",                      // label for reports (default "custom")
///       "cells": ["paragru", "paralstm", "gru", "lstm", "elman"],          *
///       "methods": ["newton", "quasi-newton", "damped"],                    *
///       "steps": [100, 2000],                 // sequence lengths T          *
///       "hiddenSizes": [4],                   // d                           *
///       "batchSizes": [2],                    // B                           *
///       "weightScales": [0.5, 3],             // recurrent gain (see WeightFactory) *
///       "guesses": ["default"],               // "default" = f(0,u_t), "zeros", "chunks"
///                                             // (the product's chunk rollouts, see HarnessGuess)
///       "precisions": ["double"],             // "float", "double"
///       "seeds": [1],                         // SplitMix64 seeds
///       "inputSize": 4,                       // m
///       "floatTolerance": null,               // null: the solver's default (1e-5)
///       "doubleTolerance": null,              // null: the solver's default (1e-10)
///       "maxIterations": null,                // null: the solver's default min(T + 1, 100)
///       "continueAfterStagnation": false      // see below
///     }
///
/// `continueAfterStagnation`: the solver ends an attempt as "stagnated" when the residual has not
/// halved *in one iteration relative to the best so far* for 25 iterations, which also stops
/// attempts that converge linearly at a rate slower than 1/2 per iteration (quasi-Newton,
/// damped). With this flag the harness restarts such an attempt from its last iterate (via
/// `guess:`) while the residual fell at least 2× over its last 25 iterations, within the same
/// total iteration budget; the restarts are counted in ``CaseResult/restarts``.
///
/// Methods are `newton`, `quasi-newton` and `damped` (the parallel strategies; `sequential` is
/// always run as the reference and `automatic` is reported per case, so neither is allowed here).
public struct GridConfig: Codable, Equatable, Sendable {
    public var name: String
    public var cells: [HarnessCell]
    public var methods: [SolverMethod]
    public var steps: [Int]
    public var hiddenSizes: [Int]
    public var batchSizes: [Int]
    public var weightScales: [Double]
    public var guesses: [HarnessGuess]
    public var precisions: [HarnessPrecision]
    public var seeds: [UInt64]
    public var inputSize: Int
    public var floatTolerance: Double?
    public var doubleTolerance: Double?
    public var maxIterations: Int?
    public var continueAfterStagnation: Bool

    public init(
        name: String = "custom", cells: [HarnessCell], methods: [SolverMethod], steps: [Int],
        hiddenSizes: [Int], batchSizes: [Int], weightScales: [Double],
        guesses: [HarnessGuess] = [.default], precisions: [HarnessPrecision] = [.double],
        seeds: [UInt64] = [1], inputSize: Int = 4, floatTolerance: Double? = nil,
        doubleTolerance: Double? = nil, maxIterations: Int? = nil,
        continueAfterStagnation: Bool = false
    ) {
        self.name = name
        self.cells = cells
        self.methods = methods
        self.steps = steps
        self.hiddenSizes = hiddenSizes
        self.batchSizes = batchSizes
        self.weightScales = weightScales
        self.guesses = guesses
        self.precisions = precisions
        self.seeds = seeds
        self.inputSize = inputSize
        self.floatTolerance = floatTolerance
        self.doubleTolerance = doubleTolerance
        self.maxIterations = maxIterations
        self.continueAfterStagnation = continueAfterStagnation
    }

    enum CodingKeys: String, CodingKey {
        case name, cells, methods, steps, hiddenSizes, batchSizes, weightScales, guesses
        case precisions, seeds, inputSize, floatTolerance, doubleTolerance, maxIterations
        case continueAfterStagnation
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? "custom"
        cells = try c.decode([HarnessCell].self, forKey: .cells)
        methods = try c.decode([SolverMethod].self, forKey: .methods)
        steps = try c.decode([Int].self, forKey: .steps)
        hiddenSizes = try c.decode([Int].self, forKey: .hiddenSizes)
        batchSizes = try c.decode([Int].self, forKey: .batchSizes)
        weightScales = try c.decode([Double].self, forKey: .weightScales)
        guesses = try c.decodeIfPresent([HarnessGuess].self, forKey: .guesses) ?? [.default]
        precisions = try c.decodeIfPresent([HarnessPrecision].self, forKey: .precisions) ?? [.double]
        seeds = try c.decodeIfPresent([UInt64].self, forKey: .seeds) ?? [1]
        inputSize = try c.decodeIfPresent(Int.self, forKey: .inputSize) ?? 4
        floatTolerance = try c.decodeIfPresent(Double.self, forKey: .floatTolerance)
        doubleTolerance = try c.decodeIfPresent(Double.self, forKey: .doubleTolerance)
        maxIterations = try c.decodeIfPresent(Int.self, forKey: .maxIterations)
        continueAfterStagnation =
            try c.decodeIfPresent(Bool.self, forKey: .continueAfterStagnation) ?? false
    }

    /// Throws a readable error if an axis is empty or holds a value the harness cannot run.
    public func validate() throws(HarnessError) {
        func nonEmpty(_ count: Int, _ key: String) throws(HarnessError) {
            if count == 0 { throw HarnessError("grid '\(name)': '\(key)' must list at least one value") }
        }
        try nonEmpty(cells.count, "cells")
        try nonEmpty(methods.count, "methods")
        try nonEmpty(steps.count, "steps")
        try nonEmpty(hiddenSizes.count, "hiddenSizes")
        try nonEmpty(batchSizes.count, "batchSizes")
        try nonEmpty(weightScales.count, "weightScales")
        try nonEmpty(guesses.count, "guesses")
        try nonEmpty(precisions.count, "precisions")
        try nonEmpty(seeds.count, "seeds")
        for method in methods where ![.newton, .quasiNewton, .damped, .elk].contains(method) {
            throw HarnessError(
                "grid '\(name)': method '\(method)' is not a parallel strategy; use newton, quasi-newton, damped or elk"
            )
        }
        if let bad = steps.first(where: { $0 <= 0 }) {
            throw HarnessError("grid '\(name)': steps must be positive (got \(bad))")
        }
        if let bad = hiddenSizes.first(where: { $0 <= 0 }) {
            throw HarnessError("grid '\(name)': hiddenSizes must be positive (got \(bad))")
        }
        if let bad = batchSizes.first(where: { $0 <= 0 }) {
            throw HarnessError("grid '\(name)': batchSizes must be positive (got \(bad))")
        }
        if let bad = weightScales.first(where: { !$0.isFinite || $0 < 0 }) {
            throw HarnessError("grid '\(name)': weightScales must be finite and non-negative (got \(bad))")
        }
        if inputSize <= 0 { throw HarnessError("grid '\(name)': inputSize must be positive (got \(inputSize))") }
        for (key, value) in [("floatTolerance", floatTolerance), ("doubleTolerance", doubleTolerance)] {
            if let value, !(value > 0 && value.isFinite) {
                throw HarnessError("grid '\(name)': \(key) must be a positive number (got \(value))")
            }
        }
        if let maxIterations, maxIterations < 1 {
            throw HarnessError("grid '\(name)': maxIterations must be at least 1 (got \(maxIterations))")
        }
        try validateSizes()
    }

    /// Refuses, before anything is allocated, a grid whose largest case cannot fit: every case
    /// holds at least its inputs and two state sequences, T·B·(m + 2·S) values (S = d, or 2d
    /// for LSTM-style cells; a lower bound — Newton adds its Jacobians). The products are
    /// overflow-checked (T or d = Int.max) and compared with this machine's memory.
    public func validateSizes(physicalMemory: UInt64 = ProcessInfo.processInfo.physicalMemory) throws(HarnessError) {
        guard let t = steps.max(), let d = hiddenSizes.max(), let b = batchSizes.max() else { return }
        let lstm = cells.contains(.lstm) || cells.contains(.paralstm)
        let bytes = precisions.contains(.double) ? 8 : 4
        func product(_ factors: [Int]) -> Int? {
            var p = 1
            for f in factors {
                let (r, overflow) = p.multipliedReportingOverflow(by: f)
                if overflow { return nil }
                p = r
            }
            return p
        }
        let stateSize = product([lstm ? 2 : 1, d])
        let perStep = stateSize.flatMap { s in product([2, s]) }.flatMap { s in
            let (r, overflow) = s.addingReportingOverflow(inputSize)
            return overflow ? nil : r
        }
        let what = "T = \(t), d = \(d), B = \(b), m = \(inputSize)"
        guard let perStep, let total = product([t, b, perStep, bytes]) else {
            throw HarnessError("grid '\(name)': the largest case (\(what)) is too large: its sizes overflow")
        }
        if UInt64(total) > physicalMemory {
            let gb = { (x: Double) in String(format: "%.1f GB", x / 1e9) }
            throw HarnessError(
                "grid '\(name)': the largest case (\(what)) needs at least \(gb(Double(total))), more than this machine's \(gb(Double(physicalMemory)))"
            )
        }
    }

    /// The tolerance a case of this precision is solved to.
    public func tolerance(for precision: HarnessPrecision) -> Double {
        switch precision {
        case .float: return floatTolerance ?? 1e-5
        case .double: return doubleTolerance ?? 1e-10
        }
    }

    /// Every case of the grid, in a fixed order (cell, method, T, d, B, scale, guess, precision,
    /// seed — the last varies fastest).
    public var cases: [CaseKey] {
        var keys: [CaseKey] = []
        for cell in cells {
            for method in methods {
                for t in steps {
                    for d in hiddenSizes {
                        for b in batchSizes {
                            for scale in weightScales {
                                for guess in guesses {
                                    for precision in precisions {
                                        for seed in seeds {
                                            keys.append(
                                                CaseKey(
                                                    cell: cell, method: method, steps: t, hiddenSize: d,
                                                    batch: b, scale: scale, guess: guess,
                                                    precision: precision, seed: seed))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return keys
    }
}

/// Identifies a case; the baseline check matches cases by this key.
public struct CaseKey: Codable, Hashable, Sendable, CustomStringConvertible {
    public var cell: HarnessCell
    public var method: SolverMethod
    public var steps: Int
    public var hiddenSize: Int
    public var batch: Int
    public var scale: Double
    public var guess: HarnessGuess
    public var precision: HarnessPrecision
    public var seed: UInt64

    public init(
        cell: HarnessCell, method: SolverMethod, steps: Int, hiddenSize: Int, batch: Int,
        scale: Double, guess: HarnessGuess, precision: HarnessPrecision, seed: UInt64
    ) {
        self.cell = cell
        self.method = method
        self.steps = steps
        self.hiddenSize = hiddenSize
        self.batch = batch
        self.scale = scale
        self.guess = guess
        self.precision = precision
        self.seed = seed
    }

    public var description: String {
        "\(cell)/\(method)/T=\(steps)/d=\(hiddenSize)/B=\(batch)/scale=\(formatScale(scale))/guess=\(guess)/\(precision)/seed=\(seed)"
    }
}

func formatScale(_ x: Double) -> String {
    x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x)
}
