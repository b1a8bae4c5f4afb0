/// A parsed JSON document (see `JSONParser` for why Sentinel reads JSON itself).
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// `bytes` as a JSON object, or why not: the parser's reason and where, or that it is another value.
    public static func object<Bytes: Sequence>(_ bytes: Bytes) throws(JSONObjectError) -> [String: JSONValue] where Bytes.Element == UInt8 {
        let value: JSONValue
        do throws(JSONParseError) { value = try JSONParser.parse(Array(bytes)) } catch { throw .invalid(error) }
        guard case .object(let object) = value else { throw .notAnObject }
        return object
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let object) = self { return object }
        return nil
    }

    public var numberValue: Double? {
        if case .number(let number) = self { return number }
        return nil
    }

    public var stringValue: String? {
        if case .string(let string) = self { return string }
        return nil
    }
}

/// Why a text that should hold a JSON object does not; worded to follow the name of what was read
/// ("line 3 is not valid JSON: ...", "meta.json is not a JSON object").
public enum JSONObjectError: Error, CustomStringConvertible, Equatable, Sendable {
    case invalid(JSONParseError)
    case notAnObject

    public var description: String {
        switch self {
        case .invalid(let error): return "is not valid JSON: \(error)"
        case .notAnObject: return "is not a JSON object"
        }
    }
}
