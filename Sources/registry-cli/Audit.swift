import ArgumentParser
import Foundation
import ModelRuntime
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
                print(try AuditJSON.render(entries, namingSources: several))
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

/// `audit --json`: a JSON array of the rows, each object's keys sorted as in the other commands'
/// `--json`, and its `features` the stored text itself: in the model's order, each number as the
/// request wrote it (README, the audit log). Decoded and encoded again, they came out sorted by
/// name, with each number re-spelled as a double, and a row whose text was not JSON (edited by
/// hand) printed `{}` without a word.
enum AuditJSON {
    static func render(_ entries: [(source: String, entry: AuditEntry)], namingSources: Bool) throws -> String {
        guard !entries.isEmpty else { return "[]" }
        var objects: [String] = []
        for (source, entry) in entries {
            guard Self.isJSONObject(entry.featuresJSON) else { throw AuditOutputError.featuresNotJSON(rowID: entry.id, registry: source) }
            var members = [
                ("decision", JSONText.quoted(entry.decision)), ("features", entry.featuresJSON), ("id", "\(entry.id)"),
                ("latency_us", "\(entry.latencyMicroseconds)"), ("model", JSONText.quoted(entry.model)),
                ("predicted_at", JSONText.quoted(entry.predictedAt)), ("request_id", JSONText.quoted(entry.requestID)),
                ("row_index", "\(entry.rowIndex)"), ("score", JSONText.number(entry.score)),
                ("version", JSONText.quoted(entry.version.description)),
            ]
            if namingSources { members.insert(("registry", JSONText.quoted(source)), at: 6) }
            objects.append("  {\n" + members.map { "    \"\($0.0)\" : \($0.1)" }.joined(separator: ",\n") + "\n  }")
        }
        return "[\n" + objects.joined(separator: ",\n") + "\n]"
    }

    private static func isJSONObject(_ text: String) -> Bool {
        guard case .object = try? JSONParser.parse(Array(text.utf8)) else { return false }
        return true
    }
}

/// Why `audit` could not print what it read.
enum AuditOutputError: Error, CustomStringConvertible {
    /// A row's features column is not a JSON object (edited by hand): printed, it would make the
    /// whole output invalid JSON.
    case featuresNotJSON(rowID: Int64, registry: String)

    var description: String {
        switch self {
        case .featuresNotJSON(let id, let registry):
            "audit row \(id) of \(registry) has a features column that is not a JSON object (edited by hand?); its row: SELECT * FROM predictions WHERE id = \(id)"
        }
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
