/// Copies `rows` rows of `rowBytes` bytes between strided places: row r goes from
/// `source + r·sourceStride` to `destination + r·destinationStride`. The streamed solve uses it
/// to move one batch entry's rows into and out of time-major `[T][B][·]` segments (the input's
/// rows scattered into the segment, the states gathered for the batch-major output). Rows of 16
/// or 32 bytes (4 or 8 Float values, 2 or 4 Double) move as one vector each; a `memmove` call
/// per row cost more than the row. Rows that follow one another on both sides (a batch of one)
/// are one `memmove`.
///
///     // entry e of [n][B][d] Float states into n consecutive rows:
///     copyStridedRows(into: out, stride: 4 * d, from: h + 4 * d * e, stride: 4 * d * B, rowBytes: 4 * d, rows: n)
func copyStridedRows(
    into destination: UnsafeMutableRawPointer, stride destinationStride: Int, from source: UnsafeRawPointer,
    stride sourceStride: Int, rowBytes: Int, rows: Int
) {
    if destinationStride == rowBytes, sourceStride == rowBytes {
        destination.copyMemory(from: source, byteCount: rows * rowBytes)
        return
    }
    switch rowBytes {
    case 16:
        for r in 0..<rows {
            destination.storeBytes(
                of: source.loadUnaligned(fromByteOffset: r * sourceStride, as: SIMD16<UInt8>.self),
                toByteOffset: r * destinationStride, as: SIMD16<UInt8>.self)
        }
    case 32:
        for r in 0..<rows {
            destination.storeBytes(
                of: source.loadUnaligned(fromByteOffset: r * sourceStride, as: SIMD32<UInt8>.self),
                toByteOffset: r * destinationStride, as: SIMD32<UInt8>.self)
        }
    default:
        for r in 0..<rows {
            (destination + r * destinationStride).copyMemory(from: source + r * sourceStride, byteCount: rowBytes)
        }
    }
}
