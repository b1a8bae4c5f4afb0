import Foundation
import Logging
import ModelRuntime
import Registry
import ServiceLifecycle

/// Makes this replica's registry serve the versions Git asks for.
///
/// In Kubernetes every replica owns its registry file (SQLite must be written from one host), so a
/// promotion cannot be one shared UPDATE. Instead the pinned versions live in Git, are rendered into
/// a ConfigMap mounted as a file (a JSON object, model name → "vN", or → {"version": "vN",
/// "sha256": the artifact's digest}), and each replica reads that file
/// every `interval` and promotes the named version in its own registry (recorded with the actor
/// `gitops`). The `ModelReloader` then loads, self-tests and swaps it in as for any promotion.
///
/// A version that is unknown, archived, another artifact than the pinned digest, or fails its
/// self-test is not promoted: the current one
/// keeps serving, and stays the registry's active version. Promoting one that fails would leave
/// this replica's running process serving the old version but every later one (a restart, a new
/// pod of the same PVC) with nothing to serve.
public final class DesiredVersionsApplier: Service, Sendable {
    static let actor = "gitops"

    let path: String
    let connection: RegistryConnection
    let interval: Duration
    let metrics: ServingMetrics
    let models: ActiveModels
    let logger: Logger

    public init(path: String, configuration: ServiceConfiguration, models: ActiveModels, metrics: ServingMetrics, logger: Logger) {
        self.path = path
        self.models = models
        connection = RegistryConnection(configuration, access: .write, logger: logger)
        interval = .milliseconds(configuration.desiredVersionsIntervalMilliseconds)
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        let state = PollState()
        await runBlockingPoll(every: interval) { self.poll(state) }
    }

    /// What one poll leaves for the next. Used by one poll at a time (each is awaited).
    final class PollState: @unchecked Sendable {
        /// The last problem logged, so that a file that stays wrong is logged once, not every second.
        var lastProblem: String?
        /// Versions that failed their self-test, by id, with why: a version's artifact and golden
        /// rows never change, so one that failed is not loaded again at every poll.
        var refused: [Int64: String] = [:]
    }

    func poll(_ state: PollState) {
        // Whatever this pass does, the pod may turn ready once the reloader has loaded its outcome.
        defer { models.desiredVersionsPassed() }
        do {
            let desired = try DesiredVersions(contentsOf: path)
            try connection.use { try apply(desired, to: $0, refused: &state.refused) }
            metrics.desiredVersions(inSync: true)
            state.lastProblem = nil
        } catch {
            metrics.desiredVersions(inSync: false)
            let problem = "\(error)"
            if problem != state.lastProblem {
                logger.error("desired versions not applied; the current versions keep serving", metadata: [
                    "desired_versions.file": "\(path)", "error": "\(problem)",
                ])
                state.lastProblem = problem
            }
        }
    }

    /// Promotes each desired version that is not already the active one, once it has loaded and
    /// passed its self-test. Throws the refusals (unknown model or version, another artifact than
    /// the pinned digest, archived version, a failed self-test) after applying the others: each
    /// model's, since one model's lasting problem would otherwise hide another's.
    func apply(_ desired: DesiredVersions, to registry: Registry, refused: inout [Int64: String]) throws {
        var errors: [Error] = []
        for (model, pin) in desired.versions.sorted(by: { $0.key < $1.key }) {
            let label = pin.label
            do {
                if let active = try registry.activeVersion(model: model), active.label == label {
                    // Nothing to promote, but a replica whose vN is another artifact (a registry
                    // bootstrapped from another bundle) is not what Git pins: said, not hidden. It
                    // keeps serving: refusing every request on every replica for a pin typed wrong
                    // would be an outage, and each answer and audit row names its version's row.
                    try pin.check(active)
                    continue
                }
                let version = try registry.version(label, model: model)
                // First: labels that name other artifacts here say more than the version's stage.
                try pin.check(version)
                // Refused before it is loaded: promote would refuse it after a load and self-test,
                // at every poll.
                guard version.stage != .archived else { throw RegistryError.versionArchived(model: model, version: label.description) }
                if refused[version.id] == nil {
                    // Reading it is the registry's business: a lock or an I/O error is retried at
                    // the next poll. Only a version that does not load or self-test is refused for good.
                    let loadable = try registry.loadable(version)
                    do { _ = try LoadedVersion(loadable) } catch { refused[version.id] = "\(error)" }
                }
                if let reason = refused[version.id] { throw DesiredVersionsError.selfTestFailed(model: model, version: label, reason: reason) }
                let promotion = try registry.promote(label, model: model, reason: "desired version in \(path)", by: Self.actor)
                metrics.desiredVersionApplied(model: model)
                logger.info("desired version promoted", metadata: [
                    "model.name": "\(model)", "model.version": "\(label)",
                    "model.previous_version": "\(promotion.from?.description ?? "none")",
                ])
            } catch {
                errors.append(error)
            }
        }
        if errors.count == 1 { throw errors[0] }
        if errors.count > 1 { throw DesiredVersionsError.several(errors.map { "\($0)" }) }
    }
}

/// What a desired-versions file pins for one model: a version label, and the sha256 of the
/// artifact it must hold when the file gives one.
///
/// Labels are per registry: `v3` is the same artifact on every replica only as long as each
/// registered the same bundle in the same order. The digest makes a replica whose `v3` is
/// something else refuse it instead of serving it under the pinned name.
struct DesiredVersion: Equatable {
    let label: VersionLabel
    let sha256: String?

    /// Throws `.digestMismatch` when a digest is pinned and `version`'s artifact is another.
    func check(_ version: ModelVersion) throws(DesiredVersionsError) {
        guard let sha256, version.artifactSHA256 != sha256 else { return }
        throw .digestMismatch(model: version.model, version: label, pinned: sha256, held: version.artifactSHA256)
    }
}

/// The content of a desired-versions file: `{"fraud": "v3"}`, or with the artifact's digest,
/// `{"fraud": {"version": "v3", "sha256": "9f2c…"}}`.
struct DesiredVersions: Equatable {
    let versions: [String: DesiredVersion]

    init(contentsOf path: String) throws(DesiredVersionsError) {
        // Read once a second: a FIFO there would hold the poll, and shutdown behind it, for ever.
        if let problem = Registry.notARegularFile(path) { throw .malformed(path: path, reason: problem) }
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path) }
        let object: [String: JSONValue]
        do throws(JSONObjectError) { object = try JSONValue.object(data) } catch { throw .malformed(path: path, reason: error.description) }
        var versions: [String: DesiredVersion] = [:]
        for (model, value) in object {
            versions[model] = try Self.pin(value, model: model, path: path)
        }
        self.versions = versions
    }

    private static func pin(_ value: JSONValue, model: String, path: String) throws(DesiredVersionsError) -> DesiredVersion {
        let shape = "the version of \(model) must be a string such as \"v3\", or an object with \"version\" and \"sha256\""
        let versionText: JSONValue?
        var sha256: String?
        switch value {
        case .string:
            versionText = value
        case .object(let fields):
            if let unknown = fields.keys.sorted().first(where: { $0 != "version" && $0 != "sha256" }) {
                throw .malformed(path: path, reason: "\(model) has an unknown key \"\(unknown)\" (\"version\" and \"sha256\" are read)")
            }
            versionText = fields["version"]
            switch fields["sha256"] {
            case nil, .null?: sha256 = nil
            case .string(let digest)? where digest.isEmpty: sha256 = nil
            case .string(let digest)? where ArtifactDigest.isSHA256Hex(digest): sha256 = digest
            default: throw .malformed(path: path, reason: "the sha256 of \(model) must be 64 lower-case hexadecimal digits")
            }
        default:
            throw .malformed(path: path, reason: shape)
        }
        guard case .string(let text)? = versionText, let label = try? VersionLabel(parsing: text) else {
            throw .malformed(path: path, reason: shape)
        }
        return DesiredVersion(label: label, sha256: sha256)
    }
}

enum DesiredVersionsError: Error, CustomStringConvertible {
    case unreadable(path: String)
    case malformed(path: String, reason: String)
    case selfTestFailed(model: String, version: VersionLabel, reason: String)
    case digestMismatch(model: String, version: VersionLabel, pinned: String, held: String)
    /// More than one model's pin was not applied: each one's problem, for the one log line.
    case several([String])

    var description: String {
        switch self {
        case .unreadable(let path): "desired versions file \(path) does not exist or cannot be read"
        case .malformed(let path, let reason): "desired versions file \(path): \(reason)"
        case .selfTestFailed(let model, let version, let reason): "\(model) \(version) is not promoted: it does not load here (\(reason))"
        case .digestMismatch(let model, let version, let pinned, let held):
            "\(model) \(version) here is artifact sha256 \(held), not the pinned \(pinned): this registry's labels differ from the one that made the pin (a bundle registered in another order?)"
        case .several(let problems): "\(problems.count) pins not applied: " + problems.joined(separator: "; ")
        }
    }
}
