import Foundation
import Hummingbird
import Testing
@testable import ModelRuntime
@testable import Registry
@testable import Serving

/// The /predict body parser against valid bodies, then against many thousands of corrupted ones: it
/// must place every valid feature exactly, and answer anything else with an APIError, never a crash.
struct PredictParserFuzzTests {
    /// A small deterministic generator (SplitMix64), so a failure can be replayed from its seed.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func snapshot() throws -> (ActiveModels.Snapshot, LoadedVersion) {
        let folder = ServiceHarness.models.appendingPathComponent("fraud-xgboost")
        let artifact = [UInt8](try Data(contentsOf: folder.appendingPathComponent("model.json")))
        let model = try ModelLoader.load(.xgboostJSON, from: artifact)
        let version = ModelVersion(id: 1, model: "fraud", label: VersionLabel(1), format: .xgboostJSON,
                                   artifactSHA256: ArtifactDigest.sha256Hex(artifact), artifactSize: artifact.count,
                                   featureNames: model.featureNames, threshold: 0.5, description: nil, stage: .production,
                                   createdAt: "", createdBy: "", metrics: [:], activeSince: nil)
        let loaded = try LoadedVersion(LoadableVersion(version: version, artifact: artifact, golden: nil))
        return (ActiveModels.Snapshot(versions: ["fraud": loaded], settled: true), loaded)
    }

    static func parse(_ body: [UInt8], _ snapshot: ActiveModels.Snapshot) -> Result<PredictRequest, APIError> {
        body.withUnsafeBytes { bytes in
            do throws(APIError) { return .success(try PredictRequestParser.parse(bytes, models: snapshot, maxBatchSize: 50)) } catch { return .failure(error) }
        }
    }

    @Test func validBodiesBecomeExactRows() throws {
        let (snapshot, loaded) = try Self.snapshot()
        let golden = try GoldenRequests("fraud-xgboost")
        let decoded = try GoldenSet(jsonLines: String(contentsOf: ServiceHarness.models.appendingPathComponent("fraud-xgboost/golden.jsonl"), encoding: .utf8))
        for (index, body) in golden.bodies.enumerated() {
            let request = try Self.parse(Array(body.utf8), snapshot).get()
            let expected = try loaded.rows.row(from: decoded.rows[index].features)
            #expect(request.rows.count == 1)
            #expect(zip(request.rows[0], expected).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }, "row \(index)")
        }
        // Members in another order, escapes in a name, white space everywhere: the same row.
        let first = golden.features[0]
        let reordered = " { \"request_id\" : \"r\" , \"model\" : \"fraud\" , \"features\" : \(first.replacingOccurrences(of: "\"amount\"", with: "\"am\\u006funt\"")) } "
        let request = try Self.parse(Array(reordered.utf8), snapshot).get()
        let plain = try Self.parse(Array(golden.bodies[0].utf8), snapshot).get()
        #expect(request.requestID == "r")
        #expect(request.rows[0].elementsEqual(plain.rows[0]) { $0 == $1 || ($0.isNaN && $1.isNaN) })
    }

    /// What the audit queue keeps of a body: a real row's body whole (shared, not copied); a body
    /// that is mostly padding only as its numbers; the stored features are the same either way.
    @Test func paddedBodiesAreNotKeptWholeForTheAudit() throws {
        let (snapshot, loaded) = try Self.snapshot()
        let golden = try GoldenRequests("fraud-xgboost", limit: 3)
        let plain = golden.bodies[0]
        let padded = "{\"features\":" + golden.features[0] + String(repeating: " ", count: 100_000) + "}"
        let batch = "{\"instances\":[" + golden.features.joined(separator: ",") + "]}"
        var stored: [String] = []
        for (text, keptWhole) in [(plain, true), (padded, false), (batch, true)] {
            let request = try Self.parse(Array(text.utf8), snapshot).get()
            let body = ByteBuffer(string: text)
            let (kept, spans) = PredictController.keptForAudit(body, spans: request.spans)
            let numbers = request.spans.joined().reduce(0) { $0 + $1.count }
            #expect(kept.readableBytes == (keptWhole ? body.readableBytes : numbers))
            stored.append(kept.withUnsafeReadableBytes { loaded.featureJSON.object(body: $0, spans: spans[0]) })
        }
        #expect(stored[1] == stored[0] && stored[2] == stored[0])
        #expect(stored[0].hasPrefix("{\"amount\":35.85,\"hour_of_day\":21.0,"))
    }

    /// The parser tries the name after the previous feature's first: any other order, and names
    /// that share a prefix or a length with the expected one, must still land on their own column.
    @Test func featuresInAnyOrderBecomeTheSameRow() throws {
        let (snapshot, loaded) = try Self.snapshot()
        let names = loaded.model.featureNames
        let golden = try GoldenRequests("fraud-xgboost", limit: 5)
        var random = SplitMix(state: 7)
        for body in golden.bodies {
            let row = try Self.parse(Array(body.utf8), snapshot).get().rows[0]
            func text(_ order: [Int]) -> String {
                let members = order.map { "\"\(names[$0])\":\(row[$0].isNaN ? "null" : "\(row[$0])")" }
                return "{\"features\":{\(members.joined(separator: ","))}}"
            }
            let orders = [Array(names.indices), Array(names.indices.reversed()), names.indices.shuffled(using: &random)]
            for order in orders {
                let bytes = Array(text(order).utf8)
                let parsed = try Self.parse(bytes, snapshot).get()
                #expect(parsed.rows[0].elementsEqual(row) { $0 == $1 || ($0.isNaN && $1.isNaN) }, "order \(order)")
                // Each value's span (what the audit log copies) covers its text exactly; a null none.
                for (position, span) in parsed.spans[0].enumerated() {
                    let spelled = String(decoding: bytes[span.start..<span.start + span.count], as: UTF8.self)
                    #expect(spelled == (row[position].isNaN ? "" : "\(row[position])"), "\(names[position]) in order \(order)")
                }
            }
            // The expected next name with a byte more or less, or one changed, is no feature.
            let second = names[1]
            for wrong in [String(second.dropLast()), second + "x", String(second.dropLast()) + "_"] {
                let body = text(Array(names.indices)).replacingOccurrences(of: "\"\(second)\":", with: "\"\(wrong)\":")
                guard case .failure(let error) = Self.parse(Array(body.utf8), snapshot) else {
                    Issue.record("'\(wrong)' was accepted as a feature")
                    continue
                }
                #expect(error.status.code == 422 && error.detail.contains(wrong), "\(error.detail)")
            }
            // A name given twice is refused, whichever copy comes first.
            let twice = text([0, 1, 0] + Array(names.indices.dropFirst(2)))
            guard case .failure(let error) = Self.parse(Array(twice.utf8), snapshot) else {
                Issue.record("a feature given twice was accepted")
                continue
            }
            #expect(error.status.code == 422 && error.detail.contains("given twice"), "\(error.detail)")
        }
    }

    @Test(arguments: [1, 2, 3, 4])
    func corruptedBodiesAreRefusedNeverACrash(seed: UInt64) throws {
        let (snapshot, _) = try Self.snapshot()
        let golden = try GoldenRequests("fraud-xgboost", limit: 20)
        let batch = "{\"instances\":[\(golden.features.prefix(3).joined(separator: ","))]}"
        let seeds = golden.bodies.map { Array($0.utf8) } + [Array(batch.utf8)]
        var random = SplitMix(state: seed)
        let alphabet = Array("{}[]\":,0123456789-+.eEtrufalsn \\u\t\n".utf8) + [0, 0xFF, 0xC3, 0x80]
        var accepted = 0, refused = 0
        for _ in 0..<5_000 {
            var body = seeds[Int(random.next() % UInt64(seeds.count))]
            for _ in 0..<(1 + Int(random.next() % 4)) {
                guard !body.isEmpty else { break }
                let position = Int(random.next() % UInt64(body.count))
                switch random.next() % 5 {
                case 0: body[position] = alphabet[Int(random.next() % UInt64(alphabet.count))]
                case 1: body.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: position)
                case 2: body.remove(at: position)
                case 3: body = Array(body.prefix(position))
                default: body.insert(contentsOf: body[position..<min(body.count, position + 16)], at: position)
                }
            }
            switch Self.parse(body, snapshot) {
            case .success(let request):
                accepted += 1
                // Whatever was accepted is a full row of finite numbers or missing values.
                #expect(request.rows.allSatisfy { $0.count == 30 && $0.allSatisfy { $0.isNaN || $0.isFinite } })
            case .failure(let error):
                refused += 1
                #expect(!error.detail.isEmpty)
                #expect([400, 404, 413, 422, 503].contains(Int(error.status.code)), "\(error.status) for \(String(decoding: body, as: UTF8.self))")
            }
        }
        #expect(refused > 1_000)
        print("fuzz seed \(seed): \(accepted) accepted, \(refused) refused")
    }
}
