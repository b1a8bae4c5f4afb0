import Foundation

/// The one text form the registry stores times in: UTC, millisecond precision, fixed width
/// (`2026-11-29T08:30:00.123Z`), so that text order is time order in SQL.
public enum Timestamp {
    public static func now() -> String { format(Date()) }

    /// The first and last milliseconds the fixed-width form can hold (years 0000 to 9999). A time
    /// outside them is written as the nearer one: as a query bound or a pruning cutoff (a retention
    /// of a million days) it means the same, and no stored time lies beyond them.
    static let earliestMilliseconds: Int64 = -62_167_219_200_000
    static let latestMilliseconds: Int64 = 253_402_300_799_999

    public static func format(_ date: Date) -> String {
        // To the nearest millisecond, not down: a parsed ".123" is 0.12299999... seconds as a double.
        let millis = (date.timeIntervalSince1970 * 1000).rounded()
        let clamped = min(max(millis, Double(earliestMilliseconds)), Double(latestMilliseconds))
        return format(unixMilliseconds: clamped.isNaN ? 0 : Int64(clamped))
    }

    public static func format(unixMilliseconds: Int64) -> String {
        let millis = min(max(unixMilliseconds, earliestMilliseconds), latestMilliseconds)
        // Floored, so that a time before 1970 keeps its millisecond part in 0...999.
        var (secondsPart, millisecondPart) = millis.quotientAndRemainder(dividingBy: 1000)
        if millisecondPart < 0 {
            secondsPart -= 1
            millisecondPart += 1000
        }
        var seconds = time_t(secondsPart)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        // By hand, not String(format:): the audit writer formats one per committed millisecond,
        // and Foundation's printf path costs more than the rest of a row's preparation.
        return String(unsafeUninitializedCapacity: 24) { buffer in
            var at = 0
            func put(_ value: Int, digits: Int) {
                var value = value
                for position in stride(from: at + digits - 1, through: at, by: -1) {
                    buffer[position] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
                at += digits
            }
            func put(_ character: Unicode.Scalar) {
                buffer[at] = UInt8(ascii: character)
                at += 1
            }
            put(Int(parts.tm_year) + 1900, digits: 4); put("-")
            put(Int(parts.tm_mon) + 1, digits: 2); put("-")
            put(Int(parts.tm_mday), digits: 2); put("T")
            put(Int(parts.tm_hour), digits: 2); put(":")
            put(Int(parts.tm_min), digits: 2); put(":")
            put(Int(parts.tm_sec), digits: 2); put(".")
            put(Int(millisecondPart), digits: 3); put("Z")
            return at
        }
    }

    /// Reads a user-given time bound: a date (`2026-11-29`), or a date and time with an optional
    /// fraction and a `Z` or `±HH:MM` offset. Returns it in the stored form, or nil if unreadable.
    public static func parse(_ text: String) -> String? {
        // Foundation's parsers on Linux take "2026/12/07", "26-12-07" (year 26) and "+25:00":
        // only the documented shapes get that far.
        let date: Date?
        switch shape(of: text) {
        case nil: return nil
        case .date: date = dateOnlyFormatter().date(from: text)
        case .dateTime(let hasFraction):
            let full = ISO8601DateFormatter()
            full.formatOptions = hasFraction ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
            date = full.date(from: text)
        }
        return date.map(format)
    }

    enum Shape: Equatable {
        case date
        case dateTime(hasFraction: Bool)
    }

    /// `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM:SS` with an optional fraction of 1 to 9 digits and `Z` or
    /// an offset from `-23:59` to `+23:59`; nil for anything else. Whether the numbers make a real
    /// date is the parsers' job.
    static func shape(of text: String) -> Shape? {
        let bytes = Array(text.utf8)
        func shaped(_ range: Range<Int>, _ pattern: String) -> Bool {
            range.upperBound <= bytes.count && zip(bytes[range], pattern.utf8).allSatisfy { byte, expected in
                expected == UInt8(ascii: "9") ? (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) : byte == expected
            }
        }
        func number(_ range: Range<Int>) -> Int { bytes[range].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) } }
        if bytes.count == 10 { return shaped(0..<10, "9999-99-99") ? .date : nil }
        guard shaped(0..<19, "9999-99-99T99:99:99") else { return nil }
        var at = 19
        let hasFraction = at < bytes.count && bytes[at] == UInt8(ascii: ".")
        if hasFraction {
            let digits = bytes[(at + 1)...].prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }.count
            guard (1...9).contains(digits) else { return nil }
            at += 1 + digits
        }
        let zone: Bool
        if bytes.count == at + 1 {
            zone = bytes[at] == UInt8(ascii: "Z")
        } else {
            zone = bytes.count == at + 6 && (bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-"))
                && shaped(at + 1..<at + 6, "99:99") && number(at + 1..<at + 3) <= 23 && number(at + 4..<at + 6) <= 59
        }
        return zone ? .dateTime(hasFraction: hasFraction) : nil
    }

    private static func dateOnlyFormatter() -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        formatter.isLenient = false
        return formatter
    }
}
