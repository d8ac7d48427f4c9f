import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A `.npy` file opened for reading by offset: only its header is parsed; the values are read
/// with `pread` a range at a time, so a file of any size is read in bounded memory.
///
/// ```swift
/// let file = try NPYFile(contentsOf: URL(fileURLWithPath: "x.npy"))   // shape [T, m], float32
/// var row = [Float](repeating: 0, count: file.shape[1])
/// try row.withUnsafeMutableBytes { try file.read(elements: 0..<file.shape[1], into: $0.baseAddress!) }
/// ```
/// The checks are those of ``NPY/read(contentsOf:)``: magic, version, header, dtype, C order,
/// and a data size that matches the shape exactly.
public final class NPYFile: @unchecked Sendable {
    public let name: String
    public let shape: [Int]
    public let scalarType: ScalarType
    /// Byte offset of the first value.
    public let dataOffset: Int
    /// The number of values.
    public let count: Int
    private let fd: Int32

    public init(contentsOf url: URL) throws(SequenceIOError) {
        name = url.lastPathComponent
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(file: url.lastPathComponent, reason: errnoMessage()) }
        self.fd = fd
        do {
            var info = stat()
            guard fstat(fd, &info) == 0 else {
                throw SequenceIOError.unreadable(file: url.lastPathComponent, reason: errnoMessage())
            }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                throw SequenceIOError.unreadable(file: url.lastPathComponent, reason: "is a folder")
            }
            let size = Int(info.st_size)
            // The preamble and header (a few hundred bytes; at most 4 GiB by the format) as Data,
            // checked by the same parser as whole-file reads.
            let preamble = try Self.bytes(fd, offset: 0, count: min(size, 12), name: url.lastPathComponent)
            var headerEnd = preamble.count
            if preamble.count >= 10, preamble.prefix(6).elementsEqual(NPY.magic) {
                let major = preamble[6]
                let length =
                    major == 1
                    ? Int(preamble[8]) | Int(preamble[9]) << 8
                    : preamble.count >= 12
                        ? Int(preamble[8]) | Int(preamble[9]) << 8 | Int(preamble[10]) << 16 | Int(preamble[11]) << 24
                        : 0
                headerEnd = min(size, (major == 1 ? 10 : 12) + length)
            }
            let head = try Self.bytes(fd, offset: 0, count: headerEnd, name: url.lastPathComponent)
            let (header, dataStart) = try NPY.parseHead(Data(head), name: url.lastPathComponent)
            guard let count = Tensor.elementCount(of: header.shape) else {
                throw SequenceIOError.sizeMismatch(
                    file: url.lastPathComponent,
                    detail: "header shape \(describeShape(header.shape)) has more elements than can be addressed")
            }
            let (needed, overflow) = count.multipliedReportingOverflow(by: header.type.byteSize)
            guard !overflow, needed == size - dataStart else {
                throw SequenceIOError.sizeMismatch(
                    file: url.lastPathComponent,
                    detail:
                        "header declares shape \(describeShape(header.shape)) but the file holds \(size - dataStart) bytes of data, \(overflow ? "more than can be addressed" : String(needed)) needed"
                )
            }
            shape = header.shape
            scalarType = header.type
            dataOffset = dataStart
            self.count = count
        } catch {
            close(fd)
            throw error as! SequenceIOError
        }
    }

    deinit { close(fd) }

    /// Reads the values `elements` (flat indices, C order) as stored (little-endian `scalarType`)
    /// into `buffer`, which must hold `elements.count × scalarType.byteSize` bytes.
    public func read(elements: Range<Int>, into buffer: UnsafeMutableRawPointer) throws(SequenceIOError) {
        let size = scalarType.byteSize
        var done = 0
        var total = elements.count * size
        let start = dataOffset + elements.lowerBound * size
        while done < total {
            let n = pread(fd, buffer + done, total - done, off_t(start + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw .unreadable(file: name, reason: "reading \(total) bytes at offset \(start): \(errnoMessage())")
            }
            if n == 0 {
                total = done
                throw .truncated(file: name, detail: "the file ended at byte \(start + done) while reading")
            }
            done += n
        }
    }

    /// Asks the kernel to start reading the values `elements` into the page cache now, without
    /// waiting (`POSIX_FADV_WILLNEED`), so that a later ``read(elements:into:)`` finds them there:
    /// the disk reads ahead while the caller computes.
    public func prefetch(elements: Range<Int>) {
        let lower = max(0, elements.lowerBound)
        let upper = min(count, elements.upperBound)
        guard lower < upper else { return }
        let size = scalarType.byteSize
        #if os(Linux)
            _ = posix_fadvise(fd, off_t(dataOffset + lower * size), off_t((upper - lower) * size), POSIX_FADV_WILLNEED)
        #endif
    }

    private static func bytes(_ fd: Int32, offset: Int, count: Int, name: String) throws(SequenceIOError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .unreadable(file: name, reason: errnoMessage())
            }
            if n == 0 { break }
            done += n
        }
        return Array(out.prefix(done))
    }
}

extension NPY {
    /// Parses a `.npy` file's preamble and header from `data` (the file's first bytes, at least
    /// up to the end of the header); returns the header and the byte offset of the data.
    static func parseHead(_ data: Data, name: String) throws(SequenceIOError) -> (Header, Int) {
        for i in 0..<min(data.count, magic.count) where data.byte(at: i) != magic[i] {
            throw .badMagic(file: name, expected: "NumPy .npy")
        }
        guard data.count >= 8 else {
            throw .truncated(file: name, detail: "\(data.count) bytes is shorter than the .npy preamble")
        }
        let major = data.byte(at: 6)
        let minor = data.byte(at: 7)
        let lengthSize: Int
        switch (major, minor) {
        case (1, 0): lengthSize = 2
        case (2, 0), (3, 0): lengthSize = 4
        default: throw .unsupportedVersion(file: name, version: "\(major).\(minor)")
        }
        let headerStart = 8 + lengthSize
        guard data.count >= headerStart else {
            throw .truncated(
                file: name,
                detail: "\(data.count) bytes is shorter than the \(headerStart)-byte .npy v\(major).0 preamble")
        }
        let headerLength = lengthSize == 2 ? Int(data.u16LE(at: 8)) : Int(data.u32LE(at: 8))
        guard headerLength <= data.count - headerStart else {
            throw .truncated(
                file: name,
                detail: "header declares \(headerLength) bytes but only \(data.count - headerStart) follow the preamble"
            )
        }
        let headerBytes = data[(data.startIndex + headerStart)..<(data.startIndex + headerStart + headerLength)]
        let headerScalars: [Unicode.Scalar]
        if major == 3 {
            guard let text = String(bytes: headerBytes, encoding: .utf8) else {
                throw .malformedHeader(file: name, detail: "header is not valid UTF-8")
            }
            headerScalars = Array(text.unicodeScalars)
        } else {
            headerScalars = headerBytes.map { Unicode.Scalar($0) }  // Latin-1
        }
        return (try parseHeader(headerScalars, name: name), headerStart + headerLength)
    }

    /// The bytes of a version 1.0 (2.0 for a very long shape) `.npy` header for an array of
    /// `shape` and `type`, padded so the data starts on a 64-byte boundary.
    public static func header(shape: [Int], type: ScalarType) -> Data {
        let descr = type == .float32 ? "<f4" : "<f8"
        let dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(describeShape(shape)), }"
        var version: UInt8 = 1
        var preamble = 10
        var padded = paddedLength(dict.utf8.count, preamble: preamble)
        if padded > Int(UInt16.max) {
            version = 2
            preamble = 12
            padded = paddedLength(dict.utf8.count, preamble: preamble)
        }
        var out = Data()
        out.append(contentsOf: magic)
        out.append(contentsOf: [version, 0])
        if version == 1 { appendLE(UInt16(padded), to: &out) } else { appendLE(UInt32(padded), to: &out) }
        out.append(contentsOf: Array(dict.utf8))
        out.append(contentsOf: [UInt8](repeating: 0x20, count: padded - dict.utf8.count - 1))
        out.append(0x0A)
        return out
    }
}
