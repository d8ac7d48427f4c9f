import Foundation
import ModelIO
import ParaRNN
import ParallelScan
import SequenceIO
import Testing

/// Issue 20: huge layer indices in tensor names are refused with a clear error (they used to
/// overflow the layer count and trap).
@Suite struct LayerIndexTests {
    func decode(_ tensors: [String: Tensor], cell: CellKind) throws(ModelError) -> Model {
        try ModelFile.decode(
            SafeTensors.File(tensors: tensors, metadata: ["cell": cell.rawValue]), name: "big.safetensors")
    }

    /// A one-layer stack of `kind` whose layer is renamed to index `layer`.
    func renamed(_ kind: CellKind, layer: String) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, t) in randomParameters(kind, m: 2, d: 2, seed: 3) {
            let key = kind.isDiagonal ? "layers.\(layer).\(name)" : "\(name)_l\(layer)"
            out[key] = tensor(t)
        }
        return out
    }

    @Test(arguments: [CellKind.paragru, .gru])
    func hugeLayerIndexIsRefused(kind: CellKind) throws {
        for index in ["9223372036854775807", "9223372036854775806", "1024", "4611686018427387904"] {
            #expect {
                _ = try decode(renamed(kind, layer: index), cell: kind)
            } throws: { error in
                let text = (error as? ModelError)?.description ?? ""
                return text.hasPrefix("big.safetensors: tensor '") && text.contains("names layer \(index)")
                    && text.contains("at most \(ModelFile.maximumLayerCount)") && !text.contains("\n")
            }
        }
        // Beyond Int: not a layer index at all.
        #expect(throws: ModelError.self) { _ = try decode(renamed(kind, layer: "9223372036854775808"), cell: kind) }
        // The largest index allowed is a gap of missing layers: a missing tensor, not a crash.
        #expect {
            _ = try decode(renamed(kind, layer: "1023"), cell: kind)
        } throws: { error in
            guard case .missingTensor = error as? ModelError else { return false }
            return true
        }
        // Layer 0 loads.
        #expect(try decode(renamed(kind, layer: "0"), cell: kind).layers.count == 1)
    }
}

/// A seeded SplitMix64 generator for the fuzz cases.
struct FuzzRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Cases per fuzz target: `PARARNN_FUZZ_CASES` if set (e.g. 100000 for a long campaign),
/// else `defaultCount`.
func fuzzCases(default defaultCount: Int) -> Int {
    if let text = ProcessInfo.processInfo.environment["PARARNN_FUZZ_CASES"], let n = Int(text), n > 0 { return n }
    return defaultCount
}

/// Mutates valid model files (seeded, deterministic) at the byte level and at the level of
/// tensors and metadata, then loads them. Properties:
/// - loading succeeds or throws a `ModelError` (one line naming the file) — never traps;
/// - a loaded model is self-consistent (layers chain, readout fits) and survives an
///   encode → decode round trip unchanged;
/// - solving a short sequence with it never reports `converged` with a non-finite state, and
///   `Solution.nonFiniteState` is set exactly when a state is not finite.
@Suite("Model loader fuzz")
struct ModelFuzzTests {
    static let cases = fuzzCases(default: 500)

    /// Valid starting points: every cell kind, one or two layers, float32/float64, with and
    /// without a readout.
    static let seeds: [SafeTensors.File] = {
        var files: [SafeTensors.File] = []
        for (i, kind) in CellKind.builtIn.enumerated() {
            let sizes = i % 2 == 0 ? [2, 3] : [2, 4, 4]
            var tensors = fileTensors(kind, sizes: sizes, heads: 1, seed: UInt64(i + 1), float64: i % 2 == 1)
            var metadata = ["cell": kind.rawValue, "layers": String(sizes.count - 1)]
            if i % 2 == 0 {
                tensors["readout.weight"] = Tensor(
                    shape: [2, sizes.last!], float32: (0..<(2 * sizes.last!)).map { Float($0) / 10 })
                tensors["readout.bias"] = Tensor(shape: [2], float32: [0.1, -0.1])
                metadata["input_mean"] = "0.5,-0.5"
                metadata["input_std"] = "2,3"
                metadata["readout_skip"] = "true"
            }
            files.append(SafeTensors.File(tensors: tensors, metadata: metadata))
        }
        return files
    }()

    static func byteMutation(_ original: Data, _ rng: inout FuzzRNG) -> Data {
        var bytes = [UInt8](original)
        for _ in 0..<Int.random(in: 1...2, using: &rng) where !bytes.isEmpty {
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng)))
            case 1:
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                bytes[i] = [0x00, 0xFF, UInt8.random(in: 0...255, using: &rng)][Int.random(in: 0..<3, using: &rng)]
            case 2:
                let i = Int.random(in: 0..<min(bytes.count, 512), using: &rng)
                bytes[i] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            case 3:
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                if Bool.random(using: &rng) {
                    bytes.insert(UInt8.random(in: 0...255, using: &rng), at: i)
                } else {
                    bytes.remove(at: i)
                }
            default:
                // A digit of the JSON header (shapes, offsets, layer indices, metadata numbers).
                let header = bytes.prefix(min(bytes.count, 8 + 4096))
                let digits = header.indices.filter { (0x30...0x39).contains(bytes[$0]) }
                if let i = digits.randomElement(using: &rng) { bytes[i] = UInt8.random(in: 0x30...0x39, using: &rng) }
            }
        }
        return Data(bytes)
    }

    static let layerIndices = [
        "0", "1", "2", "3", "7", "1023", "1024", "65536", "-1", "01", "+1", "2147483648",
        "9223372036854775807", "9223372036854775808", "99999999999999999999",
    ]
    static let extremes: [Double] = [3e38, -3e38, 1e30, 1e300, -1e300, 1e-45, 0, .nan, .infinity, -.infinity, 88, -709]
    static let metadataValues = [
        "", "0", "1", "2", "3", "-1", "9223372036854775807", "nan", "inf", "1e300",
        "1,2", "0,0", "1e300,1e300", "inf,1", "nan,nan", "-1,1", "true", "gru", "paragru", "tanh", "relu",
    ]

    static func structuralMutation(_ original: SafeTensors.File, _ rng: inout FuzzRNG) -> SafeTensors.File {
        var file = original
        for _ in 0..<Int.random(in: 1...2, using: &rng) {
            let keys = file.tensors.keys.sorted()
            guard let key = keys.randomElement(using: &rng) else { break }
            // Half the mutations change values only: the file stays loadable and the solver
            // property is exercised with extreme weights.
            switch Bool.random(using: &rng) ? Int.random(in: 4...5, using: &rng) : Int.random(in: 0..<8, using: &rng) {
            case 0:  // rename: another layer index
                let index = layerIndices.randomElement(using: &rng)!
                var name = key
                if let r = key.range(of: #"(?<=^layers\.)[^.]+"#, options: .regularExpression) {
                    name.replaceSubrange(r, with: index)
                } else if let r = key.range(of: #"(?<=_l)[0-9]+$"#, options: .regularExpression) {
                    name.replaceSubrange(r, with: index)
                } else {
                    name = "layers.\(index).\(key)"
                }
                file.tensors[name] = file.tensors.removeValue(forKey: key)
            case 1:  // remove a tensor
                file.tensors[key] = nil
            case 2:  // duplicate a tensor under another name
                let other = keys.randomElement(using: &rng)!
                file.tensors[other] = file.tensors[key]
            case 3:  // a random shape (consistent tensor, rank 0…4)
                let rank = Int.random(in: 0...4, using: &rng)
                let shape = (0..<rank).map { _ in Int.random(in: 0...5, using: &rng) }
                let n = shape.reduce(1, *)
                file.tensors[key] = Tensor(
                    shape: shape, float64: (0..<n).map { _ in Double.random(in: -1...1, using: &rng) })
            case 4:  // extreme values (finite or not) in one place or everywhere
                var values = file.tensors[key]!.asDouble()
                guard !values.isEmpty else { break }
                let v = extremes.randomElement(using: &rng)!
                if Bool.random(using: &rng) {
                    values[Int.random(in: 0..<values.count, using: &rng)] = v
                } else {
                    values = values.enumerated().map { i, _ in i % 2 == 0 ? v : -v }
                }
                let shape = file.tensors[key]!.shape
                file.tensors[key] =
                    Bool.random(using: &rng)
                    ? Tensor(shape: shape, float64: values) : Tensor(shape: shape, float32: values.map { Float($0) })
            case 5:  // scale a whole tensor
                let t = file.tensors[key]!
                let s = [1e3, 1e10, 1e38, 1e200, -1, 0].randomElement(using: &rng)!
                file.tensors[key] = Tensor(shape: t.shape, float64: t.asDouble().map { $0 * s })
            default:  // metadata
                let field = [
                    "cell", "layers", "heads", "input_size", "hidden_size", "input_mean", "input_std",
                    "readout_skip", "nonlinearity",
                ].randomElement(using: &rng)!
                file.metadata[field] =
                    Bool.random(using: &rng) && field != "cell" ? nil : metadataValues.randomElement(using: &rng)!
            }
        }
        return file
    }

    /// What one case did.
    struct Outcome {
        var loaded = 0, solved = 0, nonFinite = 0
        mutating func add(_ other: Outcome) {
            loaded += other.loaded
            solved += other.solved
            nonFinite += other.nonFinite
        }
    }

    /// Loads `data` and checks the properties.
    static func check(_ data: Data, rng: inout FuzzRNG) -> Outcome {
        var outcome = Outcome()
        let model: Model
        do {
            model = try ModelFile.decode(
                try SafeTensors.decode(data, name: "fuzz.safetensors"), name: "fuzz.safetensors")
        } catch let error as ModelError {
            #expect(error.description.hasPrefix("fuzz.safetensors: "), "\(error.description)")
            #expect(!error.description.contains("\n"))
            return outcome
        } catch let error as SequenceIOError {
            #expect(error.description.hasPrefix("fuzz.safetensors: "), "\(error.description)")
            return outcome
        } catch {
            Issue.record("unexpected error type: \(error)")
            return outcome
        }
        outcome.loaded = 1
        // Self-consistency.
        #expect(!model.layers.isEmpty && model.layers.count <= ModelFile.maximumLayerCount)
        for l in model.layers.indices.dropFirst() {
            #expect(model.layers[l].inputSize == model.layers[l - 1].hiddenSize)
        }
        if let readout = model.readout {
            #expect(readout.weight.shape == [readout.outputs, model.hiddenSize])
            #expect(
                readout.inputMean.count == model.inputSize
                    && readout.inputStandardDeviation.allSatisfy { $0 > 0 && $0.isFinite })
        }
        // Round trip.
        if let again = try? ModelFile.decode(ModelFile.encode(model), name: "fuzz.safetensors") {
            #expect(again.layers == model.layers && again.kind == model.kind && again.readout == model.readout)
        } else {
            Issue.record("a loaded model does not survive encode → decode")
        }
        // Solving never reports success with a non-finite state.
        let steps = 6
        let batch = 2
        let method: SolverMethod = Bool.random(using: &rng) ? .sequential : .newton
        let options = SolverOptions(method: method, maxIterations: 8, pool: .serial)
        // Mostly ordinary inputs; some large enough to overflow the projections.
        let scale = [2.0, 2.0, 1e20, 1e30].randomElement(using: &rng)!
        let x = (0..<(steps * batch * model.inputSize)).map { _ in scale * Double.random(in: -1...1, using: &rng) }
        if model.layers.reduce(0, { $0 + $1.hiddenSize }) <= 64 {
            outcome.add(checkSolve(model, Float.self, x.map { Float($0) }, steps, batch, options))
            outcome.add(checkSolve(model, Double.self, x, steps, batch, options))
        }
        return outcome
    }

    static func checkSolve<S: CellMath>(
        _ model: Model, _: S.Type, _ x: [S], _ steps: Int, _ batch: Int, _ options: SolverOptions
    ) -> Outcome {
        var outcome = Outcome()
        guard let cells = try? model.cells(as: S.self) else { return outcome }  // e.g. 1e300 is not a Float
        do {
            let result = try solveStack(cells, inputs: x, steps: steps, batch: batch, options: options)
            outcome.solved = 1
            for solution in result.layers {
                let finite = solution.states.allSatisfy { $0.isFinite }
                #expect(finite == (solution.nonFiniteState == nil))
                if solution.converged { #expect(finite) }
                if !finite { outcome.nonFinite = 1 }
            }
            if result.converged { #expect(result.hidden.allSatisfy { $0.isFinite }) }
        } catch {
            // Only a non-finite hidden output of one layer fed to the next can be refused.
            #expect(error.description.contains("NaN or Inf"), "\(error)")
            outcome.nonFinite = 1
        }
        return outcome
    }

    @Test("byte-level mutations of valid model files")
    func bytes() {
        var rng = FuzzRNG(seed: 2020)
        var total = Outcome()
        for i in 0..<Self.cases {
            let seed = Self.seeds[i % Self.seeds.count]
            total.add(Self.check(Self.byteMutation(SafeTensors.encode(seed), &rng), rng: &rng))
        }
        print(
            "model fuzz (bytes): \(Self.cases) cases, \(total.loaded) loaded, \(total.solved) solves, \(total.nonFinite) non-finite"
        )
        #expect(total.loaded > 0 && total.loaded < Self.cases)
    }

    @Test("tensor- and metadata-level mutations: names, layer indices, shapes, extreme values")
    func structure() {
        var rng = FuzzRNG(seed: 2021)
        var total = Outcome()
        for i in 0..<Self.cases {
            let file = Self.structuralMutation(Self.seeds[i % Self.seeds.count], &rng)
            total.add(Self.check(SafeTensors.encode(file), rng: &rng))
        }
        print(
            "model fuzz (structure): \(Self.cases) cases, \(total.loaded) loaded, \(total.solved) solves, \(total.nonFinite) non-finite"
        )
        #expect(total.loaded > 0 && total.loaded < Self.cases)
        // The extreme weights must reach the finite-state guard, or this fuzz proves little.
        #expect(total.nonFinite > 0)
    }
}
