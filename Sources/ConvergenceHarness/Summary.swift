import ParaRNN

extension HarnessReport {
    /// A Markdown summary: the done-when counts (``FallbackCounts``), per cell × method (cases,
    /// converged %, median/max iterations of the converged cases, worst error of the converged cases, median speedup), then median
    /// iterations vs weight scale and vs T, and the failures with their outcomes.
    ///
    /// In the pivot tables an entry is the median iteration count of the converged cases;
    /// `[k/n]` is appended when only k of the n cases converged, and `✗ 0/n` means none did.
    public func markdown() -> String {
        var out: [String] = []
        let m = machine
        out.append("# Convergence harness: \(config.name)")
        out.append("")
        out.append(
            "\(cases.count) cases, \(m.cores) cores (\(m.threads) threads), \(m.buildConfiguration) build, \(m.date); precisions: \(precisions.map(\.rawValue).joined(separator: ", ")); total \(fmt(totalSeconds, 1)) s."
        )
        out.append("")
        out.append(FallbackCounts(self).line)
        if config.guesses.contains(.chunks) {
            let plans = config.steps.map { t in
                let chunks = SegmentChunks.plan(steps: t, threads: m.threads).chunks
                let used = chunks > 1 && t / chunks >= NewtonGuess.shortestChunk
                return "T = \(t): "
                    + (used ? "\(chunks) chunks, burn-in \(NewtonGuess.burnIn(chunkLength: t / chunks))" : "f(0, u_t)")
            }
            out.append("")
            out.append(
                "Guess `chunks` (the solver's default start) planned for \(m.threads) threads: \(plans.joined(separator: "; "))."
            )
        }
        let shared = cases.filter { $0.concurrent == true }
        if !shared.isEmpty {
            out.append("")
            out.append(
                "\(shared.count) of the \(cases.count) cases ran beside other cases, on \(shared.map { $0.threads ?? 1 }.max() ?? 1) thread each: their wall times and speedups were measured concurrently (the cases the cost model expects to gain from threads ran alone on \(m.threads))."
            )
        }
        if config.continueAfterStagnation {
            out.append("")
            let restarted = cases.filter { ($0.restarts ?? 0) > 0 }
            out.append(
                "continueAfterStagnation: \(restarted.count) cases restarted from their last iterate after a premature stagnation (\(restarted.filter(\.converged).count) then converged); iteration counts include the restarts."
            )
        }
        out.append("")
        let groups = groupKeys()
        out.append("## Per cell × method")
        out.append("")
        out.append("| cell | method | cases | converged | median iters | max iters | worst error | median speedup |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|")
        for (cell, method) in groups {
            let all = cases.filter { $0.key.cell == cell && $0.key.method == method }
            let ok = all.filter(\.converged)
            let iterations = ok.map(\.iterations).sorted()
            let worst = ok.map(\.maxAbsError).max()
            let speedups = all.filter { $0.failure == nil }.map(\.speedup).sorted()
            out.append(
                "| \(cell) | \(method) | \(all.count) | \(fmt(100 * Double(ok.count) / Double(max(all.count, 1)), 0)) % | \(iterations.isEmpty ? "–" : fmtMedian(iterations)) | \(iterations.last.map(String.init) ?? "–") | \(worst.map { sci($0) } ?? "–") | \(speedups.isEmpty ? "–" : fmt(median(speedups), 2)) |"
            )
        }
        out.append("")
        out += pivot(
            title: "Iterations vs weight scale", axisName: "scale",
            values: config.weightScales.sorted(), label: formatScale, groups: groups
        ) { $0.key.scale }
        out += integerPivot("Iterations vs T", "T", config.steps, always: true, groups: groups) { $0.steps }
        // The other axes, when the grid varies them.
        out += integerPivot("Iterations vs hidden size", "d", config.hiddenSizes, groups: groups) { $0.hiddenSize }
        out += integerPivot("Iterations vs batch size", "B", config.batchSizes, groups: groups) { $0.batch }
        out += choicePivot("Iterations vs initial guess", "guess", config.guesses, groups: groups) { $0.guess }
        out += choicePivot("Iterations vs precision", "precision", config.precisions, groups: groups) { $0.precision }
        let failures = cases.filter { !$0.converged }
        if !failures.isEmpty {
            out.append("## Non-converged cases")
            out.append("")
            let premature = failures.filter { $0.diagnosis != nil }.count
            if premature > 0 {
                out.append(
                    "\(premature) of the \(failures.count) were declared stagnated while the residual was still falling linearly (see the diagnosis column)."
                )
                out.append("")
            }
            out.append("| case | iterations | final residual | outcome | diagnosis |")
            out.append("|---|---:|---:|---|---|")
            for f in failures.prefix(200) {
                out.append(
                    "| \(f.key) | \(f.iterations) | \(sci(f.finalResidual)) | \(f.outcome) | \(f.diagnosis ?? "") |")
            }
            if failures.count > 200 { out.append("| … \(failures.count - 200) more | | | | |") }
            out.append("")
        }
        return out.joined(separator: "\n")
    }

    func groupKeys() -> [(HarnessCell, SolverMethod)] {
        var seen: [(HarnessCell, SolverMethod)] = []
        for cell in config.cells {
            for method in config.methods where !seen.contains(where: { $0 == (cell, method) }) {
                seen.append((cell, method))
            }
        }
        return seen
    }

    func pivot(
        title: String, axisName: String, values: [Double], label: (Double) -> String,
        groups: [(HarnessCell, SolverMethod)], axis: (CaseResult) -> Double
    ) -> [String] {
        var out = ["## \(title)", ""]
        out.append("| cell | method | " + values.map { "\(axisName) = \(label($0))" }.joined(separator: " | ") + " |")
        out.append("|---|---|" + values.map { _ in "---:" }.joined(separator: "|") + "|")
        for (cell, method) in groups {
            var row = "| \(cell) | \(method) |"
            for v in values {
                let all = cases.filter { $0.key.cell == cell && $0.key.method == method && axis($0) == v }
                row += " " + entry(all) + " |"
            }
            out.append(row)
        }
        out.append("")
        return out
    }

    /// ``pivot(title:axisName:values:label:groups:axis:)`` over an integer axis of the grid, its
    /// values ascending; nothing unless `always` or the grid varies the axis.
    func integerPivot(
        _ title: String, _ axisName: String, _ values: [Int], always: Bool = false,
        groups: [(HarnessCell, SolverMethod)], key: (CaseKey) -> Int
    ) -> [String] {
        guard always || values.count > 1 else { return [] }
        return pivot(
            title: title, axisName: axisName, values: values.sorted().map(Double.init), label: { String(Int($0)) },
            groups: groups
        ) { Double(key($0.key)) }
    }

    /// ``pivot(title:axisName:values:label:groups:axis:)`` over a named choice of the grid (in
    /// declaration order, labelled by raw value) when the grid varies it.
    func choicePivot<Choice: CaseIterable & RawRepresentable & Equatable>(
        _ title: String, _ axisName: String, _ chosen: [Choice], groups: [(HarnessCell, SolverMethod)],
        key: (CaseKey) -> Choice
    ) -> [String] where Choice.RawValue == String {
        guard chosen.count > 1 else { return [] }
        let all = Choice.allCases.filter(chosen.contains)
        return pivot(
            title: title, axisName: axisName, values: all.indices.map(Double.init), label: { all[Int($0)].rawValue },
            groups: groups
        ) { Double(all.firstIndex(of: key($0.key))!) }
    }

    func entry(_ all: [CaseResult]) -> String {
        if all.isEmpty { return "–" }
        let ok = all.filter(\.converged)
        if ok.isEmpty { return "✗ 0/\(all.count)" }
        let text = fmtMedian(ok.map(\.iterations).sorted())
        return ok.count == all.count ? text : "\(text) [\(ok.count)/\(all.count)]"
    }
}

func median(_ sorted: [Double]) -> Double {
    let n = sorted.count
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
}

func fmtMedian(_ sorted: [Int]) -> String {
    let x = median(sorted.map(Double.init))
    return x == x.rounded() ? String(Int(x)) : fmt(x, 1)
}

func fmt(_ x: Double, _ digits: Int) -> String {
    if !x.isFinite { return "\(x)" }
    let p = pow10(digits)
    let r = (x * p).rounded() / p
    if digits == 0 { return String(Int(r)) }
    var s = String(r)
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
    }
    return s
}

func pow10(_ n: Int) -> Double { (0..<n).reduce(1.0) { a, _ in a * 10 } }

/// x in scientific notation with 2 significant digits ("3.1e-12").
func sci(_ x: Double) -> String {
    if x == 0 { return "0" }
    if !x.isFinite { return "\(x)" }
    var e = 0
    var m = abs(x)
    while m >= 10 {
        m /= 10
        e += 1
    }
    while m < 1 {
        m *= 10
        e -= 1
    }
    m = (m * 10).rounded() / 10
    if m >= 10 {
        m /= 10
        e += 1
    }
    return "\(x < 0 ? "-" : "")\(m)e\(e)"
}
