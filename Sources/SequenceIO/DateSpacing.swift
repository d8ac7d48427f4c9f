import Foundation

/// The spacing of a table's date/time column: regular (daily, weekly, monthly, …), regular with
/// gaps (whole steps missing), or irregular. Used for the note printed when a date column is
/// skipped; the model itself sees one step per row, so irregular dates are worth a warning.
///
/// A cell's time stamp t (seconds) is days-since-1970 · 86400 + the time of day. Steps are the
/// differences between successive rows; the *step* is the most common one, a *gap* is a
/// difference that is a whole multiple k > 1 of the step (k − 1 steps missing), anything else is
/// irregular. When every date falls on the same day of the month (and none has a time), steps
/// are counted in calendar months instead (monthly, quarterly, yearly).
///
/// ```swift
/// DateSpacing.describe(["1958-03-29", "1958-04-05", "1958-04-19"], rows: [2, 3, 4], column: "1 ('date')")
/// // "dates in column 1 ('date') are weekly, with 1 gap (1 step missing after row 3)"
/// ```
enum DateSpacing {
    /// A parsed date: calendar month index (year · 12 + month − 1), day of the month, and the
    /// time stamp in seconds; `hasDate` is false for a bare time of day.
    struct Stamp: Equatable {
        var monthIndex: Int
        var day: Int
        var seconds: Double
        var hasDate: Bool
        var hasTime: Bool
    }

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// Parses the spellings ``DateMatcher`` recognises: `1995-01-31`, `1995-01`, `1995/1/31`,
    /// `1/31/1995` (month first; day first when the first number exceeds 12), `31.1.1995`
    /// (day first), `Jan-1-1995`, `1 Jan 1995`, `January 1, 1995`, `Jan 1995`, `1995Q1`, each
    /// with an optional time `12:30[:15[.5]]` (am/pm, zone ignored), or a bare time.
    static func parse(_ text: String) -> Stamp? {
        if let (year, month, day) = compactDate(text) {
            let days = daysFromCivil(year: year, month: month, day: day)
            return Stamp(
                monthIndex: year * 12 + month - 1, day: day, seconds: Double(days) * 86400, hasDate: true,
                hasTime: false)
        }
        let s = Array(text.lowercased().utf8)
        // The time: the digit run before the first ':' and what follows.
        var datePart = s[...]
        var seconds = 0.0
        var hasTime = false
        if let colon = s.firstIndex(of: UInt8(ascii: ":")) {
            var start = colon
            while start > 0, isDigit(s[start - 1]) { start -= 1 }
            let fields = String(decoding: s[start...], as: UTF8.self)
            let numbers = fields.split(whereSeparator: { !($0.isNumber || $0 == ".") }).prefix(3).compactMap {
                Double($0)
            }
            guard numbers.count >= 2 else { return nil }
            var hours = numbers[0]
            if fields.contains("pm"), hours < 12 { hours += 12 }
            if fields.contains("am"), hours == 12 { hours = 0 }
            seconds = hours * 3600 + numbers[1] * 60 + (numbers.count > 2 ? numbers[2] : 0)
            hasTime = true
            datePart = s[..<start]
        }
        // Digit and letter runs of the date, with the first separator seen.
        var digits: [Int] = []
        var digitLengths: [Int] = []
        var words: [String] = []
        var separator: UInt8?
        var i = datePart.startIndex
        while i < datePart.endIndex {
            let c = datePart[i]
            if isDigit(c) {
                var j = i
                while j < datePart.endIndex, isDigit(datePart[j]) { j += 1 }
                guard j - i <= 9, let v = Int(String(decoding: datePart[i..<j], as: UTF8.self)) else { return nil }
                digits.append(v)
                digitLengths.append(j - i)
                i = j
            } else if (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) {
                var j = i
                while j < datePart.endIndex, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(datePart[j]) { j += 1 }
                words.append(String(decoding: datePart[i..<j], as: UTF8.self))
                i = j
            } else {
                if separator == nil, [UInt8(ascii: "-"), UInt8(ascii: "/"), UInt8(ascii: ".")].contains(c) {
                    separator = c
                }
                i += 1
            }
        }
        if digits.isEmpty && words.allSatisfy({ $0 == "t" }) {
            return hasTime ? Stamp(monthIndex: 0, day: 1, seconds: seconds, hasDate: false, hasTime: true) : nil
        }
        var year: Int
        var month: Int
        var day = 1
        func fullYear(_ index: Int) -> Int {
            digitLengths[index] <= 2 ? (digits[index] < 70 ? 2000 : 1900) + digits[index] : digits[index]
        }
        if words.contains("q"), digits.count == 2 {
            year = digits[0]
            month = (digits[1] - 1) * 3 + 1
        } else if let name = words.first(where: { $0.count >= 3 && months.contains(String($0.prefix(3))) }) {
            month = months.firstIndex(of: String(name.prefix(3)))! + 1
            guard let y = digitLengths.lastIndex(where: { $0 == 4 }) ?? (digits.count >= 1 ? digits.count - 1 : nil)
            else { return nil }
            year = fullYear(y)
            if let d = digits.indices.first(where: { $0 != y }) { day = digits[d] }
        } else if digits.count >= 2, digitLengths[0] == 4 {
            year = digits[0]
            month = digits[1]
            if digits.count >= 3 { day = digits[2] }
        } else if digits.count == 3 {
            year = fullYear(2)
            let monthFirst = separator == UInt8(ascii: "/")
            (month, day) = monthFirst ? (digits[0], digits[1]) : (digits[1], digits[0])
            if month > 12, day <= 12 { (month, day) = (day, month) }
        } else {
            return nil
        }
        guard (1...12).contains(month), (1...31).contains(day), (1...9999).contains(year) else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        return Stamp(
            monthIndex: year * 12 + month - 1, day: day, seconds: Double(days) * 86400 + seconds, hasDate: true,
            hasTime: hasTime)
    }

    /// A compact date `YYYYMMDD` (8 digits, year 1000–9999, a valid month and day), as some
    /// exports write dates (`19580329`); nil for anything else.
    static func compactDate(_ text: String) -> (year: Int, month: Int, day: Int)? {
        let t = text.hasSuffix(".0") ? String(text.dropLast(2)) : text
        guard t.utf8.count == 8, t.utf8.allSatisfy(isDigit), let v = Int(t) else { return nil }
        let (year, month, day) = (v / 10_000, v / 100 % 100, v % 100)
        guard year >= 1000, (1...12).contains(month), (1...daysInMonth(year: year, month: month)).contains(day) else {
            return nil
        }
        return (year, month, day)
    }

    /// Whether a column header names a date or time ("date", "Date_UTC", "day", "time", …), which
    /// lets numbers in it be read as compact dates.
    static func namesADate(_ header: String) -> Bool {
        let h = header.lowercased()
        return ["date", "day", "time", "timestamp"].contains {
            h == $0 || h.hasPrefix($0 + "_") || h.hasSuffix("_" + $0) || h.hasPrefix($0 + " ")
        }
            || h.contains("date")
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The note for a skipped date column: `texts` are its non-missing cells, `rows` their line
    /// numbers; nil when fewer than 3 cells parse.
    static func describe(_ texts: [String], rows: [Int], column: String) -> String? {
        let stamps = texts.map(parse)
        guard stamps.count >= 3, stamps.allSatisfy({ $0 != nil }) else { return nil }
        let all = stamps.map { $0! }
        let what = "dates in column \(column)"
        let monthly = all.allSatisfy { $0.hasDate && !$0.hasTime && $0.day == all[0].day }
        var steps: [Double] = []
        for k in 1..<all.count {
            if monthly {
                steps.append(Double(all[k].monthIndex - all[k - 1].monthIndex))
            } else {
                var d = all[k].seconds - all[k - 1].seconds
                if !all[k].hasDate, d < 0 { d += 86400 }  // a bare time of day passes midnight
                steps.append(d)
            }
        }
        if let bad = steps.firstIndex(where: { !($0 > 0) }) {
            return
                "\(what) do not increase (row \(rows[bad + 1]) is not after row \(rows[bad])); the model sees one step per row"
        }
        var counts: [Double: Int] = [:]
        for s in steps { counts[s, default: 0] += 1 }
        let step = counts.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }!.key
        let name = monthly ? monthName(step) : durationName(step)
        var gaps: [(row: Int, missing: Int)] = []
        var irregular: [Int] = []
        for (k, s) in steps.enumerated() where s != step {
            let ratio = s / step
            if ratio > 1, abs(ratio - ratio.rounded()) < 1e-9 {
                gaps.append((rows[k], Int(ratio.rounded()) - 1))
            } else {
                irregular.append(k)
            }
        }
        if !irregular.isEmpty {
            let shown = (monthly ? steps.map(monthName) : steps.map(durationName))
            let low = steps.min()!
            let high = steps.max()!
            return
                "\(what) are irregularly spaced: \(irregular.count) of \(steps.count) steps differ from the usual \(shown[steps.firstIndex(of: step)!]) (steps from \(monthly ? monthName(low) : durationName(low)) to \(monthly ? monthName(high) : durationName(high)); first after row \(rows[irregular[0]])); the model sees one step per row"
        }
        if gaps.isEmpty { return "\(what) are \(name), regular" }
        let missing = gaps.reduce(0) { $0 + $1.missing }
        let listed =
            gaps.prefix(3).map { "after row \($0.row)" }.joined(separator: ", ") + (gaps.count > 3 ? ", …" : "")
        return
            "\(what) are \(name), with \(gaps.count) gap\(gaps.count == 1 ? "" : "s") (\(missing) step\(missing == 1 ? "" : "s") missing: \(listed)); the model sees one step per row"
    }

    private static func monthName(_ months: Double) -> String {
        switch months {
        case 1: return "monthly"
        case 3: return "quarterly"
        case 12: return "yearly"
        default:
            return months.truncatingRemainder(dividingBy: 12) == 0
                ? "every \(Int(months) / 12) years" : "every \(Int(months)) months"
        }
    }

    private static func durationName(_ seconds: Double) -> String {
        let units: [(Double, String, String)] = [
            (604_800, "weekly", "weeks"), (86400, "daily", "days"), (3600, "hourly", "hours"),
            (60, "every minute", "minutes"), (1, "every second", "seconds"),
        ]
        for (size, one, many) in units where seconds >= size && seconds.truncatingRemainder(dividingBy: size) == 0 {
            let n = Int(seconds / size)
            return n == 1 ? one : "every \(n) \(many)"
        }
        return "every \(String(format: "%g", seconds)) s"
    }

    private static func isDigit(_ c: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) }
}
