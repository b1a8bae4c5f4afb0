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
            ("2026-12-07T01:30:00.123456789Z", "2026-12-07T01:30:00.123Z"),
        ]
        for (text, stored) in read { #expect(Timestamp.parse(text) == stored, "\(text)") }
        let refused = [
            "2026/12/07", "2026.12.07", "2026 12 07", "2026-12-7", "26-12-07", "99999-01-01", "2026-12-07 01:30:00Z",
            "2026-12-07T01:30:00", "2026-12-07T01:30:00+25:00", "2026-12-07T01:30:00+99:99", "2026-12-07T01:30:00+0200",
            "2026-12-07T01:30:00.Z", "2026-12-07T01:30:00.1234567890Z", "2026-12-07t01:30:00z", "2026-02-30", "",
            "2026-12-07T01:30:00Z ", "٢٠٢٦-١٢-٠٧",
        ]
        for text in refused { #expect(Timestamp.parse(text) == nil, "\(text) was read as \(Timestamp.parse(text) ?? "")") }
    }
}
