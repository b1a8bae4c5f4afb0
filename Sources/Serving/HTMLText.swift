/// Text made safe for HTML. Every string the status page takes from the database or the request
/// (descriptions, reasons, actors, reload errors) goes through `escape` before it reaches the page.
enum HTMLText {
    /// `text` with `& < > " '` replaced by entities: safe in element content and quoted attributes.
    static func escape(_ text: String) -> String {
        // Most texts have nothing to replace: hand them back without building a new string.
        guard text.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) else { return text }
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count + 16)
        for character in text.unicodeScalars {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }
}

/// Numbers as people read them on the page, made by integer arithmetic: Foundation's
/// `String(format:)` would be called thousands of times per page (every chart coordinate).
enum DisplayNumber {
    /// `value` rounded to `digits` decimals (0...6): `fixed(0.82867, digits: 3)` is `0.829`.
    static func fixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return "–" }
        var scale = 1
        for _ in 0..<min(max(digits, 0), 6) { scale *= 10 }
        let scaled = (abs(value) * Double(scale)).rounded()
        guard scaled < 9e15 else { return "\(value)" }
        let units = Int(scaled)
        let sign = value < 0 && units != 0 ? "-" : ""
        guard digits > 0 else { return sign + "\(units)" }
        var fraction = String(units % scale)
        while fraction.utf8.count < digits { fraction = "0" + fraction }
        return sign + "\(units / scale)." + fraction
    }

    /// A count with thousands separators: `1,000,000`.
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var result = value < 0 ? "-" : ""
        for (offset, digit) in digits.enumerated() {
            if offset > 0 && (digits.count - offset) % 3 == 0 { result += "," }
            result.append(digit)
        }
        return result
    }

    /// A share as a percentage with one decimal: `12.3%`.
    static func percent(_ share: Double) -> String { fixed(share * 100, digits: 1) + "%" }

    /// A latency in microseconds, in the unit that reads best: `850 µs`, `1.25 ms`, `2.1 s`.
    static func latency(microseconds: Int) -> String {
        if microseconds < 1_000 { return "\(microseconds) µs" }
        if microseconds < 1_000_000 { return fixed(Double(microseconds) / 1_000, digits: microseconds < 10_000 ? 2 : 1) + " ms" }
        return fixed(Double(microseconds) / 1_000_000, digits: 1) + " s"
    }

    /// Bytes in binary units: `512 B`, `38.2 MiB`.
    static func bytes(_ value: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var scaled = value
        var unit = 0
        while scaled >= 1_024 && unit < units.count - 1 { scaled /= 1_024; unit += 1 }
        return (unit == 0 ? "\(Int(scaled))" : fixed(scaled, digits: 1)) + " " + units[unit]
    }

    /// A duration in milliseconds with two decimals: `3.42 ms`.
    static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return fixed(Double(seconds) * 1_000 + Double(attoseconds) / 1e15, digits: 2) + " ms"
    }
}
