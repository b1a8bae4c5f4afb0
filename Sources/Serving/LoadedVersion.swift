import ModelRuntime
import Registry

/// A registered version loaded into memory and proven: its artifact parsed and, when it carries
/// golden rows, every one of them reproduced. Immutable, so requests share it freely.
public struct LoadedVersion: Sendable {
    public let version: ModelVersion
    public let model: any ScoringModel
    public let rows: FeatureRowBuilder
    /// Feature positions by raw name bytes, for the request parser.
    public let index: FeatureIndex
    /// How the audit log writes this version's rows.
    public let featureJSON: FeatureJSON
    /// The largest difference from the golden scores seen at load (nil without golden rows).
    public let goldenMaxError: Double?
    /// The members every `/predict` answer of this version carries, made once:
    /// `"model":"fraud","version":"v3","threshold":0.06`.
    let answerFields: String

    /// Loads `loadable` and self-tests it. Throws `LoadError` naming the version and the problem.
    public init(_ loadable: LoadableVersion) throws(LoadError) {
        let version = loadable.version
        // The bytes must be the ones registered: a changed artifact is refused, not scored.
        guard ArtifactDigest.sha256Hex(loadable.artifact) == version.artifactSHA256 else {
            throw LoadError.checksum(model: version.model, version: version.label)
        }
        let model: any ScoringModel
        do {
            model = try ModelLoader.load(version.format, from: loadable.artifact)
        } catch {
            throw LoadError.artifact(model: version.model, version: version.label, reason: error.description)
        }
        guard model.featureNames == version.featureNames else {
            throw LoadError.schemaDrift(model: version.model, version: version.label)
        }
        // Register refuses these; a value edited in by hand would decide every transaction.
        guard Registry.isValidThreshold(version.threshold, for: model.output) else {
            throw LoadError.threshold(model: version.model, version: version.label, value: version.threshold)
        }
        var goldenMaxError: Double?
        if let golden = loadable.golden {
            do throws(GoldenError) {
                goldenMaxError = try GoldenSet(jsonLines: golden).verify(model)
            } catch {
                throw LoadError.selfTest(model: version.model, version: version.label, reason: error.description)
            }
        }
        self.version = version
        self.model = model
        self.rows = FeatureRowBuilder(model: model)
        self.index = FeatureIndex(featureNames: model.featureNames)
        self.featureJSON = FeatureJSON(names: model.featureNames)
        self.goldenMaxError = goldenMaxError
        self.answerFields = "\"model\":\(JSONText.quoted(version.model)),\"version\":\"\(version.label)\",\"threshold\":\(JSONText.number(version.threshold))"
    }

    public func decision(for score: Double) -> Decision {
        Decision(score: score, threshold: version.threshold)
    }
}

/// Why a version could not be put into service.
public enum LoadError: Error, CustomStringConvertible, Sendable {
    case artifact(model: String, version: VersionLabel, reason: String)
    case schemaDrift(model: String, version: VersionLabel)
    case checksum(model: String, version: VersionLabel)
    case selfTest(model: String, version: VersionLabel, reason: String)
    case threshold(model: String, version: VersionLabel, value: Double)

    public var description: String {
        switch self {
        case .artifact(let model, let version, let reason): return "\(model) \(version) does not load: \(reason)"
        case .checksum(let model, let version): return "\(model) \(version): the stored artifact does not match its sha256"
        case .schemaDrift(let model, let version): return "\(model) \(version): the artifact's features differ from the stored feature schema"
        case .selfTest(let model, let version, let reason): return "\(model) \(version) fails its self-test: \(reason)"
        case .threshold(let model, let version, let value):
            return "\(model) \(version): its stored threshold \(value.isNaN ? "is not a number" : "\(value) is out of range for its scores")"
        }
    }
}
