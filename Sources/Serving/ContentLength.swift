/// A request's declared body length, as HTTP/1.1 writes it (RFC 9110 §8.6: decimal digits).
enum ContentLength {
    /// The length `text` declares; `Int.max` for digits past what an `Int` holds (NIO's parser
    /// passes lengths up to `UInt64.max`), which is over any limit; nil when it is not digits.
    static func bytes(_ text: String) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return Int(text) ?? .max
    }
}
