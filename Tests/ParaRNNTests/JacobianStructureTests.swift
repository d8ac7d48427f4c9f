import ParaRNN
import ParallelScan
import Testing

@Suite("JacobianStructure → the affine scan a Newton step needs")
struct JacobianStructureTests {
    @Test("each structure maps to its scan shape over a state row of B·n values")
    func scanShapes() {
        #expect(JacobianStructure.diagonal.scanShape(batch: 3, stateSize: 4) == .diagonal(lanes: 12))
        #expect(
            JacobianStructure.blockDiagonal(2).scanShape(batch: 4, stateSize: 16)
                == .blockDiagonal(blocks: 32, blockSize: 2))
        #expect(JacobianStructure.dense.scanShape(batch: 2, stateSize: 6) == .dense(batch: 2, dimension: 6))
        for (structure, shape) in [
            (JacobianStructure.diagonal, ScanShape.diagonal(lanes: 10)),
            (.blockDiagonal(2), .blockDiagonal(blocks: 5, blockSize: 2)), (.dense, .dense(batch: 2, dimension: 5)),
        ] {
            #expect(structure.scanShape(batch: 2, stateSize: 5) == shape)
            #expect(shape.statesPerStep == 10)
        }
    }
}
