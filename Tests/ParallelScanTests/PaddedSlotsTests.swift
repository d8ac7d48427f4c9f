import Testing

@testable import ParallelScan

/// Per-chunk rows of the parallel scans: each on its own 128-byte boundary, never sharing a
/// cache line with another row.
@Suite("Padded per-chunk rows")
struct PaddedSlotsTests {
    func check<E>(_ type: E.Type, count: Int, slots: Int) {
        let rows = PaddedSlots<E>(slots: slots, count: count)
        defer { rows.deallocate() }
        let size = MemoryLayout<E>.stride
        #expect(rows.stride >= count)
        let aligned = 128 % size == 0
        for c in 0..<slots {
            let start = Int(bitPattern: UnsafeRawPointer(rows[c]))
            let end = start + count * size
            if aligned { #expect(start % 128 == 0) }
            if c + 1 < slots {
                // Rows never share a 128-byte unit: aligned rows end before the next unit,
                // others leave a gap of at least 128 bytes.
                let next = Int(bitPattern: UnsafeRawPointer(rows[c + 1]))
                let gap = next - end
                let lastUnit = (end - 1) / 128
                if aligned { #expect(lastUnit < next / 128) } else { #expect(gap >= 128) }
            }
        }
    }

    @Test("rows start on 128-byte boundaries and cover their elements")
    func layout() {
        check(Float.self, count: 1, slots: 5)
        check(Float.self, count: 32, slots: 17)
        check(Float.self, count: 144, slots: 9)
        check(Double.self, count: 33, slots: 3)
        check(SIMD3<Float>.self, count: 7, slots: 4)
        check((Float, Float, Float).self, count: 5, slots: 4)
    }

    @Test("filled rows hold their values, padding included")
    func filled() {
        let rows = PaddedSlots<Float>(slots: 3, count: 10, repeating: 2)
        defer { rows.deallocate() }
        #expect(rows.stride == 32)
        for c in 0..<3 { rows[c][9] = Float(c) }
        let values: [Float] = (0..<(3 * rows.stride)).map { rows.base[$0] }
        let twos = values.filter { $0 == 2 }.count
        #expect(twos == 3 * 32 - 2)
        #expect(rows[0][9] == 0)
        #expect(rows[1][9] == 1)
    }
}
