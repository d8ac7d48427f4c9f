import Foundation
import ParallelScan

/// Retention (RetNet; Vision Retention Networks): linear attention with a fixed per-head decay
/// γ_h ∈ (0, 1) and no normaliser, per head:
///
///     S_t = γ S_{t−1} + k_t v_tᵀ,   o_t = q̂_tᵀ S_t = Σ_{j≤t} γ^{t−j} (q̂_t·k_j) v_j,   q̂ = q / √D_k
///
/// (the group norm RetNet applies afterwards is not part of this layer). It runs on the mLSTM
/// engine with log-forget log γ, log-input 0 and no normaliser: the stabiliser stays m ≡ 0, so
/// no rescaling happens. Same forms (``GatedForm``) and layouts as ``MLSTM``: queries and keys
/// `[T][batch][heads][D_k]`, values and output `[T][batch][heads][D_v]`.
///
/// ```swift
/// let layer = try Retention<Float>(keySize: 64, valueSize: 64, decays: [0.9, 0.99, 0.999, 0.9999])
/// let o = try layer.forward(queries: q, keys: k, values: v, steps: T, batch: 1).output
/// ```
public struct Retention<S: ScanScalar>: Sendable {
    public let keySize: Int, valueSize: Int
    /// γ_h per head, each in (0, 1]; `heads == decays.count`.
    public let decays: [S]
    public var heads: Int { decays.count }

    public init(keySize: Int, valueSize: Int, decays: [S]) throws(LinearRNNError) {
        try checkPositive("keySize", keySize)
        try checkPositive("valueSize", valueSize)
        try checkPositive("heads", decays.count)
        for g in decays where !(g > 0 && g <= 1) {
            throw .invalidValue("every decay must lie in (0, 1], got \(g)")
        }
        self.keySize = keySize
        self.valueSize = valueSize
        self.decays = decays
    }

    /// RetNet's decays γ_h = 1 − 2^{−5−h}, h = 0…H−1.
    public static func defaultDecays(heads: Int) -> [S] {
        (0..<heads).map { h in 1 - S(Foundation.pow(2.0, -5.0 - Double(h))) }
    }

    /// Gradients of L = Σ_t ⟨G_t, o_t⟩: q, k, v in the input layouts, and ∂L/∂γ_h per head.
    public struct Gradients: Sendable {
        public var queries: [S], keys: [S], values: [S], decays: [S]
    }

    var core: GatedHeads<S> { GatedHeads(heads: heads, dk: keySize, dv: valueSize, normalised: false, epsilon: 0) }

    func checkInputs(_ q: [S], _ k: [S], _ v: [S], steps: Int, batch: Int) throws(LinearRNNError) {
        try core.checkQueriesKeysValues(q, k, v, steps: steps, batch: batch)
    }

    func gates(steps: Int, batch: Int) -> (logF: [S], logI: [S]) {
        var logF = [S](repeating: 0, count: batch * heads * steps)
        for s in 0..<(batch * heads) {
            let lg = S(Foundation.log(Double(decays[s % heads])))
            for t in 0..<steps { logF[s * steps + t] = lg }
        }
        return (logF, [S](repeating: 0, count: batch * heads * steps))
    }

    /// Runs the layer.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func forward(
        queries: [S], keys: [S], values: [S], steps: Int, batch: Int, form: GatedForm = .chunkwise,
        keepStates: Bool = true, pool: WorkerPool = .shared
    ) throws(LinearRNNError) -> GatedTrace<S> {
        try checkInputs(queries, keys, values, steps: steps, batch: batch)
        return try core.forward(
            q: queries, k: keys, v: values, gates: gates(steps: steps, batch: batch), steps: steps, batch: batch,
            form: form, keepStates: keepStates, pool: pool)
    }

    /// Gradients of L = Σ_t ⟨G_t, o_t⟩ (trace from a chunkwise or quadratic forward with
    /// `keepStates: true`).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward(
        queries: [S], keys: [S], values: [S], trace: GatedTrace<S>, outputGradient: [S],
        pool: WorkerPool = .shared
    ) throws(LinearRNNError) -> Gradients {
        let steps = trace.steps
        let batch = trace.batch
        try checkInputs(queries, keys, values, steps: steps, batch: batch)
        let r = try core.backward(
            q: queries, k: keys, v: values, gates: gates(steps: steps, batch: batch), trace: trace,
            outputGradient: outputGradient, pool: pool)
        var dg = [S](repeating: 0, count: heads)
        for s in 0..<(batch * heads) {
            var acc: S = 0
            for t in 0..<steps { acc += r.dLogF[s * steps + t] }
            dg[s % heads] += acc / decays[s % heads]
        }
        return Gradients(queries: r.dq, keys: r.dk, values: r.dv, decays: dg)
    }
}
