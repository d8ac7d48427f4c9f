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

/// Converts `count` little-endian elements starting at byte `offset` of `data`.
/// Precondition (checked by callers): `offset + count * type.byteSize <= data.count`.
func decodeScalars(_ data: Data, offset: Int, count: Int, type: ScalarType) -> Tensor.Storage {
    data.withUnsafeBytes { raw -> Tensor.Storage in
        switch type {
        case .float32:
            return .float32(
                [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                    for i in 0..<count {
                        let bits = raw.loadUnaligned(fromByteOffset: offset &+ 4 &* i, as: UInt32.self)
                        buffer[i] = Float(bitPattern: UInt32(littleEndian: bits))
                    }
                    initialized = count
                })
        case .float64:
            return .float64(
                [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
                    for i in 0..<count {
                        let bits = raw.loadUnaligned(fromByteOffset: offset &+ 8 &* i, as: UInt64.self)
                        buffer[i] = Double(bitPattern: UInt64(littleEndian: bits))
                    }
                    initialized = count
                })
        }
    }
}

/// Appends the little-endian bytes of `storage` to `out`.
func appendScalars(_ storage: Tensor.Storage, to out: inout Data) {
    switch storage {
    case .float32(let values):
        var bytes = [UInt8](repeating: 0, count: values.count * 4)
        bytes.withUnsafeMutableBytes { raw in
            for (i, v) in values.enumerated() {
                raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
            }
        }
        out.append(contentsOf: bytes)
    case .float64(let values):
        var bytes = [UInt8](repeating: 0, count: values.count * 8)
        bytes.withUnsafeMutableBytes { raw in
            for (i, v) in values.enumerated() {
                raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 8 * i, as: UInt64.self)
            }
        }
        out.append(contentsOf: bytes)
    }
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
