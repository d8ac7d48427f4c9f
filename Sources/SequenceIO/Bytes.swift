import Foundation

/// Little-endian loads from `Data` at offsets relative to `startIndex`. Callers check bounds first.
extension Data {
    @inline(__always)
    func u16LE(at offset: Int) -> UInt16 {
        withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt16.self) }.littleEndian
    }

    @inline(__always)
    func u32LE(at offset: Int) -> UInt32 {
        withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }.littleEndian
    }

    @inline(__always)
    func u64LE(at offset: Int) -> UInt64 {
        withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self) }.littleEndian
    }

    /// The byte at `offset` (relative to `startIndex`).
    @inline(__always)
    func byte(at offset: Int) -> UInt8 { self[startIndex + offset] }

    /// Whether the bytes at `offset` equal `ascii`. Callers check bounds first.
    func matches(_ ascii: String, at offset: Int) -> Bool {
        var i = offset
        for b in ascii.utf8 {
            if byte(at: i) != b { return false }
            i += 1
        }
        return true
    }
}

/// A float stored as its IEEE bit pattern, little-endian, in the files: `Float` (4 bytes) and
/// `Double` (8 bytes).
protocol LittleEndianFloat: BinaryFloatingPoint {
    associatedtype Bits: FixedWidthInteger
    init(bitPattern: Bits)
    var bitPattern: Bits { get }
}

extension Float: LittleEndianFloat {}
extension Double: LittleEndianFloat {}

/// Converts `count` little-endian elements starting at byte `offset` of `data`.
/// Precondition (checked by callers): `offset + count * type.byteSize <= data.count`.
func decodeScalars(_ data: Data, offset: Int, count: Int, type: ScalarType) -> Tensor.Storage {
    data.withUnsafeBytes { raw -> Tensor.Storage in
        switch type {
        case .float32: return .float32(decodeFloats(raw, offset: offset, count: count))
        case .float64: return .float64(decodeFloats(raw, offset: offset, count: count))
        }
    }
}

/// `count` values of `F` from their little-endian bit patterns at byte `offset` of `raw`.
private func decodeFloats<F: LittleEndianFloat>(_ raw: UnsafeRawBufferPointer, offset: Int, count: Int) -> [F] {
    let size = MemoryLayout<F.Bits>.size
    return [F](unsafeUninitializedCapacity: count) { buffer, initialized in
        for i in 0..<count {
            let bits = raw.loadUnaligned(fromByteOffset: offset &+ size &* i, as: F.Bits.self)
            buffer[i] = F(bitPattern: F.Bits(littleEndian: bits))
        }
        initialized = count
    }
}

/// Appends the little-endian bytes of `storage` to `out`.
func appendScalars(_ storage: Tensor.Storage, to out: inout Data) {
    switch storage {
    case .float32(let values): appendFloats(values, to: &out)
    case .float64(let values): appendFloats(values, to: &out)
    }
}

/// Appends the little-endian bit patterns of `values` to `out`.
private func appendFloats<F: LittleEndianFloat>(_ values: [F], to out: inout Data) {
    let size = MemoryLayout<F.Bits>.size
    var bytes = [UInt8](repeating: 0, count: values.count * size)
    bytes.withUnsafeMutableBytes { raw in
        for (i, v) in values.enumerated() {
            raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: size * i, as: F.Bits.self)
        }
    }
    out.append(contentsOf: bytes)
}

func appendLE<T: FixedWidthInteger>(_ value: T, to out: inout Data) {
    withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
}

/// Reads a whole file, mapping failures to ``SequenceIOError/unreadable(file:reason:)``.
func readFileData(_ url: URL) throws(SequenceIOError) -> Data {
    do {
        return try Data(contentsOf: url, options: .mappedIfSafe)
    } catch {
        let reason: String
        if let cocoa = error as? CocoaError, let underlying = cocoa.userInfo[NSUnderlyingErrorKey] as? NSError {
            reason = underlying.localizedDescription
        } else {
            reason = (error as NSError).localizedDescription
        }
        throw .unreadable(file: url.lastPathComponent, reason: reason)
    }
}
