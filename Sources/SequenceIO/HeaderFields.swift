/// The values of the keys `names` among a header's `entries` (NPY's dictionary, a safetensors
/// entry's object), in the order of `names`, `nil` where a key is absent.
///
///     let v = try headerFields(entries, ["descr", "shape"]) { .malformedHeader(file: f, detail: "unexpected key '\($0)'") }
///
/// - Throws: `unexpected(key)` for the first key that is not among `names`.
func headerFields<Value>(
    _ entries: [(String, Value)], _ names: [String], unexpected: (String) -> SequenceIOError
) throws(SequenceIOError) -> [Value?] {
    var values = [Value?](repeating: nil, count: names.count)
    for (key, value) in entries {
        guard let i = names.firstIndex(of: key) else { throw unexpected(key) }
        values[i] = value
    }
    return values
}
