import ParaRNN
import SequenceIO

extension Model {
    /// The initial state rows ``solveStack(_:inputs:steps:batch:options:initialStates:progress:)``
    /// takes, from PyTorch's `h0` `[L·D, B, H_out]` and (LSTM) `c0` `[L·D, B, d]`, index
    /// `layer · D + direction` (H_out = p with `proj_size`, else d; `[L·D, H_out]` for an
    /// unbatched input, as PyTorch). A tensor left out is zeros.
    ///
    ///     let rows = try model.initialStates(h0: h0, h0Name: "h0.npy", c0: c0, c0Name: "c0.npy", batch: 2, batched: true)
    ///     let h = try model.solve(as: Float.self, inputs: x, steps: T, batch: 2, options: options,
    ///                             initialStates: rows.map { $0.map { Float($0) } })
    public func initialStates(
        h0: Tensor?, h0Name: String = "h0", c0: Tensor?, c0Name: String = "c0", batch: Int, batched: Bool
    ) throws(ModelError) -> [[Double]] {
        let count = layers.count * directions
        let hasCell = kind == .lstm || kind == .paralstm
        if c0 != nil, !hasCell {
            throw .inconsistent(
                file: c0Name, detail: "an initial cell state c0 applies only to an LSTM; the model is a \(kind)")
        }
        func values(_ t: Tensor?, _ name: String, _ what: String, width: Int) throws(ModelError) -> [Double]? {
            guard let t else { return nil }
            let expected = batched ? [count, batch, width] : [count, width]
            if t.shape != expected && !(!batched && t.shape == [count, 1, width]) {
                let dims =
                    batched ? "[L·D = \(count), B = \(batch), \(what)]" : "[L·D = \(count), \(what)] (unbatched input)"
                throw .wrongShape(
                    file: name, tensor: name == h0Name ? "h0" : "c0", shape: t.shape,
                    detail:
                        "expected \(dims) for \(layers.count) layer\(layers.count == 1 ? "" : "s") × \(directions) direction\(directions == 1 ? "" : "s")"
                )
            }
            let v = t.asDouble()
            if let bad = v.firstIndex(where: { !$0.isFinite }) {
                throw .nonFinite(file: name, tensor: name == h0Name ? "h0" : "c0", index: bad)
            }
            return v
        }
        let last = layers[layers.count - 1]
        // All layers share d and p in PyTorch; check against each layer anyway below.
        let hWidth = last.projectionSize ?? last.hiddenSize
        let cWidth = last.hiddenSize
        if layers.contains(where: { ($0.projectionSize ?? $0.hiddenSize) != hWidth || $0.hiddenSize != cWidth }) {
            throw .inconsistent(file: h0Name, detail: "initial states need layers of one size")
        }
        let h = try values(h0, h0Name, "H_out = \(hWidth)", width: hWidth)
        let c = try values(c0, c0Name, "d = \(cWidth)", width: cWidth)
        var rows: [[Double]] = []
        for index in 0..<count {
            let layer = layers[index / directions]
            let d = layer.hiddenSize
            let n = kind == .paraslstm ? 4 * d : hasCell ? d + hWidth : d
            var row = [Double](repeating: 0, count: batch * n)
            for b in 0..<batch {
                for j in 0..<hWidth {
                    let value = h?[(index * batch + b) * hWidth + j] ?? 0
                    if kind == .paralstm {
                        row[(batch + b) * d + j] = value
                    } else if kind == .paraslstm {
                        row[(3 * batch + b) * d + j] = value  // planes c, n, m, h: h0 sets h; c = n = m = 0
                    } else {
                        row[b * n + (n - hWidth) + j] = value
                    }
                }
                guard hasCell else { continue }
                for i in 0..<d {
                    let value = c?[(index * batch + b) * d + i] ?? 0
                    if kind == .paralstm { row[b * d + i] = value } else { row[b * n + i] = value }
                }
            }
            rows.append(row)
        }
        return rows
    }
}
