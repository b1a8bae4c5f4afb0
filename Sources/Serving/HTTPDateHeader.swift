import Foundation

/// The `Date` header's value (RFC 9110 §5.6.7), formatted once a second. `package`: the bench's
/// bare stack answers with it too.
package struct HTTPDateHeader {
    private var second: time_t = 0
    private var text = ""

    package init() {}

    /// The value for the current second, formatted again only when the second has changed.
    package mutating func now() -> String {
        let clock = time(nil)
        guard clock != second || text.isEmpty else { return text }
        second = clock
        text = Self.format(clock)
        return text
    }

    /// The value for `clock` (seconds since the epoch), for an answer written too seldom to keep one.
    package static func format(_ clock: time_t) -> String {
        var clock = clock
        var parts = tm()
        gmtime_r(&clock, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
