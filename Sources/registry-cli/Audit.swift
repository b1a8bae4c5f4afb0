import ArgumentParser
import Foundation
import Registry

extension RegistryCLI {
    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read the prediction audit log, newest first.",
            discussion: "Times are ISO 8601 (2026-11-29 or 2026-11-29T08:30:00Z); --since is inclusive, --until exclusive.")

        @OptionGroup var options: GlobalOptions

        @Option(help: "Only this model's predictions.")
        var model: String?

        @Option(help: "Only this version's predictions (such as v3).")
        var version: String?

        @Option(help: "Predictions at or after this time.")
        var since: String?

        @Option(help: "Predictions before this time.")
        var until: String?

        @Option(help: "Only the predictions of this request.")
        var requestId: String?

        @Option(help: "At most this many rows.")
        var limit: Int = 100

        @Flag(help: "Print JSON instead of a table.")
        var json = false

        func run() throws {
            var query = AuditQuery(model: model, requestID: requestId, limit: limit)
            query.version = try version.map { try VersionLabel(parsing: $0) }
            query.since = try since.map(Self.time)
            query.until = try until.map(Self.time)
            let entries = try options.openRegistry(.read).audit(query)
            if json {
                print(try JSONOutput.render(entries.map(AuditJSON.init)))
                return
            }
            var table = TextTable(headers: ["TIME", "REQUEST", "ROW", "MODEL", "VERSION", "SCORE", "DECISION", "LATENCY_US"])
            for entry in entries {
                table.rows.append([entry.predictedAt, entry.requestID, "\(entry.rowIndex)", entry.model, entry.version.description,
                                   String(format: "%.6f", entry.score), entry.decision, "\(entry.latencyMicroseconds)"])
            }
            print(table.render())
        }

        static func time(_ text: String) throws -> String {
            guard let stored = Timestamp.parse(text) else { throw RegistryError.invalidTime(text) }
            return stored
        }
    }
}

struct AuditJSON: Encodable {
    let id: Int64
    let predictedAt: String
    let requestID: String
    let rowIndex: Int
    let model: String
    let version: String
    let score: Double
    let decision: String
    let latencyMicroseconds: Int
    let features: [String: Double?]

    init(_ entry: AuditEntry) {
        id = entry.id
        predictedAt = entry.predictedAt
        requestID = entry.requestID
        rowIndex = entry.rowIndex
        model = entry.model
        version = entry.version.description
        score = entry.score
        decision = entry.decision
        latencyMicroseconds = entry.latencyMicroseconds
        let object = (try? JSONSerialization.jsonObject(with: Data(entry.featuresJSON.utf8))) as? [String: Any] ?? [:]
        features = object.mapValues { ($0 as? NSNumber)?.doubleValue }
    }

    enum CodingKeys: String, CodingKey {
        case id, model, version, score, decision, features
        case predictedAt = "predicted_at"
        case requestID = "request_id"
        case rowIndex = "row_index"
        case latencyMicroseconds = "latency_us"
    }
}
