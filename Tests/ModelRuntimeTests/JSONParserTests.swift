import Foundation
import Testing
@testable import ModelRuntime

struct JSONParserTests {
    static func parse(_ text: String) -> JSONValue? { try? JSONParser.parse(Array(text.utf8)) }

    /// Every number reads as the double nearest its decimal, as strtod and Swift's Double(String) do.
    @Test(arguments: ["0.26175000000000004", "2215.7199999999998", "1.0000000180025095e-35", "-0.0", "1E-1",
                      "123456789012345678901234567890", "4.9e-324", "1.7976931348623157e308", "0", "-12", "3.0602197E3",
                      "9007199254740993", "0.1", "-2.5e+3"])
    func numbersAreCorrectlyRounded(_ text: String) throws {
        let parsed = try #require(Self.parse("[\(text)]"))
        #expect(parsed == .array([.number(Double(text)!)]))
        if case .array(let values) = parsed, case .number(let value) = values[0] {
            #expect(value.sign == Double(text)!.sign)
        }
    }

    /// A number longer than the limit is read past, its grammar checked, and not converted (nil);
    /// one at the limit is converted; a grammar error is reported whatever the length.
    @Test func aNumberLongerThanTheLimitIsNotConverted() throws {
        for (text, limit, expected) in [("1" + String(repeating: "0", count: 1_000_000) + ",", 100, nil),
                                        ("1e" + String(repeating: "0", count: 98) + "1,", 100, nil),
                                        ("1e" + String(repeating: "0", count: 97) + "1,", 100, 10.0),
                                        ("-2.5e+3,", 8, -2500.0), ("-2.5e+3,", 6, nil)] as [(String, Int, Double?)] {
            let bytes = Array(text.utf8)
            try bytes.withUnsafeBufferPointer { (buffer) throws in
                var parser = JSONParser(buffer)
                #expect(try parser.parseNumber(writtenWithAtMost: limit) == expected, "\(text.prefix(12)) at \(limit)")
                #expect(parser.offset == bytes.count - 1, "\(text.prefix(12)): the number is read to its end")
            }
        }
        let bad = Array((String(repeating: "1", count: 200) + ".x").utf8)
        bad.withUnsafeBufferPointer { buffer in
            var parser = JSONParser(buffer)
            #expect(throws: JSONParseError.self) { try parser.parseNumber(writtenWithAtMost: 100) }
        }
    }

    /// The fast path (a significand of up to 15 digits scaled by up to 1e22) and strtod must agree
    /// bit for bit on every side of its bounds: 14 to 17 digits, scales around ±22, leading zeros,
    /// exponents, signs. Seeded, so a failure replays.
    @Test func randomDecimalsReadExactlyAsStrtodReadsThem() throws {
        var state: UInt64 = 0x5EED_2026
        func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
        for _ in 0..<20_000 {
            var text = next(4) == 0 ? "-" : ""
            let integerDigits = next(4) == 0 ? 1 : 1 + next(17)
            for position in 0..<integerDigits {
                text += position == 0 && integerDigits > 1 ? String(1 + next(9)) : String(next(10))
            }
            if next(3) > 0 {
                text += "."
                if next(4) == 0 { text += String(repeating: "0", count: next(25)) }
                for _ in 0..<(1 + next(17)) { text += String(next(10)) }
            }
            if next(3) == 0 { text += ["e", "E"][next(2)] + ["", "+", "-"][next(3)] + String(next(30)) }
            let parsed = try #require(Self.parse("[\(text)]"), "\(text) did not parse")
            let expected = strtod(text, nil)
            guard case .array(let values) = parsed, case .number(let value) = values[0] else {
                Issue.record("\(text) did not read as a number")
                continue
            }
            #expect(value.bitPattern == expected.bitPattern, "\(text): read \(value), strtod \(expected)")
        }
    }

    @Test func structuresStringsAndEscapes() throws {
        let parsed = Self.parse(#" { "a" : [1, true, false, null, "x\"y\\z\/\n\u00e9\ud83d\ude00"], "b": {} , "c": [] } "#)
        #expect(parsed == .object([
            "a": .array([.number(1), .bool(true), .bool(false), .null, .string("x\"y\\z/\né😀")]),
            "b": .object([:]), "c": .array([]),
        ]))
        #expect(Self.parse(#""naïve ✓""#) == .string("naïve ✓"))
    }

    @Test(arguments: ["", "[", "[1,]", "{\"a\"}", "{\"a\":1,}", "01", "1.", ".5", "-", "1e", "+1", "NaN", "Infinity",
                      "[1] x", "\"unterminated", "\"bad \\q escape\"", "\"\\ud800\"", "tru", "nul", "{'a': 1}",
                      "\"tab\tinside\"", "[1 2]", "{\"a\" 1}", "{\"a\": 1, \"a\": 2}", "{\"a\": 1, \"\\u0061\": 1}"])
    func invalidTextIsRefused(_ text: String) {
        #expect(Self.parse(text) == nil, "accepted \(text)")
    }

    @Test func errorsSayWhere() {
        #expect(throws: JSONParseError(offset: 3, reason: "expected a value")) { try JSONParser.parse(Array("[1,]".utf8)) }
        #expect(throws: JSONParseError(offset: 2, reason: "expected a digit after '.'")) { try JSONParser.parse(Array("1.x".utf8)) }
        #expect(throws: JSONParseError(offset: 9, reason: "the name \"a\" is given twice")) { try JSONParser.parse(Array("{\"a\": 1, \"a\": 2}".utf8)) }
    }

    /// JSON text is UTF-8: a malformed sequence in a string is refused, not replaced with U+FFFD.
    @Test(arguments: [[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xC0, 0xAF]] as [[UInt8]])
    func malformedUTF8IsRefused(_ sequence: [UInt8]) {
        for escaped in [false, true] {
            let bytes = Array("[\"a".utf8) + (escaped ? Array("\\n".utf8) : []) + sequence + Array("b\"]".utf8)
            #expect(throws: JSONParseError.self, "\(sequence), escaped: \(escaped)") { try JSONParser.parse(bytes) }
        }
        #expect(Self.parse("[\"é\"]") == .array([.string("é")]))
    }

    @Test func deepNestingIsRefusedNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(deep.utf8)) }
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(Self.parse(fine) != nil)
    }

    /// Agrees with Foundation's JSONDecoder (exact, but slow) on every committed golden file.
    @Test func agreesWithJSONDecoderOnTheGoldenFiles() throws {
        struct Row: Decodable { let features: [String: Double?]; let score: Double }
        for example in ExampleModels.all.prefix(4) {
            for line in try String(contentsOf: example.goldenFiles[0], encoding: .utf8).split(separator: "\n").prefix(50) {
                let decoded = try JSONDecoder().decode(Row.self, from: Data(line.utf8))
                guard case .object(let object)? = Self.parse(String(line)), case .object(let features)? = object["features"] else {
                    Issue.record("golden line did not parse")
                    return
                }
                #expect(object["score"] == .number(decoded.score))
                for (name, value) in decoded.features {
                    #expect(features[name] == (value.map { JSONValue.number($0) } ?? .null))
                }
            }
        }
    }
}
