/// The id given to a request that brings none: a UUID version 7 (RFC 9562) in lower case.
///
/// Version 7 starts with the Unix time in milliseconds, so the ids the service makes grow with
/// time and the audit log's request-id index is appended to at its end, instead of every row
/// dirtying a random index page (which doubled the bytes each audit commit writes). Formatted by
/// hand because Foundation's `UUID().uuidString.lowercased()` allocates twice per request.
public enum RequestID {
    private static let digits = Array("0123456789abcdef".utf8)

    /// The id for a request received at `unixMilliseconds` (the time its audit rows carry).
    static func make(unixMilliseconds: UInt64) -> String {
        var generator = SystemRandomNumberGenerator()
        let random = generator.next() as UInt64
        // 48 bits of time, version 7, then 64 random bits around the variant (0b10): 12 in rand_a,
        // 52 in rand_b, the rest of rand_b zero. One random word keeps it to one getrandom call.
        let high = (unixMilliseconds << 16) | 0x7000 | (random >> 52)
        let low = (0b10 << 62) | (random & 0x000F_FFFF_FFFF_FFFF)
        return String(unsafeUninitializedCapacity: 36) { buffer in
            var at = 0
            for half in 0..<2 {
                let value = half == 0 ? high : low
                for nibble in 0..<16 {
                    let position = half * 16 + nibble
                    if position == 8 || position == 12 || position == 16 || position == 20 {
                        buffer[at] = UInt8(ascii: "-")
                        at += 1
                    }
                    buffer[at] = digits[Int((value >> (60 - 4 * UInt64(nibble))) & 0xF)]
                    at += 1
                }
            }
            return at
        }
    }
}

extension RequestID {
    public static let maxLength = 128

    /// Why `id` cannot be a request id, or nil when it can: 1 to 128 characters (code points, as
    /// JSON Schema's `maxLength` in the OpenAPI document counts them) of printable text.
    public static func problem(with id: String) -> String? {
        guard !id.isEmpty, id.unicodeScalars.count <= maxLength else { return "\"request_id\" must have 1 to \(maxLength) characters" }
        guard PrintableText.isPrintable(id) else {
            return "\"request_id\" must not contain control characters, format characters, characters drawn as nothing or line separators"
        }
        return nil
    }
}
