import Foundation
import ModelRuntime

extension Registry {
    static let selectModelNames = "SELECT name FROM models ORDER BY name"
    static let selectModelID = "SELECT id FROM models WHERE name = ?1"
    static let selectVersionsBase = """
        SELECT v.id, m.name, v.version, v.format, v.artifact_sha256, v.artifact_size, v.feature_schema,
               v.threshold, v.description, v.stage, v.created_at, v.created_by,
               (SELECT p.promoted_at FROM promotions p WHERE p.to_version_id = v.id ORDER BY p.id DESC LIMIT 1)
        FROM model_versions v JOIN models m ON m.id = v.model_id
        """
    static let selectAllVersions = selectVersionsBase + " ORDER BY m.name, v.version"
    static let selectModelVersions = selectVersionsBase + " WHERE m.name = ?1 ORDER BY v.version"
    static let selectOneVersion = selectVersionsBase + " WHERE m.name = ?1 AND v.version = ?2"
    static let selectActiveVersion = selectVersionsBase + " WHERE m.name = ?1 AND v.stage = 'production'"
    static let selectMetrics = "SELECT name, value FROM version_metrics WHERE version_id = ?1 ORDER BY name"
    static let selectAllMetrics = "SELECT version_id, name, value FROM version_metrics"
    static let selectArtifact = "SELECT artifact, golden_rows FROM model_versions WHERE id = ?1"

    /// The names of every model, sorted.
    public func modelNames() throws -> [String] {
        try read { try db.prepare(Self.selectModelNames).rows { $0.text(0) } }
    }

    /// The model a command is about: `name` when given (it must exist), else the only model.
    /// Throws `.modelNotFound`, `.noModels`, or `.modelRequired` when several exist.
    public func resolveModel(_ name: String?) throws -> String {
        if let name {
            guard try read({ try db.scalarInt(Self.selectModelID, [name]) }) != nil else {
                throw RegistryError.modelNotFound(name)
            }
            return name
        }
        let names = try modelNames()
        switch names.count {
        case 0: throw RegistryError.noModels
        case 1: return names[0]
        default: throw RegistryError.modelRequired(available: names)
        }
    }

    /// Every version of `model`, or of every model when nil, oldest first.
    public func versions(model: String? = nil) throws -> [ModelVersion] {
        try read {
            let metrics = try allMetrics()
            if let model {
                return try db.prepare(Self.selectModelVersions).rows([model]) { try Self.version(from: $0, metrics: metrics) }
            }
            return try db.prepare(Self.selectAllVersions).rows { try Self.version(from: $0, metrics: metrics) }
        }
    }

    /// One version. Throws `.modelNotFound` or `.versionNotFound`.
    public func version(_ label: VersionLabel, model: String) throws -> ModelVersion {
        try read {
            guard try db.scalarInt(Self.selectModelID, [model]) != nil else { throw RegistryError.modelNotFound(model) }
            let found = try db.prepare(Self.selectOneVersion).firstRow([model, label.number]) { row in
                try Self.version(from: row, metrics: [row.int64(0): try metrics(versionID: row.int64(0))])
            }
            guard let found else { throw RegistryError.versionNotFound(model: model, version: label.description) }
            return found
        }
    }

    /// The active (production) version of `model`, or nil when none is active.
    public func activeVersion(model: String) throws -> ModelVersion? {
        try read {
            try db.prepare(Self.selectActiveVersion).firstRow([model]) { row in
                try Self.version(from: row, metrics: [row.int64(0): try metrics(versionID: row.int64(0))])
            }
        }
    }

    /// A version with its artifact and golden rows, ready to load.
    public func loadable(_ version: ModelVersion) throws -> LoadableVersion {
        try read {
            guard let (artifact, golden) = try db.prepare(Self.selectArtifact).firstRow([version.id], { ($0.blob(0), $0.optionalText(1)) }) else {
                throw RegistryError.versionNotFound(model: version.model, version: version.label.description)
            }
            return LoadableVersion(version: version, artifact: artifact, golden: golden)
        }
    }

    private func metrics(versionID: Int64) throws -> [String: Double] {
        var result: [String: Double] = [:]
        for (name, value) in try db.prepare(Self.selectMetrics).rows([versionID], { ($0.text(0), $0.number(1)) }) {
            result[name] = value
        }
        return result
    }

    private func allMetrics() throws -> [Int64: [String: Double]] {
        var result: [Int64: [String: Double]] = [:]
        for (id, name, value) in try db.prepare(Self.selectAllMetrics).rows([], { ($0.int64(0), $0.text(1), $0.number(2)) }) {
            result[id, default: [:]][name] = value
        }
        return result
    }

    private static func version(from row: Row, metrics: [Int64: [String: Double]]) throws -> ModelVersion {
        let id = row.int64(0)
        guard let format = ModelFormat(rawValue: row.text(3)), let stage = VersionStage(rawValue: row.text(9)) else {
            throw RegistryError.database("version row \(id) has an unknown format or stage")
        }
        let schema = (try? JSONSerialization.jsonObject(with: Data(row.text(6).utf8))) as? [String] ?? []
        return ModelVersion(
            id: id, model: row.text(1), label: VersionLabel(row.int(2)), format: format,
            artifactSHA256: row.text(4), artifactSize: row.int(5), featureNames: schema,
            // NaN when the stored value is not a number (edited by hand): the version then does not
            // load, rather than deciding with a threshold of 0.
            threshold: row.number(7), description: row.optionalText(8), stage: stage,
            createdAt: row.text(10), createdBy: row.text(11), metrics: metrics[id] ?? [:],
            activeSince: stage == .production ? row.optionalText(12) : nil)
    }
}
