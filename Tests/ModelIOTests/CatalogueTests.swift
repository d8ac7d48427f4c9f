import Foundation
import ModelIO
import ParaRNN
import ParallelScan
import SequenceIO
import Testing
import Training

/// The catalogue's promise (CONTRIBUTING.md, "Adding a cell"): a cell written in one file and
/// registered with one line loads from a model file, solves, differentiates and fits like a
/// built-in one.
@Suite struct CatalogueTests {
    init() throws { try CellCatalogue.register(MinimalGRU<Double>.self) }

    /// h_t by the cell's equations, one step after another (the independent reference).
    func reference(_ c: MinimalGRU<Double>, _ x: [Double], steps: Int) -> [Double] {
        let (d, m) = (c.hiddenSize, c.inputSize)
        var h = [Double](repeating: 0, count: d)
        var out: [Double] = []
        for t in 0..<steps {
            var next = h
            for j in 0..<d {
                var uz = c.inputBias[j]
                var uc = c.inputBias[d + j]
                for i in 0..<m {
                    uz += c.inputWeights[j * m + i] * x[t * m + i]
                    uc += c.inputWeights[(d + j) * m + i] * x[t * m + i]
                }
                let z = 1 / (1 + Foundation.exp(-(c.gains[j] * h[j] + uz)))
                let cand = Foundation.tanh(c.gains[d + j] * h[j] + uc)
                next[j] = (1 - z) * h[j] + z * cand
            }
            h = next
            out += h
        }
        return out
    }

    func cell(seed: UInt64) throws -> MinimalGRU<Double> {
        var g = SplitMix64(seed: seed)
        return try MinimalGRU<Double>.initialized(inputSize: 3, hiddenSize: 4, using: &g)
    }

    func inputs(_ count: Int, seed: UInt64) -> [Double] {
        var g = SplitMix64(seed: seed)
        return (0..<count).map { _ in 2 * g.uniform() - 1 }
    }

    @Test func registeredCellIsKnownByName() throws {
        let kind = try #require(CellKind(rawValue: "MinGRU"))
        #expect(kind.gates == 2 && kind.isDiagonal && kind.parameterNames == ["A", "B", "b"])
        #expect(CellKind.allCases.contains(kind) && !CellKind.builtIn.contains(kind))
        // Registering it again is harmless; another schema under a registered name is not.
        try CellCatalogue.register(MinimalGRU<Float>.self)
        #expect(throws: CellError.self) { try CellCatalogue.register(ParaGRUNamedMinGRU.self) }
    }

    @Test func loadsFromAModelFileAndSolves() throws {
        let c = try cell(seed: 3)
        let layer = try ModelLayer(cell: c)
        let model = try Model(kind: try #require(CellKind(rawValue: "mingru")), layers: [layer])
        let bytes = SafeTensors.encode(ModelFile.encode(model))
        let loaded = try ModelFile.decode(try SafeTensors.decode(bytes, name: "m.safetensors"), name: "m.safetensors")
        #expect(loaded.kind.rawValue == "mingru" && loaded.inputSize == 3 && loaded.hiddenSize == 4)
        let (steps, x) = (300, inputs(300 * 3, seed: 5))
        let expected = reference(c, x, steps: steps)
        for method in [SolverMethod.newton, .sequential, .elk] {
            let solved = try loaded.solve(
                as: Double.self, inputs: x, steps: steps, batch: 1,
                options: SolverOptions(method: method, fallback: false, pool: .serial))
            #expect(solved.converged, "\(method)")
            let error = zip(solved.hidden, expected).map { abs($0 - $1) }.max() ?? .nan
            #expect(error < 1e-8, "\(method): max |h − h_ref| = \(error)")
        }
    }

    /// The dual-number VJP of ``DifferentiableStepCell`` against central differences of the
    /// reference rollout's loss L = Σ_t w_t · h_t.
    @Test func gradientsMatchFiniteDifferences() throws {
        let c = try cell(seed: 11)
        let steps = 25
        let x = inputs(steps * 3, seed: 12)
        let w = inputs(steps * 4, seed: 13)
        func loss(_ c: MinimalGRU<Double>) -> Double { zip(reference(c, x, steps: steps), w).map(*).reduce(0, +) }
        let solver = SequenceSolver(cell: c, options: SolverOptions(method: .sequential, pool: .serial))
        let states = try solver.solve(inputs: x, steps: steps, batch: 1).states
        let g = try solver.gradients(states: states, inputs: x, steps: steps, batch: 1, stateGradients: w)
        let analytic = c.flatten(g)
        let theta = c.parameterVector
        for k in 0..<theta.count {
            var plus = theta
            var minus = theta
            plus[k] += 1e-6
            minus[k] -= 1e-6
            let numeric = (loss(try c.with(parameterVector: plus)) - loss(try c.with(parameterVector: minus))) / 2e-6
            #expect(
                abs(numeric - analytic[k]) < 1e-6 * max(1, abs(numeric)), "parameter \(k): \(analytic[k]) vs \(numeric)"
            )
        }
    }

    @Test func fitsWithTheTrainerAndWritesALoadableModel() throws {
        let steps = 400
        let recording = (0..<steps).map { Foundation.sin(Double($0) * 0.2) }
        var options = TrainingOptions()
        options.steps = 60
        options.batchSize = 4
        options.windowLength = 32
        options.learningRate = 2e-2
        options.validationInterval = 60
        options.solver = SolverOptions(method: .newton, pool: .serial)
        let trainer = Trainer<MinimalGRU<Double>>(options: options)
        let data = TrainingData<Double>.nextStep(recording: recording, steps: steps, features: 1)
        var g = SplitMix(seed: 1)
        var model = try RecurrentModel<MinimalGRU<Double>>.initialized(
            inputSize: 1, hiddenSize: 4, layerCount: 1, outputSize: 1, using: &g)
        let before = try trainer.validationLoss(model, data)
        _ = try trainer.fit(&model, data: data)
        let after = try trainer.validationLoss(model, data)
        #expect(after < 0.5 * before, "validation MSE \(before) → \(after)")
        // The trained layer goes through a model file and solves to the same states.
        let trained = model.layers[0]
        let file = try Model(kind: try #require(CellKind(rawValue: "mingru")), layers: [try ModelLayer(cell: trained)])
        let loaded = try ModelFile.decode(ModelFile.encode(file), name: "fit.safetensors")
        let x = recording.prefix(100).map { $0 }
        let solved = try loaded.solve(
            as: Double.self, inputs: x, steps: 100, batch: 1, options: SolverOptions(method: .sequential, pool: .serial)
        )
        let error = zip(solved.hidden, reference(trained, x, steps: 100)).map { abs($0 - $1) }.max() ?? .nan
        #expect(error < 1e-12)
    }
}

/// A ParaGRU under the example cell's name: the catalogue must refuse it.
private struct ParaGRUNamedMinGRU: CatalogueCell {
    typealias Scalar = Double
    let base: ParaGRU<Double>
    var inputSize: Int { base.inputSize }
    var hiddenSize: Int { base.hiddenSize }
    var stateSize: Int { base.stateSize }
    var gateCount: Int { base.gateCount }
    var structure: JacobianStructure { base.structure }
    var inputWeights: [Double] { base.inputWeights }
    var inputBias: [Double] { base.inputBias }
    static var schema: CellSchema { CellSchema(name: "mingru", gates: 3, naming: .paraRNN) }
    static func make<T: CellMath>(_ t: CellTensors, as _: T.Type) throws(CellError) -> any RecurrentCell<T> {
        try ParaGRU<T>.make(t, as: T.self)
    }
    var parameterTensors: [String: ParameterTensor] { base.parameterTensors }
    func linearize(_ arguments: LinearizeArguments<Double>) { base.linearize(arguments) }
    func linearize(
        steps: Range<Int>, batch: Int, previous: UnsafePointer<Double>, states: UnsafePointer<Double>,
        projections: UnsafePointer<Double>, values: UnsafeMutablePointer<Double>,
        jacobians: UnsafeMutablePointer<Double>?, request: JacobianRequest
    ) {
        base.linearize(
            steps: steps, batch: batch, previous: previous, states: states, projections: projections,
            values: values, jacobians: jacobians, request: request)
    }
}

/// CONTRIBUTING.md shows the example cell verbatim: keep them the same.
@Test func contributingShowsTheExampleCellAsTested() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let guide = try String(contentsOf: root.appendingPathComponent("CONTRIBUTING.md"), encoding: .utf8)
    let file = try String(
        contentsOf: root.appendingPathComponent("Tests/ModelIOTests/ExampleCell/MinimalGRU.swift"), encoding: .utf8)
    let begin = try #require(guide.range(of: "<!-- example-cell:begin -->\n```swift\n"))
    let end = try #require(guide.range(of: "```\n<!-- example-cell:end -->"))
    #expect(String(guide[begin.upperBound..<end.lowerBound]) == file)
}
