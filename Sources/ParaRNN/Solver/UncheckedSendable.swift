/// A value handed to other threads whose safety the caller vouches for: arguments whose
/// pointers the workers use for disjoint memory (a fused backward pass), or a closure that only
/// reads shared state and writes disjoint memory (a split-step rollout's gate math).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
