import SequenceIO
import Testing

@Suite("Tensor")
struct TensorTests {
    @Test func conversionsAndCounts() {
        let d = Tensor(shape: [2, 2], float64: [0.1, 1e300, -2, 0.5])
        #expect(d.count == 4 && d.rank == 2 && d.scalarType == .float64)
        #expect(d.asFloat() == [Float(0.1), .infinity, -2, 0.5])
        let f = Tensor(shape: [3], float32: [0.1, -1, 2])
        #expect(f.asDouble() == [Double(Float(0.1)), -1, 2])
        #expect(f.storage == .float32([0.1, -1, 2]))
        #expect(ScalarType(rawValue: "float64") == .float64)
        #expect(ScalarType.float32.byteSize == 4)
    }

    @Test func elementCountRejectsNegativeAndOverflow() {
        #expect(Tensor.elementCount(of: []) == 1)
        #expect(Tensor.elementCount(of: [3, 0, 5]) == 0)
        #expect(Tensor.elementCount(of: [3, -1]) == nil)
        #expect(Tensor.elementCount(of: [Int.max, 2]) == nil)
        #expect(Tensor.elementCount(of: [1 << 32, 1 << 32]) == nil)
        var t = Tensor(shape: [2], float32: [1, 2])
        #expect(t.isConsistent)
        t.shape = [3]
        #expect(!t.isConsistent)
    }
}
