/// Small helpers for writing JSON text by hand on the hot path.
public enum JSONText {
    @inlinable
    public static func quoted(_ string: String) -> String {
        // Request ids and names rarely need escaping: check the bytes once and copy.
        if string.utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            return "\"" + string + "\""
        }
        var out = "\""
        out.reserveCapacity(string.utf8.count + 2)
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += (scalar.value < 0x10 ? "\\u000" : "\\u00") + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// A finite double as JSON (Swift's shortest round-trip form is valid JSON).
    @inlinable
    public static func number(_ value: Double) -> String { value.isFinite ? "\(value)" : "null" }
}
