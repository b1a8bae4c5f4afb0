#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a JSON text was not accepted, with the byte offset where reading stopped.
public struct JSONParseError: Error, CustomStringConvertible, Equatable, Sendable {
    public let offset: Int
    public let reason: String

    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "\(reason) at byte \(offset)" }
}

/// A strict RFC 8259 JSON reader over bytes.
///
/// Written for Sentinel rather than taken from Foundation because, on Linux, `JSONSerialization`
/// rounds some decimals to the wrong double (0.26175000000000004 reads as 0.2617500000000001, which
/// moves a value across a split threshold), and `JSONDecoder` is exact but takes seconds on a 10 MB
/// model. Numbers here are checked against the JSON grammar, then converted by `strtod`, which
/// rounds correctly. Nesting is bounded so that hostile input cannot exhaust the stack.
public struct JSONParser {
    public static let maximumDepth = 256

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    public init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Parses one JSON value that must fill the whole input (surrounding white space aside). A name
    /// given twice in an object is refused unless `allowingRepeatedNames` (JSON's grammar allows it:
    /// for a caller that only checks the grammar, or refuses repeats in its own words).
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, allowingRepeatedNames: Bool = false) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0, refusingRepeatedNames: !allowingRepeatedNames)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw parser.error("unexpected data after the JSON value") }
        return value
    }

    public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer throws(JSONParseError) in try parse(buffer) }
    }

    func error(_ reason: String) -> JSONParseError { JSONParseError(offset: index, reason: reason) }

    @inline(__always)
    public var isAtEnd: Bool { index >= bytes.count }

    @inline(__always)
    public var offset: Int { index }

    @inline(__always)
    public func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    @inline(__always)
    public mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    /// Consumes `byte` (after white space) or throws naming what was expected.
    public mutating func expect(_ byte: UInt8, _ what: String) throws(JSONParseError) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { throw error("expected \(what)") }
        index += 1
    }

    /// Consumes `byte` if it is next (after white space).
    public mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    mutating func parseValue(depth: Int, refusingRepeatedNames: Bool = true) throws(JSONParseError) -> JSONValue {
        guard depth < Self.maximumDepth else { throw error("nesting deeper than \(Self.maximumDepth)") }
        skipWhitespace()
        guard let byte = peek() else { throw error("unexpected end of input") }
        switch byte {
        case UInt8(ascii: "{"):
            index += 1
            var object: [String: JSONValue] = [:]
            if consume(UInt8(ascii: "}")) { return .object(object) }
            repeat {
                skipWhitespace()
                let keyOffset = index
                let key = try parseString()
                try expect(UInt8(ascii: ":"), "':' after an object key")
                // RFC 8259 leaves a repeated name's meaning open; every reader here refuses it
                // rather than keep one of the values silently (as the service does for features).
                let value = try parseValue(depth: depth + 1, refusingRepeatedNames: refusingRepeatedNames)
                guard object.updateValue(value, forKey: key) == nil || !refusingRepeatedNames else {
                    throw JSONParseError(offset: keyOffset, reason: "the name \"\(key)\" is given twice")
                }
            } while consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "}"), "',' or '}' in an object")
            return .object(object)
        case UInt8(ascii: "["):
            index += 1
            var array: [JSONValue] = []
            if consume(UInt8(ascii: "]")) { return .array(array) }
            repeat {
                array.append(try parseValue(depth: depth + 1, refusingRepeatedNames: refusingRepeatedNames))
            } while consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "]"), "',' or ']' in an array")
            return .array(array)
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default:
            return .number(try parseNumber())
        }
    }

    /// Consumes `null`, returning true, or leaves the input alone and returns false.
    public mutating func consumeNull() throws(JSONParseError) -> Bool {
        skipWhitespace()
        guard peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    private mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw error("invalid literal") }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] {
            throw error("invalid literal")
        }
        index += count
    }

    /// Reads a JSON number: the grammar is checked here, the value converted by strtod.
    public mutating func parseNumber() throws(JSONParseError) -> Double {
        // Without a limit every number is converted.
        try parseNumber(writtenWithAtMost: .max) ?? .nan
    }

    /// Reads a JSON number as `parseNumber` does; nil, without converting it, when it is written
    /// with more than `maxLength` characters (a megabyte of digits is not worth strtod's time).
    public mutating func parseNumber(writtenWithAtMost maxLength: Int) throws(JSONParseError) -> Double? {
        skipWhitespace()
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        guard let first = peek(), isDigit(first) else { throw error("expected a value") }
        // The digits, integer and fraction, as one integer (significand) while they fit in 15
        // significant digits, and the power of ten that scales it.
        var significand: UInt64 = 0
        var significantDigits = 0
        var scale = 0
        if first == UInt8(ascii: "0") {
            index += 1
        } else {
            while let byte = peek(), isDigit(byte) {
                if significantDigits < 16 { significand = significand * 10 + UInt64(byte - 48) } else { scale += 1 }
                significantDigits += 1
                index += 1
            }
        }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard let byte = peek(), isDigit(byte) else { throw error("expected a digit after '.'") }
            while let byte = peek(), isDigit(byte) {
                if significantDigits < 16 {
                    significand = significand * 10 + UInt64(byte - 48)
                    scale -= 1
                    if significand > 0 { significantDigits += 1 }
                } else {
                    significantDigits += 1
                }
                index += 1
            }
        }
        var exponentOverflow = false
        if let byte = peek(), byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            index += 1
            var negative = false
            if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                negative = sign == UInt8(ascii: "-")
                index += 1
            }
            guard let digit = peek(), isDigit(digit) else { throw error("expected a digit in the exponent") }
            var exponent = 0
            while let byte = peek(), isDigit(byte) {
                if exponent < 100_000 { exponent = exponent * 10 + Int(byte - 48) } else { exponentOverflow = true }
                index += 1
            }
            scale += negative ? -exponent : exponent
        }
        guard index - start <= maxLength else { return nil }
        // Clinger's fast path: a significand of at most 15 digits and a power of ten up to 22 are
        // both exact doubles, so one multiplication or division, correctly rounded, gives the
        // correctly rounded value, exactly what strtod returns. Everything else goes to strtod.
        if significantDigits <= 15 && !exponentOverflow && scale >= -22 && scale <= 22 {
            let magnitude = Double(significand)
            let value = scale < 0 ? magnitude / Self.powersOfTen[-scale] : magnitude * Self.powersOfTen[scale]
            return bytes[start] == UInt8(ascii: "-") ? -value : value
        }
        let length = index - start
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { buffer in
            for offset in 0..<length { buffer[offset] = CChar(bitPattern: bytes[start + offset]) }
            buffer[length] = 0
            return strtod(buffer.baseAddress!, nil)
        }
    }

    /// Reads a string without escapes and answers where its bytes lie, after the opening quote and
    /// before the closing one, making no String. A string with an escape is left unread (answer
    /// nil) for `parseString` to decode.
    public mutating func parsePlainString() throws(JSONParseError) -> Range<Int>? {
        guard peek() == UInt8(ascii: "\"") else { throw error("expected a string") }
        var end = index + 1
        var nonASCII: UInt8 = 0
        while end < bytes.count {
            let byte = bytes[end]
            if byte == UInt8(ascii: "\"") {
                // JSON text is UTF-8, as in `parseString`; all-ASCII names (nearly all) skip the check.
                if nonASCII & 0x80 != 0, String(validating: UnsafeBufferPointer(rebasing: bytes[(index + 1)..<end]), as: UTF8.self) == nil {
                    index += 1
                    throw error("invalid UTF-8 in a string")
                }
                defer { index = end + 1 }
                return (index + 1)..<end
            }
            nonASCII |= byte
            if byte == UInt8(ascii: "\\") { return nil }
            guard byte >= 0x20 else {
                index = end
                throw error("control character in a string")
            }
            end += 1
        }
        index = end
        throw error("unterminated string")
    }

    /// 1e0 ... 1e22, every one exact in a double.
    static let powersOfTen: [Double] = (0...22).map { exponent in
        var value = 1.0
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    /// Reads a JSON string (the opening quote must be next).
    public mutating func parseString() throws(JSONParseError) -> String {
        guard peek() == UInt8(ascii: "\"") else { throw error("expected a string") }
        index += 1
        let start = index
        // Fast path: no escapes.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                // JSON text is UTF-8 (RFC 8259 §8.1): a malformed sequence is refused, not repaired.
                guard let string = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self) else {
                    throw error("invalid UTF-8 in a string")
                }
                index += 1
                return string
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw error("control character in a string") }
            index += 1
        }
        var scalars = [UInt8](UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let string = String(validating: scalars, as: UTF8.self) else { throw error("invalid UTF-8 in a string") }
                return string
            case UInt8(ascii: "\\"):
                guard let escaped = peek() else { throw error("unterminated escape") }
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(escaped)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code) {
                        guard peek() == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                            throw error("unpaired surrogate")
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(code) {
                        throw error("unpaired surrogate")
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw error("invalid \\u escape") }
                    scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
                default:
                    throw error("invalid escape")
                }
            default:
                guard byte >= 0x20 else { throw error("control character in a string") }
                scalars.append(byte)
            }
        }
        throw error("unterminated string")
    }

    private mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - 48
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - 87
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - 55
            default: throw error("invalid hex digit in \\u escape")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    /// Skips one value of any kind (used by readers that only want some members).
    public mutating func skipValue() throws(JSONParseError) {
        _ = try parseValue(depth: 0)
    }

    @inline(__always)
    private func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }
}
