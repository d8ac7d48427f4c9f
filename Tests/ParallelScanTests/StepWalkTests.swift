import Testing

@testable import ParallelScan

@Suite("The scan kernels' step walk")
struct StepWalkTests {
    @Test func walksForwardAndBackward() {
        var seen: [Int] = []
        forEachStep(of: 2..<5, reverse: false) { seen.append($0) }
        #expect(seen == [2, 3, 4])
        seen = []
        forEachStep(of: 2..<5, reverse: true) { seen.append($0) }
        #expect(seen == [4, 3, 2])
        forEachStep(of: 3..<3, reverse: true) { _ in Issue.record("a step of an empty range") }
    }
}
