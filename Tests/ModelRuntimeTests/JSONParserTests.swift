import Foundation
import Testing
@testable import ModelRuntime

struct JSONParserTests {
    static func parse(_ text: String) -> JSONValue? { JSONValue.parse(Array(text.utf8)) }

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
                      "\"tab\tinside\"", "[1 2]", "{\"a\" 1}"])
    func invalidTextIsRefused(_ text: String) {
        #expect(Self.parse(text) == nil, "accepted \(text)")
    }

    @Test func errorsSayWhere() {
        #expect(throws: JSONParseError(offset: 3, reason: "expected a value")) { try JSONParser.parse(Array("[1,]".utf8)) }
        #expect(throws: JSONParseError(offset: 2, reason: "expected a digit after '.'")) { try JSONParser.parse(Array("1.x".utf8)) }
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
