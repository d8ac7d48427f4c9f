import Foundation

/// `.safetensors` model files: an 8-byte little-endian header length `N`, `N` bytes of JSON header
/// `{"name": {"dtype": "F32"|"F64", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}}`,
/// then the raw little-endian tensor data (offsets are relative to the end of the header).
public enum SafeTensors {
    /// Upper bound on the JSON header size accepted by the decoder.
    public static let maxHeaderLength = 100_000_000

    /// The contents of a `.safetensors` file.
    public struct File: Sendable, Equatable {
        /// The tensors by name.
        public var tensors: [String: Tensor]
        /// The string-to-string `__metadata__` entries (e.g. `"cell": "paragru"`).
        public var metadata: [String: String]
        /// The file name used in errors (set by the readers; not part of equality).
        public var sourceName: String

        /// Creates a file from tensors and metadata.
        public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:], sourceName: String = "") {
            self.tensors = tensors
            self.metadata = metadata
            self.sourceName = sourceName
        }

        /// The tensor called `name`, or ``SequenceIOError/missingTensor(file:name:)``.
        public func tensor(named name: String) throws(SequenceIOError) -> Tensor {
            guard let t = tensors[name] else { throw .missingTensor(file: sourceName, name: name) }
            return t
        }

        /// Two files are equal when their tensors and metadata are equal (``sourceName`` is ignored).
        public static func == (lhs: File, rhs: File) -> Bool {
            lhs.tensors == rhs.tensors && lhs.metadata == rhs.metadata
        }
    }

    /// Reads and decodes the `.safetensors` file at `url`.
    public static func read(contentsOf url: URL) throws(SequenceIOError) -> File {
        try decode(try readFileData(url), name: url.lastPathComponent)
    }

    private struct Entry {
        var name: String
        var type: ScalarType
        var shape: [Int]
        var count: Int
        var begin: Int
        var end: Int
    }

    /// Decodes `.safetensors` bytes; `name` labels errors (usually the file name).
    ///
    /// Validates the header length (≤ 100 MB and within the file), the JSON, each tensor's dtype
    /// (F32/F64 only), shape, and offsets (inside the data section, matching the shape, not overlapping).
    public static func decode(_ data: Data, name: String) throws(SequenceIOError) -> File {
        guard data.count >= 8 else {
            throw .truncated(file: name, detail: "\(data.count) bytes is shorter than the 8-byte header length field")
        }
        let declared = data.u64LE(at: 0)
        guard declared <= UInt64(maxHeaderLength) else {
            throw .malformedHeader(
                file: name, detail: "header length \(declared) exceeds the \(maxHeaderLength)-byte limit")
        }
        let headerLength = Int(declared)
        guard headerLength <= data.count - 8 else {
            throw .truncated(
                file: name, detail: "header length is \(headerLength) bytes but only \(data.count - 8) bytes follow")
        }
        guard headerLength >= 2 else {
            throw .malformedHeader(file: name, detail: "header length \(headerLength) is too small for a JSON object")
        }
        let parsed = data.withUnsafeBytes { raw in
            MiniJSONParser.parse(UnsafeRawBufferPointer(rebasing: raw[8..<(8 + headerLength)]))
        }
        let root: JSONValue
        switch parsed {
        case .success(let v): root = v
        case .failure(let f): throw .malformedHeader(file: name, detail: "invalid JSON: \(f.message)")
        }
        guard case .object(let members) = root else {
            throw .malformedHeader(file: name, detail: "header JSON is \(root.kind), expected an object")
        }

        let dataStart = 8 + headerLength
        let dataSize = data.count - dataStart
        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        for (key, value) in members {
            if key == "__metadata__" {
                guard case .object(let pairs) = value else {
                    throw .malformedHeader(
                        file: name, detail: "__metadata__ is \(value.kind), expected an object of strings")
                }
                for (k, v) in pairs {
                    guard case .string(let s) = v else {
                        throw .malformedHeader(
                            file: name, detail: "__metadata__ entry '\(k)' is \(v.kind), expected a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            entries.append(try parseEntry(key, value, dataSize: dataSize, file: name))
        }

        // No two tensors may share bytes.
        let sorted = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.begin < a.end {
            throw .malformedHeader(
                file: name,
                detail: "tensors '\(a.name)' [\(a.begin), \(a.end)) and '\(b.name)' [\(b.begin), \(b.end)) overlap")
        }

        var tensors: [String: Tensor] = [:]
        for e in entries {
            tensors[e.name] = Tensor(
                shape: e.shape,
                storage: decodeScalars(data, offset: dataStart + e.begin, count: e.count, type: e.type))
        }
        return File(tensors: tensors, metadata: metadata, sourceName: name)
    }

    private static func nonNegativeInts(_ value: JSONValue, field: String, tensor: String, file: String)
        throws(SequenceIOError) -> [Int]
    {
        guard case .array(let items) = value else {
            throw .malformedHeader(
                file: file, detail: "tensor '\(tensor)': \(field) is \(value.kind), expected an array of integers")
        }
        var out: [Int] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard case .number(let text) = item, let n = Int(text) else {
                let shown: String
                if case .number(let text) = item { shown = text } else { shown = item.kind }
                throw .malformedHeader(
                    file: file, detail: "tensor '\(tensor)': \(field) entry \(shown) is not an integer in range")
            }
            guard n >= 0 else {
                throw .malformedHeader(file: file, detail: "tensor '\(tensor)': \(field) entry \(n) is negative")
            }
            out.append(n)
        }
        return out
    }

    private static func parseEntry(_ key: String, _ value: JSONValue, dataSize: Int, file: String)
        throws(SequenceIOError) -> Entry
    {
        guard case .object(let fields) = value else {
            throw .malformedHeader(file: file, detail: "tensor '\(key)' is \(value.kind), expected an object")
        }
        let values = try headerFields(fields, ["dtype", "shape", "data_offsets"]) {
            .malformedHeader(file: file, detail: "tensor '\(key)': unexpected field '\($0)'")
        }
        guard let dtype = values[0], let shape = values[1], let offsets = values[2] else {
            throw .malformedHeader(file: file, detail: "tensor '\(key)' needs dtype, shape and data_offsets")
        }
        guard case .string(let dtypeName) = dtype else {
            throw .malformedHeader(file: file, detail: "tensor '\(key)': dtype is \(dtype.kind), expected a string")
        }
        let type: ScalarType
        switch dtypeName {
        case "F32": type = .float32
        case "F64": type = .float64
        default: throw .unsupportedDType(file: file, dtype: dtypeName, tensor: key)
        }
        let dims = try nonNegativeInts(shape, field: "shape", tensor: key, file: file)
        let range = try nonNegativeInts(offsets, field: "data_offsets", tensor: key, file: file)
        guard range.count == 2 else {
            throw .malformedHeader(
                file: file, detail: "tensor '\(key)': data_offsets has \(range.count) entries, expected 2")
        }
        let (begin, end) = (range[0], range[1])
        guard begin <= end else {
            throw .malformedHeader(
                file: file, detail: "tensor '\(key)': data_offsets [\(begin), \(end)) has begin after end")
        }
        guard end <= dataSize else {
            throw .truncated(
                file: file,
                detail: "tensor '\(key)': data_offsets [\(begin), \(end)) lie beyond the \(dataSize)-byte data section")
        }
        guard let count = Tensor.elementCount(of: dims) else {
            throw .sizeMismatch(
                file: file, detail: "tensor '\(key)': shape \(dims) has more elements than can be addressed")
        }
        let (needed, overflow) = count.multipliedReportingOverflow(by: type.byteSize)
        guard !overflow, needed == end - begin else {
            throw .sizeMismatch(
                file: file,
                detail:
                    "tensor '\(key)': shape \(dims) of \(dtypeName) needs \(overflow ? "too many" : String(needed)) bytes but data_offsets span \(end - begin)"
            )
        }
        return Entry(name: key, type: type, shape: dims, count: count, begin: begin, end: end)
    }

    /// Encodes `file`: tensors sorted by name and packed back to back, metadata (if any) first in the
    /// header, the header padded with spaces so the data section starts on an 8-byte boundary.
    ///
    /// Precondition: every tensor `isConsistent` and none is named `__metadata__`
    /// (``write(_:to:)`` checks and throws instead).
    public static func encode(_ file: File) -> Data {
        precondition(file.tensors["__metadata__"] == nil, "SafeTensors.encode: a tensor may not be named __metadata__")
        let names = file.tensors.keys.sorted()
        var header = "{"
        var first = true
        if !file.metadata.isEmpty {
            header += "\"__metadata__\":{"
            for (i, key) in file.metadata.keys.sorted().enumerated() {
                if i > 0 { header += "," }
                appendJSONString(key, to: &header)
                header += ":"
                appendJSONString(file.metadata[key]!, to: &header)
            }
            header += "}"
            first = false
        }
        var offset = 0
        for name in names {
            let t = file.tensors[name]!
            precondition(
                t.isConsistent, "SafeTensors.encode: tensor '\(name)' shape \(t.shape) does not match \(t.count) values"
            )
            let size = t.count * t.scalarType.byteSize
            if !first { header += "," }
            first = false
            appendJSONString(name, to: &header)
            header += ":{\"dtype\":\"\(t.scalarType == .float32 ? "F32" : "F64")\",\"shape\":["
            header += t.shape.map(String.init).joined(separator: ",")
            header += "],\"data_offsets\":[\(offset),\(offset + size)]}"
            offset += size
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        headerBytes.append(contentsOf: repeatElement(0x20, count: (8 - headerBytes.count % 8) % 8))
        var out = Data()
        out.reserveCapacity(8 + headerBytes.count + offset)
        appendLE(UInt64(headerBytes.count), to: &out)
        out.append(contentsOf: headerBytes)
        for name in names { appendScalars(file.tensors[name]!.storage, to: &out) }
        return out
    }

    /// Writes `file` to `url` atomically (see ``AtomicFile``).
    public static func write(_ file: File, to url: URL) throws(SequenceIOError) {
        let name = url.lastPathComponent
        if file.tensors["__metadata__"] != nil {
            throw .invalidArgument(file: name, detail: "a tensor may not be named __metadata__")
        }
        for (key, t) in file.tensors where !t.isConsistent {
            throw .invalidArgument(
                file: name,
                detail: "tensor '\(key)' shape \(describeShape(t.shape)) does not match its \(t.count) values")
        }
        try AtomicFile.write(encode(file), to: url)
    }
}
