import HTTPTypes
import Testing
@testable import Serving

/// `HTTPFields.combined(_:)`, which `/predict` reads its request headers with, gives what HTTPTypes'
/// own `fields[name]` gives (one field's value, several joined by ", ", nil for none), for random
/// lists of fields in any case and order.
struct HTTPFieldsCombinedTests {
    @Test(arguments: [1, 2, 3] as [UInt64])
    func combinedIsTheSubscriptsValue(seed: UInt64) {
        var random = PredictParserFuzzTests.SplitMix(state: seed)
        let names = ["Content-Type", "content-type", "CONTENT-LENGTH", "Content-Encoding", "Connection", "Host", "X-Extra"]
        let values = ["application/json", "text/plain; charset=utf-8", "12", "gzip", "close", "", " a , b "]
        let asked: [HTTPField.Name] = [.contentType, .contentLength, .contentEncoding, .connection, HTTPField.Name("Host")!, .accept]
        for _ in 0..<2_000 {
            var fields = HTTPFields()
            for _ in 0..<Int.random(in: 0...6, using: &random) {
                let name = HTTPField.Name(names.randomElement(using: &random)!)!
                fields.append(HTTPField(name: name, value: values.randomElement(using: &random)!))
            }
            for name in asked {
                #expect(fields.combined(name) == fields[name], "\(name) in \(fields)")
            }
        }
    }
}
