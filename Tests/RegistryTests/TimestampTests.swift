import Foundation
import Testing
@testable import Registry

/// The stored time form: fixed width, UTC, milliseconds, so that text order is time order.
struct TimestampTests {
    /// A parsed ".123" is 0.12299999... seconds as a double: every millisecond must come back as given.
    @Test func everyMillisecondOfASecondRoundTripsThroughParse() {
        for millisecond in 0..<1_000 {
            let text = "2026-11-29T08:30:00." + String(repeating: "0", count: 3 - String(millisecond).count) + String(millisecond) + "Z"
            #expect(Timestamp.parse(text) == text)
        }
    }

    /// A retention of a century reaches before 1970, and a huge one past any date: neither may trap
    /// (the service pruned with such a cutoff a minute after it started).
    @Test func timesBefore1970AndBeyondTheFormAreWrittenNotTrapped() {
        #expect(Timestamp.format(unixMilliseconds: -1) == "1969-12-31T23:59:59.999Z")
        #expect(Timestamp.format(unixMilliseconds: -1_500) == "1969-12-31T23:59:58.500Z")
        // Python: datetime(1970, 1, 1) + timedelta(seconds=-1380000000.25)
        #expect(Timestamp.format(Date(timeIntervalSince1970: -1_380_000_000.25)) == "1926-04-09T18:39:59.750Z")
        #expect(Timestamp.parse("1969-12-31T23:59:59.5Z") == "1969-12-31T23:59:59.500Z")
        #expect(Timestamp.format(Date().addingTimeInterval(-1e15 * 86_400)) == "0000-01-01T00:00:00.000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1e18)) == "9999-12-31T23:59:59.999Z")
        #expect(Timestamp.format(unixMilliseconds: .min) == "0000-01-01T00:00:00.000Z")
        #expect(Timestamp.format(unixMilliseconds: .max) == "9999-12-31T23:59:59.999Z")
    }

    /// The documented shapes only: Foundation's parsers on Linux also took slashes, two-digit years
    /// and offsets past a day, and an audit query then answered for another window than asked.
    @Test func onlyTheDocumentedShapesAreRead() {
        let read: [(String, String)] = [
            ("2026-12-07", "2026-12-07T00:00:00.000Z"),
            ("2026-12-07T01:30:00Z", "2026-12-07T01:30:00.000Z"),
            ("2026-12-07T01:30:00.5+02:00", "2026-12-06T23:30:00.500Z"),
            ("2026-12-06T23:30:00-23:59", "2026-12-07T23:29:00.000Z"),
            // Between two milliseconds: the later one (stored times are whole milliseconds).
            ("2026-12-07T01:30:00.123456789Z", "2026-12-07T01:30:00.124Z"),
            ("2026-12-07T01:30:00.0004Z", "2026-12-07T01:30:00.001Z"),
            ("2026-12-07T01:30:00.000000Z", "2026-12-07T01:30:00.000Z"),
            ("1969-12-31T23:59:59.9991Z", "1970-01-01T00:00:00.000Z"),
            ("2024-02-29T12:00:00Z", "2024-02-29T12:00:00.000Z"),
            ("2000-02-29", "2000-02-29T00:00:00.000Z"),
            ("2026-01-01T00:30:00+01:00", "2025-12-31T23:30:00.000Z"),
        ]
        for (text, stored) in read { #expect(Timestamp.parse(text) == stored, "\(text)") }
        let refused = [
            "2026/12/07", "2026.12.07", "2026 12 07", "2026-12-7", "26-12-07", "99999-01-01", "2026-12-07 01:30:00Z",
            "2026-12-07T01:30:00", "2026-12-07T01:30:00+25:00", "2026-12-07T01:30:00+99:99", "2026-12-07T01:30:00+0200",
            "2026-12-07T01:30:00.Z", "2026-12-07T01:30:00.1234567890Z", "2026-12-07t01:30:00z", "2026-02-30", "",
            "2026-12-07T01:30:00Z ", "٢٠٢٦-١٢-٠٧",
            // Impossible dates and times, which Foundation's parser on Linux rolled over.
            "2026-02-29T00:00:00Z", "2026-02-30T00:00:00Z", "2026-04-31T00:00:00Z", "1900-02-29", "2026-13-01",
            "2026-00-10", "2026-12-00", "2026-12-07T24:00:00Z", "2026-12-07T23:60:00Z", "2026-12-07T23:59:60Z",
            "2026-12-07T24:00:00.5Z",
        ]
        for text in refused { #expect(Timestamp.parse(text) == nil, "\(text) was read as \(Timestamp.parse(text) ?? "")") }
    }

    /// Every real date and time reads as Foundation's ISO 8601 parser reads it (at whole
    /// milliseconds, where the two agree on rounding), over 5,000 random ones from 1600 to 9999,
    /// with random offsets: the hand-written calendar against the library's.
    @Test func realTimesReadAsFoundationReadsThem() {
        var generator = SystemRandomNumberGenerator()
        let foundation = ISO8601DateFormatter()
        foundation.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        for _ in 0..<5_000 {
            let year = Int.random(in: 1600...9998, using: &generator), month = Int.random(in: 1...12, using: &generator)
            let day = Int.random(in: 1...Timestamp.daysIn(month: month, year: year), using: &generator)
            let millisecond = Int.random(in: 0...999, using: &generator)
            let offset = Int.random(in: -(23 * 60 + 59)...(23 * 60 + 59), using: &generator)
            let zone = offset == 0 ? "Z" : (offset < 0 ? "-" : "+") + two(abs(offset) / 60) + ":" + two(abs(offset) % 60)
            let text = "\(year)-\(two(month))-\(two(day))T\(two(Int.random(in: 0...23, using: &generator))):"
                + "\(two(Int.random(in: 0...59, using: &generator))):\(two(Int.random(in: 0...59, using: &generator)))."
                + String(repeating: "0", count: 3 - String(millisecond).count) + "\(millisecond)" + zone
            let expected = foundation.date(from: text).map(Timestamp.format)
            #expect(expected != nil && Timestamp.parse(text) == expected, "\(text)")
        }
    }
}
