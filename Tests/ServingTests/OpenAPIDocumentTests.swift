import Foundation
import Serving
import Testing

/// The OpenAPI document against the service's own rules (the end-to-end suite checks that it is
/// served whole and is valid OpenAPI).
struct OpenAPIDocumentTests {
    /// A client that checks `request_id` against the OpenAPI document's pattern is refused exactly
    /// what the service refuses, for every character of the Basic Multilingual Plane (the pattern
    /// cannot name the rest portably; the description says the service refuses those too).
    @Test func openAPIRequestIDPatternRefusesWhatTheServiceRefuses() throws {
        let refusedBySpec = try Python.run("""
            import re, sys, yaml
            schemas = yaml.safe_load(sys.stdin.read())["components"]["schemas"]
            for name in ("SingleRequest", "BatchRequest"):
                assert schemas[name]["properties"]["request_id"] == {"$ref": "#/components/schemas/RequestID"}, name
            pattern = re.compile(schemas["RequestID"]["pattern"])
            print(" ".join(f"{c:X}" for c in range(0x10000)
                           if not 0xD800 <= c <= 0xDFFF and not pattern.search("a" + chr(c) + "b")))
            """, stdin: String(decoding: OpenAPIDocument.bytes, as: UTF8.self))
        let refusedByService = (0..<0x10000).compactMap(Unicode.Scalar.init).filter(PrintableText.isUnprintable)
            .map { String($0.value, radix: 16, uppercase: true) }.joined(separator: " ")
        #expect(refusedBySpec == refusedByService)
        #expect(refusedByService.split(separator: " ").count > 60)
    }
}
