import ModelRuntime

/// Writes a row back as the JSON object the audit log stores: every feature by name, in the
/// model's order, `null` for a missing value.
///
/// Made once per loaded version: the `"name":` keys are encoded up front, so the audit writer
/// only appends bytes and numbers for each row (it formats every scored row, so this is hot).
public struct FeatureJSON: Sendable {
    private let keys: [[UInt8]]
    private let typicalSize: Int

    public init(names: [String]) {
        keys = names.enumerated().map { index, name in
            Array(((index == 0 ? "{" : ",") + JSONText.quoted(name) + ":").utf8)
        }
        typicalSize = keys.reduce(2) { $0 + $1.count + 12 }
    }

    public func object(row: UnsafeBufferPointer<Double>) -> String {
        guard !keys.isEmpty else { return "{}" }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(typicalSize)
        for (index, key) in keys.enumerated() {
            bytes.append(contentsOf: key)
            let value = row[index]
            if value.isNaN {
                bytes.append(contentsOf: "null".utf8)
            } else {
                // `description` of a Double is the shortest text that reads back exactly, and a
                // small string: no allocation.
                bytes.append(contentsOf: value.description.utf8)
            }
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }
}
