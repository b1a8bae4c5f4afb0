import ArgumentParser
import Foundation
import Registry

extension RegistryCLI {
    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read the prediction audit log, newest first.",
            discussion: """
                Times are ISO 8601: a date (2026-11-29, from midnight UTC) or a date and time with Z or an \
                offset (2026-11-29T08:30:00Z, 2026-11-29T09:30:00+01:00); the times listed are UTC. --since is \
                inclusive, --until exclusive. \
                --include adds other registries (such as consistent copies of each Kubernetes replica's, see \
                docs/deploy.md): their rows are merged, newest first, and each row names the file it came from.
                """)

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

        @Option(parsing: .unconditional, help: "At most this many rows.")
        var limit: Int = 100

        @Option(help: ArgumentHelp("Another registry file to read too; repeatable.", valueName: "path"))
        var include: [String] = []

        @Flag(help: "Print JSON instead of a table.")
        var json = false

        func run() throws {
            var query = AuditQuery(model: model, requestID: requestId, limit: limit)
            query.version = try version.map { try VersionLabel(parsing: $0) }
            query.since = try since.map(Self.time)
            query.until = try until.map(Self.time)
            if let since = query.since, let until = query.until, since >= until {
                throw AuditInputError.emptyWindow(since: self.since!, until: self.until!)
            }
            let paths = [options.databasePath] + include
            // The same file twice (by another name, a symlink or a hard link) would list each of
            // its rows twice. A missing file has no identity; opening it says so below.
            var seen: [FileIdentity: String] = [:]
            for path in paths {
                guard let identity = FileIdentity(path: path) else { continue }
                if let first = seen.updateValue(path, forKey: identity) {
                    throw AuditInputError.registryNamedTwice(path, first: first)
                }
            }
            var entries: [(source: String, entry: AuditEntry)] = []
            // An unknown model or version would list nothing, as if it had made no prediction: it is
            // refused unless one of the files holds it (replicas may not all have registered it yet).
            var unknown: RegistryError?
            var held = false
            for path in paths {
                // Any of them may be a copy kept as evidence (docs/deploy.md): read without a byte of
                // it changing.
                let registry = try Registry.open(path: path, access: .readUntouched,
                                                 busyTimeoutMilliseconds: options.busyTimeout, logger: options.logger())
                let missing: RegistryError?
                do {
                    missing = try Self.lacks(query.version, model: model, in: registry)
                } catch where !include.isEmpty {
                    // Several models in one of several files: which one.
                    throw AuditInputError.inRegistry(path, reason: "\(error)")
                }
                if let missing {
                    unknown = unknown ?? missing
                    continue
                }
                held = true
                entries += try registry.audit(query).map { (path, $0) }
            }
            if let unknown, !held { throw include.isEmpty ? unknown : AuditInputError.inNone(of: paths.count, reason: "\(unknown)") }
            // Each file gave its newest `limit` rows; the newest `limit` of them all are the answer.
            // Within one file and millisecond, by row id as the query ordered them: not left to
            // the sort's stability.
            entries.sort { ($0.entry.predictedAt, $0.source, $0.entry.id) > ($1.entry.predictedAt, $1.source, $1.entry.id) }
            entries = Array(entries.prefix(limit))
            let several = !include.isEmpty
            if json {
                print(try JSONOutput.render(entries.map { AuditJSON($0.entry, registry: several ? $0.source : nil) }))
                return
            }
            var table = TextTable(headers: ["TIME", "REQUEST", "ROW", "MODEL", "VERSION", "SCORE", "DECISION", "LATENCY_US"] + (several ? ["REGISTRY"] : []))
            for (source, entry) in entries {
                table.rows.append([entry.predictedAt, entry.requestID, "\(entry.rowIndex)", entry.model, entry.version.description,
                                   // Exactly as stored: rounded, a score just under the threshold read as on it.
                                   "\(entry.score)", entry.decision, "\(entry.latencyMicroseconds)"] + (several ? [source] : []))
            }
            print(table.render())
        }

        /// Why `registry` holds nothing the query asks for (the model named, or the version), or nil.
        static func lacks(_ label: VersionLabel?, model: String?, in registry: Registry) throws -> RegistryError? {
            do {
                if let label {
                    _ = try registry.version(label, model: registry.resolveModel(model))
                } else if let model {
                    _ = try registry.resolveModel(model)
                }
                return nil
            } catch let error as RegistryError {
                switch error {
                case .versionNotFound, .modelNotFound, .noModels: return error
                default: throw error
                }
            }
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
    /// The file the row came from, when several were read.
    let registry: String?

    init(_ entry: AuditEntry, registry: String? = nil) {
        self.registry = registry
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
        case id, model, version, score, decision, features, registry
        case predictedAt = "predicted_at"
        case requestID = "request_id"
        case rowIndex = "row_index"
        case latencyMicroseconds = "latency_us"
    }
}

/// Arguments of `audit` that could only list nothing, or list rows twice.
enum AuditInputError: Error, CustomStringConvertible {
    /// `--since` is not before `--until`.
    case emptyWindow(since: String, until: String)
    /// One registry file named twice (by another name, a symlink or a hard link).
    case registryNamedTwice(_ path: String, first: String)
    /// One of several registries could not answer the query.
    case inRegistry(_ path: String, reason: String)
    /// None of several registries holds the model or version asked for.
    case inNone(of: Int, reason: String)

    var description: String {
        switch self {
        case .emptyWindow(let since, let until): "--since \(since) is not before --until \(until): no prediction can match"
        case .registryNamedTwice(let path, let first): "\(path) is the same file as \(first): name each registry once"
        case .inRegistry(let path, let reason): "in \(path): \(reason)"
        case .inNone(let count, let reason): "\(reason), in any of the \(count) registries"
        }
    }
}
