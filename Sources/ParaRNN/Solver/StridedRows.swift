/// Copies `rows` rows of `rowBytes` bytes between strided places: row r goes from
/// `source + r·sourceStride` to `destination + r·destinationStride` (strides in bytes). The one
/// strided-row copy of the package: the Newton kernels' plane gathers and scatters
/// (``copyRows(into:stride:from:stride:rows:lanes:)``), a batch split's per-worker slices
/// (``copyRows(_:stride:_:stride:count:rows:)``) and the streamed solve's input scatter and
/// output gather in the CLI.
///
/// Rows of 16, 32 or 64 bytes (4 or 8 Float values, 2, 4 or 8 Double) move as one vector each;
/// other rows under 256 bytes as 16-byte vectors and a 4- or 8-byte tail (a `memmove` call per
/// short row cost more than the row); longer rows by `memmove`. Rows that follow one another on
/// both sides are one `memmove`. The rows must not overlap unless they are contiguous.
///
///     // entry e of [n][B][d] Float states into n consecutive rows:
///     copyStridedRows(into: out, stride: 4 * d, from: h + 4 * d * e, stride: 4 * d * B, rowBytes: 4 * d, rows: n)
@inline(__always)
package func copyStridedRows(
    into destination: UnsafeMutableRawPointer, stride destinationStride: Int, from source: UnsafeRawPointer,
    stride sourceStride: Int, rowBytes: Int, rows: Int
) {
    if rows <= 0 || rowBytes <= 0 { return }
    if destinationStride == rowBytes, sourceStride == rowBytes {
        destination.copyMemory(from: source, byteCount: rows * rowBytes)
        return
    }
    switch rowBytes {
    case 16: copyVectorRows(SIMD16<UInt8>.self, destination, destinationStride, source, sourceStride, rows)
    case 32: copyVectorRows(SIMD32<UInt8>.self, destination, destinationStride, source, sourceStride, rows)
    case 64: copyVectorRows(SIMD64<UInt8>.self, destination, destinationStride, source, sourceStride, rows)
    case ..<256:
        for r in 0..<rows {
            copyShortRow(destination + r * destinationStride, source + r * sourceStride, rowBytes)
        }
    default:
        for r in 0..<rows {
            (destination + r * destinationStride).copyMemory(from: source + r * sourceStride, byteCount: rowBytes)
        }
    }
}

/// Rows of exactly one vector `V` each.
@inline(__always)
private func copyVectorRows<V: SIMD>(
    _: V.Type, _ destination: UnsafeMutableRawPointer, _ destinationStride: Int, _ source: UnsafeRawPointer,
    _ sourceStride: Int, _ rows: Int
) {
    for r in 0..<rows {
        destination.storeBytes(
            of: source.loadUnaligned(fromByteOffset: r * sourceStride, as: V.self),
            toByteOffset: r * destinationStride, as: V.self)
    }
}

/// One row of fewer than 256 bytes: 16-byte vectors, then 8- and 4-byte moves (rows hold whole
/// Float or Double values), then single bytes.
@inline(__always)
private func copyShortRow(_ destination: UnsafeMutableRawPointer, _ source: UnsafeRawPointer, _ bytes: Int) {
    var i = 0
    while i + 16 <= bytes {
        destination.storeBytes(
            of: source.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self), toByteOffset: i,
            as: SIMD16<UInt8>.self)
        i += 16
    }
    if i + 8 <= bytes {
        destination.storeBytes(
            of: source.loadUnaligned(fromByteOffset: i, as: UInt64.self), toByteOffset: i, as: UInt64.self)
        i += 8
    }
    if i + 4 <= bytes {
        destination.storeBytes(
            of: source.loadUnaligned(fromByteOffset: i, as: UInt32.self), toByteOffset: i, as: UInt32.self)
        i += 4
    }
    while i < bytes {
        destination.storeBytes(of: source.load(fromByteOffset: i, as: UInt8.self), toByteOffset: i, as: UInt8.self)
        i += 1
    }
}
