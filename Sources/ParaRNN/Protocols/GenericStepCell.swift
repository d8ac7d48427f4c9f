import ParallelScan

/// A cell whose step function is written once, generically over ``CellNumber``.
///
/// Conforming gives a working ``RecurrentCell/linearize(steps:batch:previous:states:projections:values:jacobians:request:)``
/// for free: values come from `step` on plain numbers, Jacobians from `step` on ``Dual``
/// numbers (one evaluation per Jacobian column: 1 for diagonal, k for k×k blocks, n for dense).
/// The built-in cells override it with hand-written vectorised kernels, and the tests check
/// those against this generic path.
///
/// The per-sequence vectors `step` works on:
/// - `state`: `stateSize` values, plane-major (`[k][d]` for block cells, `[stateSize]` else);
/// - `projection`: `[G][d]`, this sequence's gate pre-activations u_t = W x_t + bias.
public protocol GenericStepCell: RecurrentCell {
    /// f(s, u) for one sequence: returns the next state.
    func step<T: CellNumber>(state: [T], projection: [T]) -> [T] where T.Base == Scalar
}

extension GenericStepCell {
    public func linearize(
        steps: Range<Int>, batch: Int, previous: UnsafePointer<Scalar>,
        states: UnsafePointer<Scalar>, projections: UnsafePointer<Scalar>,
        values: UnsafeMutablePointer<Scalar>, jacobians: UnsafeMutablePointer<Scalar>?,
        request: JacobianRequest
    ) {
        genericLinearize(
            steps: steps, batch: batch, previous: previous, states: states,
            projections: projections, values: values, jacobians: jacobians, request: request)
    }

    /// The dual-number linearisation (see ``GenericStepCell``); public so that tests and
    /// custom cells can compare hand-written kernels against it.
    public func genericLinearize(
        steps: Range<Int>, batch: Int, previous: UnsafePointer<Scalar>,
        states: UnsafePointer<Scalar>, projections: UnsafePointer<Scalar>,
        values: UnsafeMutablePointer<Scalar>, jacobians: UnsafeMutablePointer<Scalar>?,
        request: JacobianRequest
    ) {
        let n = stateSize
        let d = hiddenSize
        let g = gateCount
        let row = stateRowSize(batch: batch)
        let urow = projectionRowSize(batch: batch)
        let jrow = jacobianRowSize(batch: batch, request: request)
        let layout = StateLayout(structure: structure, stateSize: n, hiddenSize: d, batch: batch)
        for t in steps {
            let prev = t == steps.lowerBound ? previous : states + (t - 1) * row
            for b in 0..<batch {
                let s = (0..<n).map { prev[layout.index(entry: b, value: $0)] }
                let u = (0..<(g * d)).map { i in projections[t * urow + ((i / d) * batch + b) * d + i % d] }
                let next = step(state: s, projection: u)
                for i in 0..<n { values[t * row + layout.index(entry: b, value: i)] = next[i] }
                guard let jac = jacobians else { continue }
                let jt = jac + t * jrow
                let columns: [[Int]]
                if request == .diagonalOnly || structure == .dense {
                    columns = (0..<n).map { [$0] }
                } else if case .blockDiagonal(let k) = structure {
                    columns = (0..<k).map { c in (0..<d).map { c * d + $0 } }
                } else {
                    columns = [Array(0..<n)]
                }
                for seeds in columns {
                    var tangents = [Scalar](repeating: 0, count: n)
                    for i in seeds { tangents[i] = 1 }
                    let ds = (0..<n).map { Dual(value: s[$0], tangent: tangents[$0]) }
                    let out = step(state: ds, projection: u.map { Dual($0) })
                    for i in 0..<n {
                        let derivative = out[i].tangent
                        switch (request, structure) {
                        case (.diagonalOnly, _):
                            if seeds == [i] { jt[layout.index(entry: b, value: i)] = derivative }
                        case (.structured, .diagonal):
                            jt[b * d + i] = derivative
                        case (.structured, .blockDiagonal(let k)):
                            let r = i / d
                            let j = i % d
                            let c = seeds[0] / d
                            jt[(r * k + c) * batch * d + b * d + j] = derivative
                        case (.structured, .dense):
                            jt[(b * n + i) * n + seeds[0]] = derivative
                        }
                    }
                }
            }
        }
    }
}

/// A built-in cell with a hand-written kernel reached through ``CellMath`` (so it runs
/// specialised per precision). It implements only ``RecurrentCell/linearize(_:)``; the labelled
/// `linearize` and the rollout (the kernel in place, step after step) come from here.
public protocol KernelCell: GenericStepCell {}

extension KernelCell {
    public func linearize(
        steps: Range<Int>, batch: Int, previous: UnsafePointer<Scalar>,
        states: UnsafePointer<Scalar>, projections: UnsafePointer<Scalar>,
        values: UnsafeMutablePointer<Scalar>, jacobians: UnsafeMutablePointer<Scalar>?,
        request: JacobianRequest
    ) {
        linearize(
            LinearizeArguments(
                steps: steps, batch: batch, previous: previous, states: states,
                projections: projections, values: values, jacobians: jacobians, request: request))
    }

    public func rollout(
        steps: Range<Int>, batch: Int, previous: UnsafePointer<Scalar>,
        projections: UnsafePointer<Scalar>, states: UnsafeMutablePointer<Scalar>
    ) {
        linearize(
            LinearizeArguments(
                steps: steps, batch: batch, previous: previous, states: UnsafePointer(states),
                projections: projections, values: states, jacobians: nil, request: .structured,
                inPlace: true))
    }

    public func rollout(
        steps: Range<Int>, batch: Int, entries: Range<Int>, previous: UnsafePointer<Scalar>,
        projections: UnsafePointer<Scalar>, states: UnsafeMutablePointer<Scalar>
    ) {
        precondition(
            entries == 0..<batch || rollsOutEntriesIndependently,
            "\(Self.cellName) cannot roll out a part of its batch")
        linearize(
            LinearizeArguments(
                steps: steps, batch: batch, previous: previous, states: UnsafePointer(states),
                projections: projections, values: states, jacobians: nil, request: .structured,
                inPlace: true, batchEntries: entries))
    }
}
