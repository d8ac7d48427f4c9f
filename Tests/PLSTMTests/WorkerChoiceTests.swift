import PLSTM
import ParallelScan
import Testing

/// The tiled wavefront's worker count from the cost model for the two measured machines, and
/// its one-worker path: the plain wavefront, bitwise.
@Suite("pLSTM worker choice")
struct PLSTMWorkerChoiceTests {
    /// The 2-core VM's measured profile: copy GB/s {1: 15.5, 2: 25.1}, arithmetic 1.64× on two.
    static let twoCore = MachineProfile(cores: 2, bandwidth: [1: 15.5e9, 2: 25.1e9], compute: [2: 1.64])
    /// The 16-core machine's: copy GB/s {1: 14, 16: 237.5}, arithmetic 10.4× on sixteen.
    static let sixteenCore = MachineProfile(cores: 16, bandwidth: [1: 14e9, 16: 237.5e9], compute: [16: 10.4])
    /// Threads add neither bandwidth nor arithmetic.
    static let flat = MachineProfile(cores: 4, bandwidth: [1: 10e9, 4: 10e9], compute: [4: 1])

    static func gates(side: Int, seed: UInt64) throws -> GridGates<Float> {
        var rng = TestRNG(seed: seed)
        let n = side * side
        func f(_ values: [Double]) -> [Float] { values.map(Float.init) }
        return try GridGates<Float>.pMode(
            height: side, width: side, source: f(rng.array(n)), orientationLogits: f(rng.array(n, -2, 2)),
            transitionLogits: f(rng.array(n, -1.5, 1.5)), mark: f(rng.array(n)), direct: f(rng.array(n)))
    }

    @Test("512² grid, d = 16 (the bench case): the wavefront on two cores, a strip per thread on sixteen")
    func decisions() throws {
        let gates = try Self.gates(side: 512, seed: 1)
        // Two strips predict 1.59× on an idle 2-core machine, 1.06× with one other runnable
        // thread: under the margin (read 0.67–0.87× on the loaded VM).
        #expect(
            gates.tiledWavefrontWorkers(stateSize: 16, pool: WorkerPool(threadCount: 2, profile: Self.twoCore)) == 1)
        for threads in [2, 4, 8, 16] {
            #expect(
                gates.tiledWavefrontWorkers(
                    stateSize: 16, pool: WorkerPool(threadCount: threads, profile: Self.sixteenCore)) == threads)
        }
        #expect(gates.tiledWavefrontWorkers(stateSize: 16, pool: WorkerPool(threadCount: 4, profile: Self.flat)) == 1)
        // The never22c 16-core instance (read there 1.49/2.51/4.22/3.08× on 2/4/8/16 threads).
        let never22c = MachineProfile(
            cores: 16, bandwidth: [1: 11.38e9, 2: 20.70e9, 4: 43.39e9, 8: 78.00e9, 16: 123.48e9],
            compute: [2: 1.961, 4: 3.847, 8: 7.556, 16: 11.758])
        for threads in [2, 4, 8, 16] {
            #expect(
                gates.tiledWavefrontWorkers(
                    stateSize: 16, pool: WorkerPool(threadCount: threads, profile: never22c)) == threads)
        }
    }

    @Test("one strip is the sequential wavefront, bitwise")
    func oneStrip() throws {
        let gates = try Self.gates(side: 96, seed: 2)
        var rng = TestRNG(seed: 3)
        let x = rng.array(96 * 96 * 4).map(Float.init)
        let pool = WorkerPool(threadCount: 4, profile: Self.flat)
        #expect(gates.tiledWavefrontWorkers(stateSize: 4, pool: pool) == 1)
        #expect(try gates.tiledWavefront(input: x, stateSize: 4, pool: pool) == gates.wavefront(input: x, stateSize: 4))
    }
}
