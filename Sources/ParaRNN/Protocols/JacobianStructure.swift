import ParallelScan

/// The structure of a cell's Jacobian ∂f/∂s, which decides the scan a Newton step needs.
public enum JacobianStructure: Sendable, Equatable, CustomStringConvertible {
    /// One scalar per state value (ParaGRU): a diagonal affine scan.
    case diagonal
    /// k×k blocks coupling k state planes (ParaLSTM's (c, h) pairs: k = 2).
    case blockDiagonal(Int)
    /// A full matrix per batch entry (classic GRU/LSTM: DEER).
    case dense

    public var description: String {
        switch self {
        case .diagonal: return "diagonal"
        case .blockDiagonal(let k): return "\(k)×\(k) block-diagonal"
        case .dense: return "dense"
        }
    }

    /// The affine scan a Newton step of this structure needs, for `batch` sequences of
    /// `stateSize` values (a state row of `batch · stateSize` values).
    ///
    ///     JacobianStructure.blockDiagonal(2).scanShape(batch: 4, stateSize: 16)
    ///     // .blockDiagonal(blocks: 32, blockSize: 2)
    public func scanShape(batch: Int, stateSize: Int) -> ScanShape {
        switch self {
        case .diagonal: return .diagonal(lanes: batch * stateSize)
        case .blockDiagonal(let k): return .blockDiagonal(blocks: batch * stateSize / k, blockSize: k)
        case .dense: return .dense(batch: batch, dimension: stateSize)
        }
    }
}

/// Where value i of sequence b sits in a state row.
struct StateLayout {
    let structure: JacobianStructure
    let stateSize: Int, hiddenSize: Int, batch: Int

    func index(entry b: Int, value i: Int) -> Int {
        switch structure {
        case .diagonal, .dense: return b * stateSize + i
        case .blockDiagonal:
            let plane = i / hiddenSize
            let j = i % hiddenSize
            return (plane * batch + b) * hiddenSize + j
        }
    }
}
