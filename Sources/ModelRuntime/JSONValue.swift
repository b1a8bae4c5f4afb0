import Foundation

/// A parsed JSON document.
///
/// Parsed with `JSONDecoder`, not `JSONSerialization`: on Linux the latter rounds some decimals to a
/// neighbouring double (0.26175000000000004 reads as 0.2617500000000001), which moves a value across
/// a split threshold and changes a score. `JSONDecoder` reads every number correctly rounded.
public enum JSONValue: Decodable, Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        // Most values in a model file are numbers in arrays, so numbers are tried first: every failed
        // attempt costs a thrown error.
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let array = try? container.decode([JSONValue].self) {
            self = .array(array)
        } else if let string = try? container.decode(String.self) {
            self = .string(string)
        } else if let object = try? container.decode([String: JSONValue].self) {
            self = .object(object)
        } else if container.decodeNil() {
            self = .null
        } else {
            self = .bool(try container.decode(Bool.self))
        }
    }

    /// Parses `bytes`; nil when they are not one valid JSON value.
    public static func parse<Bytes: Sequence>(_ bytes: Bytes) -> JSONValue? where Bytes.Element == UInt8 {
        try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
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
