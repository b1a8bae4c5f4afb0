import Foundation
import ModelRuntime

/// Everything needed to register one new version.
public struct Registration: Sendable {
    public var model: String
    public var format: ModelFormat
    public var artifact: [UInt8]
    public var metrics: [String: Double]
    /// The decision threshold; nil takes the default of 0.5.
    public var threshold: Double?
    public var description: String?
    /// Rows the version must reproduce, now and every time the service loads it.
    public var golden: GoldenSet?
    public var createdBy: String

    public init(model: String, format: ModelFormat, artifact: [UInt8], metrics: [String: Double] = [:],
                threshold: Double? = nil, description: String? = nil, golden: GoldenSet? = nil, createdBy: String) {
        self.model = model
        self.format = format
        self.artifact = artifact
        self.metrics = metrics
        self.threshold = threshold
        self.description = description
        self.golden = golden
        self.createdBy = createdBy
    }
}

/// A registration `Registry.verify` has checked (its artifact parsed, its golden rows reproduced),
/// ready to be written.
public struct VerifiedRegistration: Sendable {
    public let registration: Registration
    let threshold: Double
    /// The artifact's digest, hex.
    public let sha256: String
    let featureSchema: String
}

extension Registry {
    static let defaultThreshold = 0.5

    /// The rule a threshold keeps, at registration and every time the version loads: a number, and
    /// for a model whose scores are probabilities, one from 0 to 1.
    public static func isValidThreshold(_ threshold: Double, for output: ModelOutput) -> Bool {
        threshold.isFinite && (output == .raw || (0...1).contains(threshold))
    }
    static let insertModel = "INSERT INTO models (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING"
    static let nextVersionNumber = "SELECT coalesce(max(version), 0) + 1 FROM model_versions WHERE model_id = ?1"
    static let insertVersion = """
        INSERT INTO model_versions (model_id, version, format, artifact, artifact_sha256, artifact_size,
            feature_schema, threshold, description, golden_rows, stage, created_at, created_by)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'registered', ?11, ?12)
        """
    static let insertMetric = "INSERT INTO version_metrics (version_id, name, value) VALUES (?1, ?2, ?3)"

    static func isValidModelName(_ name: String) -> Bool {
        // "." and ".." alone would name no model in a URL path (/models/..).
        (1...128).contains(name.utf8.count) && name != "." && name != ".."
            && name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)) }
    }

    /// Registers a new version of `registration.model` (creating the model on its first version)
    /// and returns it. The artifact is parsed in full and the golden rows scored before anything is
    /// written.
    ///
    /// Throws `.invalidModelName`, `.artifactRejected` (the evaluator cannot score it exactly),
    /// `.goldenMismatch` / `.goldenUnreadable`, `.invalidThreshold`, `.invalidMetric`, and the
    /// database errors of `write`.
    @discardableResult
    public func register(_ registration: Registration) throws -> ModelVersion {
        try register([Self.verify(registration)], skippingHeldArtifacts: false)[0]!
    }

    /// Registers `registrations`, in order, in one transaction: all of them or none. With
    /// `skippingHeldArtifacts`, one whose artifact its model holds already is left out (nil in the
    /// result). That is decided inside the transaction, so two runs at once cannot both add it.
    @discardableResult
    public func register(_ registrations: [VerifiedRegistration], skippingHeldArtifacts: Bool) throws -> [ModelVersion?] {
        let added = try write { () throws -> [ModelVersion?] in
            // Taken once the write lock is held: a register that waited for another's stamped an
            // earlier time on the later version.
            let now = Timestamp.now()
            var held: [String: Set<String>] = [:]
            return try registrations.map { verified in
                let model = verified.registration.model
                if skippingHeldArtifacts {
                    if held[model] == nil {
                        held[model] = try modelNames().contains(model) ? Set(versions(model: model).map(\.artifactSHA256)) : []
                    }
                    guard held[model]?.insert(verified.sha256).inserted == true else { return nil }
                }
                // Read back inside the transaction: a read after the commit could fail (the file
                // replaced meanwhile) and report as failed a version that is stored, which a retry
                // would then register again.
                return try version(insert(verified, at: now), model: model)
            }
        }
        for version in added.compactMap({ $0 }) {
            logger.info("registered version", metadata: [
                "model.name": "\(version.model)", "model.version": "\(version.label)",
                "model.sha256": "\(version.artifactSHA256)", "model.version_id": "\(version.id)",
            ])
        }
        return added
    }

    /// A metric's name: letters, digits and `_ . : -` (it becomes a JSON key, a line of `show` and a
    /// column of `list`).
    public static func isValidMetricName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || "_.:-".unicodeScalars.contains($0) }
    }

    /// Checks `registration` without a database: its model name, its artifact parsed in full, its
    /// threshold and metrics, and its golden rows scored. Throws what `register` throws for them.
    public static func verify(_ registration: Registration) throws -> VerifiedRegistration {
        guard isValidModelName(registration.model) else { throw RegistryError.invalidModelName(registration.model) }
        let model: any ScoringModel
        do {
            model = try ModelLoader.load(registration.format, from: registration.artifact)
        } catch {
            throw RegistryError.artifactRejected(format: registration.format, reason: error.description)
        }
        let threshold = registration.threshold ?? defaultThreshold
        guard Self.isValidThreshold(threshold, for: model.output) else {
            throw RegistryError.invalidThreshold("\(threshold)")
        }
        for (name, value) in registration.metrics where !isValidMetricName(name) || !value.isFinite {
            throw RegistryError.invalidMetric("\(name)=\(value)")
        }
        if let golden = registration.golden {
            do {
                try golden.verify(model)
            } catch {
                switch error {
                case .mismatch(let row, let expected, let actual):
                    throw RegistryError.goldenMismatch(row: row, expected: expected, actual: actual)
                case .unreadable(let detail):
                    throw RegistryError.goldenUnreadable(reason: detail)
                }
            }
        }
        return VerifiedRegistration(
            registration: registration, threshold: threshold, sha256: ArtifactDigest.sha256Hex(registration.artifact),
            featureSchema: String(decoding: try JSONSerialization.data(withJSONObject: model.featureNames), as: UTF8.self))
    }

    /// Inside a write transaction: the model (on its first version), the version, its metrics.
    /// Returns the new version's label.
    private func insert(_ verified: VerifiedRegistration, at now: String) throws -> VersionLabel {
        let registration = verified.registration
        try db.run(Self.insertModel, [registration.model, now])
        guard let modelID = try db.scalarInt(Self.selectModelID, [registration.model]),
              let number = try db.scalarInt(Self.nextVersionNumber, [modelID]) else {
            throw RegistryError.database("model \(registration.model) vanished during registration")
        }
        try db.run(Self.insertVersion, [
            modelID, number, registration.format.rawValue, registration.artifact, verified.sha256,
            registration.artifact.count, verified.featureSchema, verified.threshold, registration.description,
            registration.golden?.jsonLines(), now, registration.createdBy,
        ])
        let versionID = db.lastInsertRowID
        for (name, value) in registration.metrics.sorted(by: { $0.key < $1.key }) {
            try db.run(Self.insertMetric, [versionID, name, value])
        }
        return VersionLabel(number)
    }
}
