import Foundation
import Hummingbird
import Logging
import Registry

/// `GET /models` and `GET /models/{name}`: every model with its versions, what is active in the
/// registry, what this process is serving, and how its last reload went.
struct ModelsController: Sendable {
    let connection: RegistryConnection
    let models: ActiveModels
    /// One registry read at a time, shared by the requests that arrive meanwhile: the blocking pool
    /// has as many threads as cores and the reloader polls on it (its answers keep /readyz green), so
    /// a burst of `/models` calls must not queue ahead of it (as `StatusReader` does for `GET /`).
    let gate = SingleFlight<[ModelVersion]>()

    struct VersionBody: Encodable {
        let version: String
        let stage: String
        let format: String
        let threshold: Double
        let metrics: [String: Double]
        let artifactSHA256: String
        let artifactBytes: Int
        let featureCount: Int
        let description: String?
        let createdAt: String
        let createdBy: String
        let activeSince: String?

        enum CodingKeys: String, CodingKey {
            case version, stage, format, threshold, metrics, description
            case artifactSHA256 = "artifact_sha256", artifactBytes = "artifact_bytes", featureCount = "feature_count"
            case createdAt = "created_at", createdBy = "created_by", activeSince = "active_since"
        }
    }

    struct ModelBody: Encodable {
        let name: String
        let activeVersion: String?
        let activeSince: String?
        let servingVersion: String?
        let features: [String]
        let lastReloadAt: String?
        let lastReloadError: String?
        let lastReloadErrorAt: String?
        let failedVersion: String?
        let versions: [VersionBody]

        enum CodingKeys: String, CodingKey {
            case name, features, versions
            case activeVersion = "active_version", activeSince = "active_since", servingVersion = "serving_version"
            case lastReloadAt = "last_reload_at", lastReloadError = "last_reload_error"
            case lastReloadErrorAt = "last_reload_error_at", failedVersion = "failed_version"
        }
    }

    func list(_ request: Request, context: some RequestContext) async throws -> Response {
        try json(["models": try await bodies(only: nil)])
    }

    func one(_ request: Request, context: some RequestContext) async throws -> Response {
        // The router hands over the segment as sent: /models/fr%61ud names the model "fraud".
        let segment = context.parameters.get("name") ?? ""
        let name = segment.removingPercentEncoding ?? segment
        guard let model = try await bodies(only: name).first else {
            throw APIError(.unknownModel, "no model named '\(name)'")
        }
        return try json(model)
    }

    private func bodies(only name: String?) async throws -> [ModelBody] {
        let versions: [ModelVersion]
        do {
            versions = try await gate.run { try await connection.onBlockingPool { try $0.versions() } }
        } catch {
            throw APIError(.registryUnavailable, "the registry cannot be read: \(error)")
        }
        let serving = models.snapshot().versions
        let status = models.status()
        let grouped = Dictionary(grouping: versions, by: \.model)
        return grouped.keys.sorted().filter { name == nil || $0 == name }.map { model in
            let all = grouped[model] ?? []
            let active = all.first(where: \.isActive)
            let reload = status[model]
            return ModelBody(
                name: model, activeVersion: active?.label.description, activeSince: active?.activeSince,
                servingVersion: serving[model]?.version.label.description,
                features: (serving[model]?.version ?? active ?? all.last)?.featureNames ?? [],
                lastReloadAt: reload?.lastReloadAt.map(Timestamp.format), lastReloadError: reload?.lastFailure,
                lastReloadErrorAt: reload?.lastFailureAt.map(Timestamp.format), failedVersion: reload?.failedVersion?.description,
                versions: all.map { version in
                    VersionBody(version: version.label.description, stage: version.stage.rawValue, format: version.format.rawValue,
                                threshold: version.threshold, metrics: version.metrics, artifactSHA256: version.artifactSHA256,
                                artifactBytes: version.artifactSize, featureCount: version.featureNames.count,
                                description: version.description, createdAt: version.createdAt, createdBy: version.createdBy,
                                activeSince: version.activeSince)
                })
        }
    }

    private func json(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .storedNumbers
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }
}
