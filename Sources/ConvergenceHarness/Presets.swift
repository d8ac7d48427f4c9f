import Foundation
import ParaRNN

/// The named grids. The same definitions are committed as `Harness/presets/<name>.json`.
public enum HarnessPreset {
    /// The five cells of the presets (ParaGRU, ParaLSTM, and PyTorch's GRU, LSTM, Elman).
    public static let cells: [HarnessCell] = [.paragru, .paralstm, .gru, .lstm, .elman]

    /// 60 cases (all five cells × newton, quasi-newton, damped × T ∈ {100, 2000} × scale
    /// ∈ {0.5, 3}, d = 4, B = 2, double, default guess, seed 1): seconds in release, well under a
    /// minute in a debug test run. The regression baseline `Harness/baselines/quick.json` is
    /// this grid.
    public static let quick = GridConfig(
        name: "quick", cells: cells, methods: [.newton, .quasiNewton, .damped],
        steps: [100, 2000], hiddenSizes: [4], batchSizes: [2], weightScales: [0.5, 3],
        guesses: [.default], precisions: [.double], seeds: [1], inputSize: 4)

    /// The whole study (documentation: 15 360 cases with ELK, days on a small machine): T up to 10^6,
    /// d ∈ {8, 32}, B ∈ {1, 4}, scales from contracting (0.25) to chaotic (3), both guesses and
    /// precisions, 2 seeds. Memory: dense cells keep T·B·(state)² Jacobian values, so LSTM with
    /// d = 32, B = 4, T = 10^6 needs ≈ 131 GB in double — run it on a large machine or trim it.
    public static let full = GridConfig(
        name: "full", cells: cells, methods: [.newton, .quasiNewton, .damped, .elk],
        steps: [1_000, 10_000, 100_000, 1_000_000], hiddenSizes: [8, 32], batchSizes: [1, 4],
        weightScales: [0.25, 0.5, 1, 1.5, 2, 3], guesses: [.default, .zeros],
        precisions: [.float, .double], seeds: [1, 2], inputSize: 4)

    /// The grid behind `Harness/README.md` (600 cases with ELK, a few minutes in release on 2 cores):
    /// T ∈ {10^3, 10^4, 10^5}, d = 8, B = 1, scales {0.5, 1, 1.5, 2, 3}, double, 2 seeds.
    public static let study = GridConfig(
        name: "study", cells: cells, methods: [.newton, .quasiNewton, .damped, .elk],
        steps: [1_000, 10_000, 100_000], hiddenSizes: [8], batchSizes: [1],
        weightScales: [0.5, 1, 1.5, 2, 3], guesses: [.default], precisions: [.double],
        seeds: [1, 2], inputSize: 4)

    public static let all: [String: GridConfig] = ["quick": quick, "full": full, "study": study]

    /// The preset called `name`, or an error that lists the known ones.
    public static func named(_ name: String) throws(HarnessError) -> GridConfig {
        guard let grid = all[name] else {
            throw HarnessError(
                "unknown preset '\(name)'; known presets: \(all.keys.sorted().joined(separator: ", "))")
        }
        return grid
    }
}

extension GridConfig {
    /// Reads and validates a grid from a JSON file (see ``GridConfig`` for the format).
    public static func load(path: String) throws(HarnessError) -> GridConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HarnessError("cannot read config file '\(path)'")
        }
        return try decode(data, source: path)
    }

    /// Decodes and validates a grid from JSON.
    public static func decode(_ data: Data, source: String = "config") throws(HarnessError)
        -> GridConfig
    {
        let grid: GridConfig
        do { grid = try JSONDecoder().decode(GridConfig.self, from: data) } catch {
            throw HarnessError("bad config '\(source)': \(describeDecodingError(error))")
        }
        try grid.validate()
        return grid
    }

    /// Pretty JSON with sorted keys (the preset files).
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }
}
