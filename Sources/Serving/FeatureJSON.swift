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

    /// The object with each value copied as the request spelled it: `spans` (in the model's order)
    /// locate the values in `body`, an empty span is `null`. The parser checked every value against
    /// JSON's number grammar, so the copy is valid JSON, and nothing is formatted: the audit writer
    /// formats every scored row, and a double's shortest text cost it a quarter of its time.
    public func object(body: UnsafeRawBufferPointer, spans: [ValueSpan]) -> String {
        guard !keys.isEmpty else { return "{}" }
        precondition(spans.count == keys.count, "one value span per feature")
        var size = 1
        for (key, span) in zip(keys, spans) { size += key.count + (span.count == 0 ? 4 : span.count) }
        return String(unsafeUninitializedCapacity: size) { out in
            var at = 0
            func append(_ bytes: UnsafeRawBufferPointer) {
                UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: out[at..<at + bytes.count])).copyMemory(from: bytes)
                at += bytes.count
            }
            for (key, span) in zip(keys, spans) {
                key.withUnsafeBytes(append)
                if span.count == 0 {
                    Self.null.withUnsafeBytes(append)
                } else {
                    append(UnsafeRawBufferPointer(rebasing: body[span.start..<span.start + span.count]))
                }
            }
            out[at] = UInt8(ascii: "}")
            return at + 1
        }
    }

    private static let null: [UInt8] = Array("null".utf8)
}
