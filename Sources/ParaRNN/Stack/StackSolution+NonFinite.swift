extension StackSolution {
    /// The first layer whose states are not finite (an index into ``layers``), and where; `nil`
    /// when every state is finite. ``solveStack(_:inputs:steps:batch:options:initialStates:progress:)`` stops
    /// after such a layer (the layers above cannot be solved from it), so ``layers`` is then
    /// shorter than the stack, and ``converged`` is false.
    public var nonFiniteState: (layer: Int, state: NonFiniteState)? {
        for (l, solution) in layers.enumerated() {
            if let state = solution.nonFiniteState { return (l, state) }
        }
        return nil
    }
}
