import ModelRuntime

/// Writes a row back as the JSON object the audit log stores: every feature by name, in the
/// model's order, `null` for a missing value.
public enum FeatureJSON {
    public static func object(names: [String], row: UnsafeBufferPointer<Double>) -> String {
        var text = "{"
        text.reserveCapacity(names.count * 24)
        for (index, name) in names.enumerated() {
            if index > 0 { text += "," }
            text += "\""
            text += name
            text += "\":"
            let value = row[index]
            if value.isNaN { text += "null" } else { text += "\(value)" }
        }
        text += "}"
        return text
    }
}
