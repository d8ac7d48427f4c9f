import CHDF5
import Foundation
import SequenceIO
import Testing

/// Writes an HDF5 file at `url` through the C API directly (hostile layouts our writer never
/// makes); `body` gets the open file id. libhdf5 is serial: this holds the reader's lock.
private func makeFile(_ url: URL, _ body: (hid_t) -> Void) {
    HDF5.withLibraryLock {
        precondition(pararnn_h5_load() == nil)
        pararnn_h5_silence()
        let file = pararnn_H5Fcreate(url.path, pararnn_h5f_acc_trunc(), pararnn_h5p_default(), pararnn_h5p_default())
        precondition(file >= 0)
        body(file)
        pararnn_H5Fclose(file)
    }
}

private func space(_ dims: [hsize_t], max: [hsize_t]? = nil) -> hid_t {
    pararnn_H5Screate_simple(Int32(dims.count), dims, max)
}

@Suite("HDF5")
struct HDF5Tests {
    /// A file written by h5import (scripts/make_hdf5_fixtures.sh), not by pararnn: float64,
    /// big-endian int16, uint8, and a chunked gzip float32 3-D dataset in a nested group.
    @Test func readsTheToolsFixture() throws {
        let url = try fixture("hdf5/tools.h5")
        let x = try HDF5.read(contentsOf: url, dataset: "/x")
        #expect(x.shape == [6, 3] && x.scalarType == .float64)
        #expect(x.asDouble() == (0..<18).map { Double($0) / 4 - 2 })
        let counts = try HDF5.read(contentsOf: url, dataset: "/group/counts")
        #expect(counts.shape == [6, 3] && counts.scalarType == .float64)
        #expect(counts.asDouble() == (0..<18).map { Double($0 - 9) })
        #expect(try HDF5.read(contentsOf: url, dataset: "/group/bytes").asDouble() == (0..<18).map { Double($0) })
        let batch = try HDF5.read(contentsOf: url, dataset: "/group/deep/batch")
        #expect(batch.shape == [2, 4, 3] && batch.scalarType == .float32)
        var expected: [Float] = []
        for b in 0..<2 { for k in 0..<12 { expected.append(Float(b * 100 + k) - 0.5) } }
        #expect(batch.asFloat() == expected)
        #expect(try HDF5.datasets(in: url) == ["/group/bytes", "/group/counts", "/group/deep/batch", "/x"])

        let read = try SequenceInput.read(contentsOf: url, table: TableOptions(), dataset: "/group/counts")
        #expect(read.notes == ["dataset /group/counts, int16 read as float64"])
        #expect(
            try SequenceInput.read(contentsOf: url, table: TableOptions(), dataset: "/x").notes == [
                "dataset /x, float64"
            ])
        // The same bytes from memory.
        #expect(try HDF5.decode(fixtureData("hdf5/tools.h5"), dataset: "/group/deep/batch", name: "tools.h5") == batch)
    }

    @Test func locations() {
        #expect(HDF5.location("lab.h5:/run1/x")! == ("lab.h5", "/run1/x"))
        #expect(HDF5.location("dir/LAB.HDF5:/x")! == ("dir/LAB.HDF5", "/x"))
        #expect(HDF5.location("lab.h5")! == ("lab.h5", nil))
        #expect(HDF5.location("lab.h5:")! == ("lab.h5", nil))
        #expect(HDF5.location("a:b/lab.h5:/x")! == ("a:b/lab.h5", "/x"))
        #expect(HDF5.location("x.npy") == nil)
        #expect(HDF5.location("x.npy:/a") == nil)
        #expect(
            HDF5.isDatasetPath("/a/b") && !HDF5.isDatasetPath("a") && !HDF5.isDatasetPath("/a//b")
                && !HDF5.isDatasetPath("/"))
    }

    /// Our writer's files read back bitwise: 2-D float32, 3-D float64 in a group, chunked and
    /// deflated; the only dataset is found without a name.
    @Test func roundTrips() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        var rng = SplitMix64(seed: 5)
        let f32 = Tensor(shape: [37, 3], float32: (0..<111).map { _ in Float.random(in: -3...3, using: &rng) })
        let f64 = Tensor(shape: [2, 19, 4], float64: (0..<152).map { _ in Double.random(in: -1e6...1e6, using: &rng) })
        try HDF5.write(f32, dataset: "/hidden", to: dir.file("a.h5"))
        #expect(try HDF5.read(contentsOf: dir.file("a.h5"), dataset: "/hidden") == f32)
        #expect(try HDF5.read(contentsOf: dir.file("a.h5"), dataset: nil) == f32)
        try HDF5.write(f64, dataset: "/run/1/h", to: dir.file("b.hdf5"), chunkRows: 1, deflateLevel: 4)
        #expect(try HDF5.read(contentsOf: dir.file("b.hdf5"), dataset: "/run/1/h") == f64)
        #expect(try HDF5.datasets(in: dir.file("b.hdf5")) == ["/run/1/h"])
        // Replacing a file is atomic: the new contents, no temporary files left.
        try HDF5.write(f64, dataset: "/hidden", to: dir.file("a.h5"))
        #expect(try HDF5.read(contentsOf: dir.file("a.h5"), dataset: nil) == f64)
        #expect(try dir.contents() == ["a.h5", "b.hdf5"])
        // Integer datasets written through the C API convert (int16 → float64 exactly).
        let ints: [Int16] = [-32768, -1, 0, 1, 32767, 12345]
        makeFile(dir.file("i.h5")) { file in
            let s = space([3, 2])
            let d = pararnn_H5Dcreate2(
                file, "/i", pararnn_h5t_std_i16le(), s, pararnn_h5p_default(), pararnn_h5p_default(),
                pararnn_h5p_default())
            _ = ints.withUnsafeBytes {
                pararnn_H5Dwrite(
                    d, pararnn_h5t_native_int16(), pararnn_h5s_all(), pararnn_h5s_all(), pararnn_h5p_default(),
                    $0.baseAddress)
            }
            pararnn_H5Dclose(d)
            pararnn_H5Sclose(s)
        }
        #expect(try HDF5.read(contentsOf: dir.file("i.h5"), dataset: "/i").asDouble() == ints.map { Double($0) })
    }

    /// Missing dataset, a group, wrong rank, huge or empty dimensions, strings, not HDF5, a
    /// folder, damaged bytes: one line naming the file (and the dataset), nothing else.
    @Test func hostileInputs() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let tools = try fixture("hdf5/tools.h5")
        let missing = expectError("invalidArgument", file: "tools.h5") { () throws(SequenceIOError) in
            try HDF5.read(contentsOf: tools, dataset: "/nope")
        }
        #expect(
            missing?.description
                == "tools.h5: no dataset /nope (datasets: /group/bytes, /group/counts, /group/deep/batch, /x)")
        expectError("invalidArgument", file: "tools.h5") { () throws(SequenceIOError) in
            try HDF5.read(contentsOf: tools, dataset: "/x/y")
        }
        let group = expectError("invalidArgument", file: "tools.h5") { () throws(SequenceIOError) in
            try HDF5.read(contentsOf: tools, dataset: "/group")
        }
        #expect(group?.description.contains("/group is not a dataset") == true)
        let several = expectError("invalidArgument", file: "tools.h5") { () throws(SequenceIOError) in
            try HDF5.read(contentsOf: tools, dataset: nil)
        }
        #expect(several?.description.contains("holds 4 datasets; name one as tools.h5:/path") == true)
        expectError("invalidArgument", file: "tools.h5") { () throws(SequenceIOError) in
            try HDF5.read(contentsOf: tools, dataset: "x")
        }

        makeFile(dir.file("bad.h5")) { file in
            let dcpl = pararnn_H5Pcreate(pararnn_h5p_dataset_create())
            var chunk: [hsize_t] = [1, 1]
            pararnn_H5Pset_chunk(dcpl, 2, &chunk)
            let huge = space([1 << 20, 1 << 20])  // chunked, never written: nothing stored
            pararnn_H5Dclose(
                pararnn_H5Dcreate2(
                    file, "/huge", pararnn_h5t_ieee_f32le(), huge, pararnn_h5p_default(), dcpl, pararnn_h5p_default()))
            let empty = space([0, 3])
            pararnn_H5Dclose(
                pararnn_H5Dcreate2(
                    file, "/empty", pararnn_h5t_ieee_f32le(), empty, pararnn_h5p_default(), pararnn_h5p_default(),
                    pararnn_h5p_default()))
            let four = space([1, 1, 1, 2])
            pararnn_H5Dclose(
                pararnn_H5Dcreate2(
                    file, "/rank4", pararnn_h5t_ieee_f64le(), four, pararnn_h5p_default(), pararnn_h5p_default(),
                    pararnn_h5p_default()))
            let scalar = pararnn_H5Screate(H5S_SCALAR)
            pararnn_H5Dclose(
                pararnn_H5Dcreate2(
                    file, "/scalar", pararnn_h5t_ieee_f64le(), scalar, pararnn_h5p_default(), pararnn_h5p_default(),
                    pararnn_h5p_default()))
            let text = pararnn_H5Tcopy(pararnn_h5t_c_s1())
            pararnn_H5Tset_size(text, 8)
            let two = space([2, 2])
            pararnn_H5Dclose(
                pararnn_H5Dcreate2(
                    file, "/text", text, two, pararnn_h5p_default(), pararnn_h5p_default(), pararnn_h5p_default()))
            for id in [huge, empty, four, scalar, two] { pararnn_H5Sclose(id) }
            pararnn_H5Tclose(text)
            pararnn_H5Pclose(dcpl)
        }
        let bad = dir.file("bad.h5")
        let cases: [(String, String, String)] = [
            ("/huge", "sizeMismatch", "dataset /huge has shape (1048576, 1048576), more than 268435456 values"),
            ("/empty", "sizeMismatch", "dataset /empty has shape (0, 3), which holds no values"),
            ("/rank4", "sizeMismatch", "dataset /rank4 has rank 4; expected [T, m] or [B, T, m]"),
            ("/scalar", "sizeMismatch", "dataset /scalar has rank 0; expected [T, m] or [B, T, m]"),
            ("/text", "invalidArgument", "dataset /text holds strings; expected numbers (float or integer)"),
        ]
        for (dataset, kind, message) in cases {
            let e = expectError(kind, file: "bad.h5") { () throws(SequenceIOError) in
                try HDF5.read(contentsOf: bad, dataset: dataset)
            }
            #expect(e?.description == "bad.h5: " + message)
        }
        // Not HDF5, a folder, no file.
        try Data("a,b\n1,2\n".utf8).write(to: dir.file("table.h5"))
        #expect(
            caught { () throws(SequenceIOError) in try HDF5.read(contentsOf: dir.file("table.h5"), dataset: "/x") }
                == .badMagic(file: "table.h5", expected: "HDF5"))
        try FileManager.default.createDirectory(at: dir.file("folder.h5"), withIntermediateDirectories: false)
        expectError("unreadable", file: "folder.h5") { () throws(SequenceIOError) in
            try HDF5.read(contentsOf: dir.file("folder.h5"), dataset: nil)
        }
        expectError("unreadable", file: "none.h5") { () throws(SequenceIOError) in
            try HDF5.read(contentsOf: dir.file("none.h5"), dataset: nil)
        }
        // Every prefix of the tools file: an error line or (the whole file) the values.
        let data = try fixtureData("hdf5/tools.h5")
        for cut in stride(from: 0, to: data.count, by: 97) {
            let e = caught { () throws(SequenceIOError) in
                try HDF5.decode(data.prefix(cut), dataset: "/group/deep/batch", name: "cut.h5")
            }
            #expect(
                e?.description.hasPrefix("cut.h5: ") == true && e?.description.contains("\n") == false,
                "cut \(cut): \(String(describing: e))")
        }
        // A writer error leaves nothing: an unwritable target folder, an invalid dataset path.
        let nowhere = dir.file("missing/out.h5")
        expectError("writeFailed", file: "out.h5") { () throws(SequenceIOError) in
            try HDF5.write(Tensor(shape: [1, 1], float32: [0]), dataset: "/h", to: nowhere)
        }
        expectError("invalidArgument", file: "o.h5") { () throws(SequenceIOError) in
            try HDF5.write(Tensor(shape: [1, 1], float32: [0]), dataset: "h", to: dir.file("o.h5"))
        }
        #expect(try dir.contents() == ["bad.h5", "folder.h5", "table.h5"])
    }
}
