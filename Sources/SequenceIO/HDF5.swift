import CHDF5
import Foundation

/// HDF5 datasets through libhdf5: a recording `[T, m]` or `[B, T, m]` (also `[T]`) in, hidden
/// states out.
///
/// A dataset is named after the file, `file.h5:/group/dataset`; a file holding exactly one
/// dataset may be named alone. Float32 datasets are read as float32; float64 and integer
/// datasets (8 to 64 bits, signed or not; either byte order) are converted by the library to
/// float64. Other numeric layouts (odd precisions, half floats) are refused: a damaged file can
/// declare types on which libhdf5's conversions misbehave. Chunked and compressed (deflate) layouts are read by the library as they are.
/// At most ``maxElements`` values are read; the dataspace is checked before anything is
/// allocated. Any failure is one ``SequenceIOError`` naming the file and the dataset; HDF5's own
/// error-stack printing is turned off.
///
/// ```swift
/// let x = try HDF5.read(contentsOf: URL(fileURLWithPath: "lab.h5"), dataset: "/run1/x")
/// try HDF5.write(h, dataset: "/hidden", to: URL(fileURLWithPath: "out.h5"))  // temp file, then rename
/// ```
///
/// Every call into libhdf5 holds one process-wide lock (a serial build is not thread-safe).
/// libhdf5 is loaded with dlopen on first use (see `Sources/CHDF5/shim.h`): a `pararnn` run
/// without HDF5 files does not pay for loading it and its ~35 dependencies.
public enum HDF5 {
    /// File extensions taken as HDF5.
    public static let extensions: Set<String> = ["h5", "hdf5", "he5"]
    /// The most values one dataset may hold: 2^28 (1 GiB of float32).
    public static let maxElements = 1 << 28

    /// Splits `path` into an HDF5 file and a dataset path: `lab.h5:/run1/x` → (`lab.h5`, `/run1/x`),
    /// `lab.h5` → (`lab.h5`, nil); nil when `path` does not name an `.h5`/`.hdf5`/`.he5` file.
    /// The first `:` that follows such an extension and precedes `/` (or the end) splits.
    public static func location(_ path: String) -> (file: String, dataset: String?)? {
        var index = path.startIndex
        while let colon = path[index...].firstIndex(of: ":") {
            let file = String(path[..<colon])
            let rest = String(path[path.index(after: colon)...])
            if isHDF5Path(file), rest.isEmpty || rest.hasPrefix("/") { return (file, rest.isEmpty ? nil : rest) }
            index = path.index(after: colon)
        }
        return isHDF5Path(path) ? (path, nil) : nil
    }

    /// Whether `path` ends in an HDF5 extension (case-insensitive).
    public static func isHDF5Path(_ path: String) -> Bool {
        extensions.contains(URL(fileURLWithPath: path).pathExtension.lowercased())
    }

    /// Reads `dataset` (or the file's only dataset) of the HDF5 file at `url`.
    public static func read(contentsOf url: URL, dataset: String?) throws(SequenceIOError) -> Tensor {
        try readDescribed(contentsOf: url, dataset: dataset).tensor
    }

    /// Like ``read(contentsOf:dataset:)``, with the dataset's path and stored type (`int16`,
    /// `float64`, `uint8`, ...).
    public static func readDescribed(contentsOf url: URL, dataset: String?) throws(SequenceIOError) -> (
        tensor: Tensor, dataset: String, storedType: String
    ) {
        let name = url.lastPathComponent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw .unreadable(file: name, reason: isDirectory.boolValue ? "is a folder" : "no such file")
        }
        guard FileManager.default.isReadableFile(atPath: url.path) else {
            throw .unreadable(file: name, reason: "permission denied")
        }
        return try Library.locked(name: name) { () throws(SequenceIOError) in
            guard pararnn_H5Fis_hdf5(url.path) > 0 else { throw .badMagic(file: name, expected: "HDF5") }
            let file = pararnn_H5Fopen(url.path, pararnn_h5f_acc_rdonly(), pararnn_h5p_default())
            guard file >= 0 else { throw .malformedHeader(file: name, detail: "libhdf5 cannot open the file") }
            defer { pararnn_H5Fclose(file) }
            return try readDataset(file, dataset, name: name)
        }
    }

    /// Reads `dataset` (or the only dataset) of the HDF5 file held in `data`; `name` labels errors.
    public static func decode(_ data: Data, dataset: String?, name: String) throws(SequenceIOError) -> Tensor {
        try decodeDescribed(data, dataset: dataset, name: name).tensor
    }

    static func decodeDescribed(_ data: Data, dataset: String?, name: String) throws(SequenceIOError) -> (
        tensor: Tensor, dataset: String, storedType: String
    ) {
        guard data.count >= 8, data.prefix(8).elementsEqual([0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) else {
            throw .badMagic(file: name, expected: "HDF5")
        }
        return try Library.locked(name: name) { () throws(SequenceIOError) in
            let fapl = pararnn_H5Pcreate(pararnn_h5p_file_access())
            defer { pararnn_H5Pclose(fapl) }
            let bytes = [UInt8](data)
            let set = bytes.withUnsafeBytes { raw in
                // The property list keeps its own copy of the image.
                pararnn_H5Pset_fapl_core(fapl, 1 << 16, false) >= 0
                    && pararnn_H5Pset_file_image(fapl, UnsafeMutableRawPointer(mutating: raw.baseAddress), raw.count)
                        >= 0
            }
            guard set else { throw .malformedHeader(file: name, detail: "libhdf5 cannot take the file image") }
            let file = pararnn_H5Fopen("pararnn-image-\(UUID().uuidString).h5", pararnn_h5f_acc_rdonly(), fapl)
            guard file >= 0 else { throw .malformedHeader(file: name, detail: "libhdf5 cannot open the file") }
            defer { pararnn_H5Fclose(file) }
            return try readDataset(file, dataset, name: name)
        }
    }

    /// The paths of the datasets in the HDF5 file at `url` (e.g. `["/run1/x", "/y"]`).
    public static func datasets(in url: URL) throws(SequenceIOError) -> [String] {
        let name = url.lastPathComponent
        return try Library.locked(name: name) { () throws(SequenceIOError) in
            guard pararnn_H5Fis_hdf5(url.path) > 0 else { throw .badMagic(file: name, expected: "HDF5") }
            let file = pararnn_H5Fopen(url.path, pararnn_h5f_acc_rdonly(), pararnn_h5p_default())
            guard file >= 0 else { throw .malformedHeader(file: name, detail: "libhdf5 cannot open the file") }
            defer { pararnn_H5Fclose(file) }
            return datasetPaths(file)
        }
    }

    /// `tensor` (any rank ≥ 1) as the bytes of a new HDF5 file holding it as `dataset`
    /// (little-endian IEEE float32 or float64, as stored in the tensor); groups on the path are
    /// created. `chunkRows` stores it chunked, `chunkRows` outer rows a chunk (the chunk spans
    /// the other dimensions), compressed by deflate at `deflateLevel` (0–9) when given.
    public static func encode(
        _ tensor: Tensor, dataset: String, name: String = "", chunkRows: Int? = nil, deflateLevel: Int? = nil
    ) throws(SequenceIOError) -> Data {
        try checkDatasetPath(dataset, name: name)
        guard tensor.isConsistent, !tensor.shape.isEmpty else {
            throw .invalidArgument(
                file: name, detail: "tensor shape \(describeShape(tensor.shape)) cannot be stored as an HDF5 dataset")
        }
        if let chunkRows, chunkRows < 1 { throw .invalidArgument(file: name, detail: "chunk rows must be at least 1") }
        if let deflateLevel, !(0...9).contains(deflateLevel) {
            throw .invalidArgument(file: name, detail: "deflate level must lie in 0-9")
        }
        return try Library.locked(name: name, writing: true) { () throws(SequenceIOError) in
            var handles = Handles()
            defer { handles.closeAll() }
            func fail(_ what: String) -> SequenceIOError {
                .writeFailed(file: name, reason: "libhdf5: \(what) failed for dataset \(dataset)")
            }
            let fapl = pararnn_H5Pcreate(pararnn_h5p_file_access())
            guard fapl >= 0 else { throw fail("creating a file access list") }
            handles.add(fapl, pararnn_H5Pclose)
            guard pararnn_H5Pset_fapl_core(fapl, 1 << 20, false) >= 0 else {
                throw fail("choosing the in-memory driver")
            }
            let file = pararnn_H5Fcreate(
                "pararnn-out-\(UUID().uuidString).h5", pararnn_h5f_acc_trunc(), pararnn_h5p_default(), fapl)
            guard file >= 0 else { throw fail("creating the file") }
            handles.add(file, pararnn_H5Fclose)
            let lcpl = pararnn_H5Pcreate(pararnn_h5p_link_create())
            guard lcpl >= 0, pararnn_H5Pset_create_intermediate_group(lcpl, 1) >= 0 else {
                throw fail("creating a link list")
            }
            handles.add(lcpl, pararnn_H5Pclose)
            let dims = tensor.shape.map { hsize_t($0) }
            let space = pararnn_H5Screate_simple(Int32(dims.count), dims, nil)
            guard space >= 0 else { throw fail("creating the dataspace") }
            handles.add(space, pararnn_H5Sclose)
            var dcpl = pararnn_h5p_default()
            if let chunkRows {
                dcpl = pararnn_H5Pcreate(pararnn_h5p_dataset_create())
                guard dcpl >= 0 else { throw fail("creating a dataset creation list") }
                handles.add(dcpl, pararnn_H5Pclose)
                var chunk = dims.map { max(1, $0) }
                chunk[0] = hsize_t(min(chunkRows, max(1, tensor.shape[0])))
                guard pararnn_H5Pset_chunk(dcpl, Int32(chunk.count), chunk) >= 0 else {
                    throw fail("setting the chunk shape")
                }
                if let deflateLevel, pararnn_H5Pset_deflate(dcpl, UInt32(deflateLevel)) < 0 {
                    throw fail("setting deflate")
                }
            }
            let single = tensor.scalarType == .float32
            let fileType = single ? pararnn_h5t_ieee_f32le() : pararnn_h5t_ieee_f64le()
            let memoryType = single ? pararnn_h5t_native_float() : pararnn_h5t_native_double()
            let set = pararnn_H5Dcreate2(file, dataset, fileType, space, lcpl, dcpl, pararnn_h5p_default())
            guard set >= 0 else { throw fail("creating the dataset") }
            handles.add(set, pararnn_H5Dclose)
            let status: herr_t
            switch tensor.storage {
            case .float32(let v):
                status = v.withUnsafeBytes {
                    pararnn_H5Dwrite(
                        set, memoryType, pararnn_h5s_all(), pararnn_h5s_all(), pararnn_h5p_default(), $0.baseAddress)
                }
            case .float64(let v):
                status = v.withUnsafeBytes {
                    pararnn_H5Dwrite(
                        set, memoryType, pararnn_h5s_all(), pararnn_h5s_all(), pararnn_h5p_default(), $0.baseAddress)
                }
            }
            guard status >= 0 else { throw fail("writing the values") }
            handles.closeAll(keeping: file)
            guard pararnn_H5Fflush(file, H5F_SCOPE_GLOBAL) >= 0 else { throw fail("flushing the file") }
            let size = pararnn_H5Fget_file_image(file, nil, 0)
            guard size > 0 else { throw fail("taking the file image") }
            var image = Data(count: size)
            let got = image.withUnsafeMutableBytes { pararnn_H5Fget_file_image(file, $0.baseAddress, size) }
            guard got == size else { throw fail("taking the file image") }
            return image
        }
    }

    /// Writes `tensor` as `dataset` of a new HDF5 file at `url`, atomically (a temporary file in
    /// the same folder, then a rename; nothing is left on failure).
    public static func write(
        _ tensor: Tensor, dataset: String, to url: URL, chunkRows: Int? = nil, deflateLevel: Int? = nil
    ) throws(SequenceIOError) {
        let name = url.lastPathComponent
        try AtomicFile.write(
            try encode(tensor, dataset: dataset, name: name, chunkRows: chunkRows, deflateLevel: deflateLevel), to: url)
    }

    // MARK: - Reading

    /// Whether `dataset` is an absolute dataset path: `/name` or `/group/.../name`, no empty,
    /// `.` or `..` parts, at most 1024 bytes.
    public static func isDatasetPath(_ dataset: String) -> Bool {
        let parts = dataset.split(separator: "/", omittingEmptySubsequences: false)
        return dataset.hasPrefix("/") && parts.count >= 2
            && parts.dropFirst().allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." })
            && !dataset.contains("\0") && dataset.utf8.count <= 1024
    }

    static func checkDatasetPath(_ dataset: String, name: String) throws(SequenceIOError) {
        guard isDatasetPath(dataset) else {
            throw .invalidArgument(
                file: name, detail: "'\(dataset.prefix(80))' is not a dataset path such as /hidden or /group/data")
        }
    }

    /// The dataset `path` (or the only one) of the open `file` as a tensor. Holds the lock.
    private static func readDataset(_ file: hid_t, _ requested: String?, name: String) throws(SequenceIOError) -> (
        tensor: Tensor, dataset: String, storedType: String
    ) {
        let path: String
        if let given = requested { path = given } else { path = try onlyDataset(file, name: name) }
        try checkDatasetPath(path, name: name)
        let label = "dataset \(path)"
        guard linkExists(file, path) else {
            throw missing(file, path, name: name)
        }
        let set = pararnn_H5Dopen2(file, path, pararnn_h5p_default())
        guard set >= 0 else {
            throw .invalidArgument(file: name, detail: "\(path) is not a dataset (a group?)\(listing(file))")
        }
        defer { pararnn_H5Dclose(set) }
        let type = pararnn_H5Dget_type(set)
        let space = pararnn_H5Dget_space(set)
        defer {
            if type >= 0 { pararnn_H5Tclose(type) }
            if space >= 0 { pararnn_H5Sclose(space) }
        }
        guard type >= 0, space >= 0 else {
            throw .malformedHeader(file: name, detail: "\(label): unreadable type or dataspace")
        }
        let typeClass = pararnn_H5Tget_class(type)
        let size = pararnn_H5Tget_size(type)
        guard typeClass == H5T_INTEGER || typeClass == H5T_FLOAT else {
            throw .invalidArgument(
                file: name, detail: "\(label) holds \(className(typeClass)); expected numbers (float or integer)")
        }
        guard pararnn_h5t_is_standard_number(type) == 1 else {
            let detail =
                "\(typeClass == H5T_FLOAT ? "floats" : "integers") of \(size) bytes with \(pararnn_H5Tget_precision(type)) bits of precision at bit offset \(pararnn_H5Tget_offset(type))"
            throw .invalidArgument(
                file: name,
                detail: "\(label) holds \(detail); expected a standard type (8-64-bit integers, float32, float64)")
        }
        let rank = Int(pararnn_H5Sget_simple_extent_ndims(space))
        guard (1...3).contains(rank), pararnn_H5Sget_simple_extent_type(space) == H5S_SIMPLE else {
            throw .sizeMismatch(file: name, detail: "\(label) has rank \(max(rank, 0)); expected [T, m] or [B, T, m]")
        }
        var dims = [hsize_t](repeating: 0, count: rank)
        guard pararnn_H5Sget_simple_extent_dims(space, &dims, nil) == Int32(rank) else {
            throw .malformedHeader(file: name, detail: "\(label): unreadable dataspace")
        }
        let shown = "(" + dims.map(String.init).joined(separator: ", ") + ")"
        var count = 1
        for d in dims {
            guard d <= UInt64(maxElements) else {
                throw .sizeMismatch(file: name, detail: "\(label) has shape \(shown), more than \(maxElements) values")
            }
            count *= Int(d)
            guard count <= maxElements else {
                throw .sizeMismatch(file: name, detail: "\(label) has shape \(shown), more than \(maxElements) values")
            }
        }
        let shape = dims.map { Int($0) }
        guard count > 0 else {
            throw .sizeMismatch(file: name, detail: "\(label) has shape \(shown), which holds no values")
        }
        /// All of the dataset's values converted by libhdf5 to the native type `memoryType`.
        func values<F: BinaryFloatingPoint>(_ memoryType: hid_t) -> (herr_t, [F]) {
            var values = [F](repeating: 0, count: count)
            let status = values.withUnsafeMutableBytes {
                pararnn_H5Dread(
                    set, memoryType, pararnn_h5s_all(), pararnn_h5s_all(), pararnn_h5p_default(), $0.baseAddress)
            }
            return (status, values)
        }
        let status: herr_t
        let storage: Tensor.Storage
        if typeClass == H5T_FLOAT, size == 4 {
            let (read, floats): (herr_t, [Float]) = values(pararnn_h5t_native_float())
            (status, storage) = (read, .float32(floats))
        } else {
            let (read, doubles): (herr_t, [Double]) = values(pararnn_h5t_native_double())
            (status, storage) = (read, .float64(doubles))
        }
        guard status >= 0 else {
            throw .truncated(
                file: name, detail: "\(label): libhdf5 could not read its values (damaged chunk or missing filter)")
        }
        let bits = 8 * size
        let stored =
            typeClass == H5T_FLOAT
            ? "float\(bits)" : (pararnn_H5Tget_sign(type) == H5T_SGN_NONE ? "uint\(bits)" : "int\(bits)")
        return (Tensor(shape: shape, storage: storage), path, stored)
    }

    /// The only dataset of `file`, or an error listing them.
    private static func onlyDataset(_ file: hid_t, name: String) throws(SequenceIOError) -> String {
        let paths = datasetPaths(file)
        if paths.count == 1 { return paths[0] }
        if paths.isEmpty { throw .missingTensor(file: name, name: "(any dataset: the file holds none)") }
        throw .invalidArgument(
            file: name, detail: "holds \(paths.count) datasets; name one as \(name):/path\(listing(file))")
    }

    /// Whether every link on `path` exists (H5Lexists checks only the last one).
    private static func linkExists(_ file: hid_t, _ path: String) -> Bool {
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += "/" + part
            guard pararnn_H5Lexists(file, prefix, pararnn_h5p_default()) > 0 else { return false }
        }
        return true
    }

    private static func missing(_ file: hid_t, _ path: String, name: String) -> SequenceIOError {
        .invalidArgument(file: name, detail: "no dataset \(path)\(listing(file))")
    }

    /// " (datasets: /a, /b, …)" — at most 8 — or "" when the file holds none.
    private static func listing(_ file: hid_t) -> String {
        let paths = datasetPaths(file)
        guard !paths.isEmpty else { return " (the file holds no datasets)" }
        return " (datasets: " + paths.prefix(8).joined(separator: ", ") + (paths.count > 8 ? ", …" : "") + ")"
    }

    private final class NameList { var names: [String] = [] }

    /// Every dataset's absolute path in `file`, in name order (at most 10,000 links visited).
    private static func datasetPaths(_ file: hid_t) -> [String] {
        let list = NameList()
        _ = withExtendedLifetime(list) {
            pararnn_h5_visit_links(
                file,
                { name, context in
                    guard let name, let context else { return }
                    let list = Unmanaged<NameList>.fromOpaque(context).takeUnretainedValue()
                    if list.names.count < 10_000 { list.names.append(String(cString: name)) }
                }, Unmanaged.passUnretained(list).toOpaque())
        }
        return list.names.filter { link in
            guard pararnn_H5Oexists_by_name(file, link, pararnn_h5p_default()) > 0 else { return false }
            let set = pararnn_H5Dopen2(file, link, pararnn_h5p_default())
            guard set >= 0 else { return false }
            pararnn_H5Dclose(set)
            return true
        }.map { "/" + $0 }
    }

    private static func className(_ c: H5T_class_t) -> String {
        switch c {
        case H5T_STRING: return "strings"
        case H5T_COMPOUND: return "compound records"
        case H5T_ENUM: return "enum values"
        case H5T_BITFIELD: return "bit fields"
        case H5T_OPAQUE: return "opaque bytes"
        case H5T_REFERENCE: return "references"
        case H5T_ARRAY: return "array elements"
        case H5T_VLEN: return "variable-length elements"
        case H5T_TIME: return "time values"
        default: return "type class \(c.rawValue)"
        }
    }

    /// Runs `body` holding the lock every call into libhdf5 here holds (for code that calls the
    /// C library directly in the same process, e.g. tests writing unusual files; such a module
    /// calls `pararnn_h5_load()` of its own import of CHDF5 first).
    public static func withLibraryLock<T>(_ body: () throws -> T) rethrows -> T {
        try Library.withLock(body)
    }

    /// HDF5 ids to close in reverse order of opening.
    private struct Handles {
        var open: [(hid_t, (hid_t) -> herr_t)] = []
        mutating func add(_ id: hid_t, _ close: @escaping (hid_t) -> herr_t) { open.append((id, close)) }
        /// Closes everything (but `keeping`, if given, which stays listed).
        mutating func closeAll(keeping: hid_t? = nil) {
            var kept: [(hid_t, (hid_t) -> herr_t)] = []
            for (id, close) in open.reversed() {
                if id == keeping { kept.append((id, close)) } else { _ = close(id) }
            }
            open = kept
        }
    }

    /// The process-wide lock around libhdf5 (a serial build is not thread-safe).
    enum Library {
        private static let lock = NSLock()
        /// Holds the lock; loads libhdf5 (dlopen, once) and silences its error printing when it can.
        static func withLock<T>(_ body: () throws -> T) rethrows -> T {
            lock.lock()
            defer { lock.unlock() }
            if pararnn_h5_load() == nil { pararnn_h5_silence() }
            return try body()
        }

        /// Holds the lock around `body`, with libhdf5 loaded (else an error naming `name`) and its
        /// error printing silenced (per thread in a thread-safe build: on each entry).
        static func locked<T>(name: String, writing: Bool = false, _ body: () throws(SequenceIOError) -> T)
            throws(SequenceIOError) -> T
        {
            lock.lock()
            defer { lock.unlock() }
            if let failure = pararnn_h5_load() {
                let reason = String(cString: failure)
                throw writing ? .writeFailed(file: name, reason: reason) : .unreadable(file: name, reason: reason)
            }
            pararnn_h5_silence()
            return try body()
        }
    }
}
