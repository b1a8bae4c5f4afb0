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
    ///
    /// Read by hand, not by Foundation: its parsers on Linux took "2026/12/07", "26-12-07" (year
    /// 26) and "+25:00", and rolled impossible dates over (`2026-02-30T00:00:00Z` read as March 2),
    /// so an audit query answered for another window than the one asked, without an error.
    /// A fraction between two milliseconds is the later one: stored times are whole milliseconds, so
    /// a time at or after `.0004` (and before it) is one at or after `.001` (and before it).
    public static func parse(_ text: String) -> String? {
        guard let time = BoundFields(text) else { return nil }
        let days = daysSinceEpoch(year: time.year, month: time.month, day: time.day)
        let seconds = Int64(days) * 86_400 + Int64(time.hour * 3_600 + time.minute * 60 + time.second - time.offsetMinutes * 60)
        let millisecondsUp = (time.nanoseconds + 999_999) / 1_000_000
        return format(unixMilliseconds: seconds * 1_000 + Int64(millisecondsUp))
    }

    /// The numbers of `YYYY-MM-DD`, or of `YYYY-MM-DDTHH:MM:SS` with an optional fraction of 1 to 9
    /// digits and `Z` or an offset from `-23:59` to `+23:59`, when they make a real date and time.
    struct BoundFields {
        var year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0
        var nanoseconds = 0
        var offsetMinutes = 0

        init?(_ text: String) {
            let bytes = Array(text.utf8)
            func shaped(_ range: Range<Int>, _ pattern: String) -> Bool {
                range.upperBound <= bytes.count && zip(bytes[range], pattern.utf8).allSatisfy { byte, expected in
                    expected == UInt8(ascii: "9") ? Self.isDigit(byte) : byte == expected
                }
            }
            func number(_ range: Range<Int>) -> Int { bytes[range].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) } }
            guard shaped(0..<10, "9999-99-99") else { return nil }
            (year, month, day) = (number(0..<4), number(5..<7), number(8..<10))
            if bytes.count > 10 {
                guard shaped(10..<19, "T99:99:99") else { return nil }
                (hour, minute, second) = (number(11..<13), number(14..<16), number(17..<19))
                var at = 19
                if at < bytes.count && bytes[at] == UInt8(ascii: ".") {
                    let digits = bytes[(at + 1)...].prefix(while: Self.isDigit).count
                    guard (1...9).contains(digits) else { return nil }
                    nanoseconds = number(at + 1..<at + 1 + digits) * Self.powerOfTen(9 - digits)
                    at += 1 + digits
                }
                if bytes.count == at + 1 && bytes[at] == UInt8(ascii: "Z") {
                    offsetMinutes = 0
                } else if bytes.count == at + 6 && (bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-"))
                            && shaped(at + 1..<at + 6, "99:99") && number(at + 1..<at + 3) <= 23 && number(at + 4..<at + 6) <= 59 {
                    offsetMinutes = (number(at + 1..<at + 3) * 60 + number(at + 4..<at + 6)) * (bytes[at] == UInt8(ascii: "-") ? -1 : 1)
                } else {
                    return nil
                }
            }
            guard (1...12).contains(month), (1...Timestamp.daysIn(month: month, year: year)).contains(day),
                  hour <= 23, minute <= 59, second <= 59 else { return nil }
        }

        private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
        private static func powerOfTen(_ exponent: Int) -> Int { (0..<exponent).reduce(1) { value, _ in value * 10 } }
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
    /// `days_from_civil`), without Foundation's calendars.
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
