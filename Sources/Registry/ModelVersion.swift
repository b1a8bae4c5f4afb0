import Foundation
import ModelRuntime

/// A version's per-model number, shown to people as `v3`.
public struct VersionLabel: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let number: Int

    public init(_ number: Int) { self.number = number }

    /// Reads `v3`, `V3` or `3`: decimal digits as the label prints them (not `v+3` or `v03`).
    public init(parsing text: String) throws(RegistryError) {
        let digits = text.hasPrefix("v") || text.hasPrefix("V") ? String(text.dropFirst()) : text
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), digits.first != "0",
              let number = Int(digits) else {
            throw RegistryError.invalidVersionLabel(text)
        }
        self.number = number
    }

    public var description: String { "v\(number)" }
    public static func < (lhs: VersionLabel, rhs: VersionLabel) -> Bool { lhs.number < rhs.number }
}

/// Where a version stands in its life.
public enum VersionStage: String, Sendable, Codable {
    case registered
    /// The active version: the one the service scores with. At most one per model.
    case production
    /// Retired for good: it cannot be promoted again.
    case archived
}

/// One registered version of a model, without its artifact bytes.
public struct ModelVersion: Sendable, Equatable {
    /// The row id in `model_versions`.
    public let id: Int64
    public let model: String
    public let label: VersionLabel
    public let format: ModelFormat
    public let artifactSHA256: String
    public let artifactSize: Int
    public let featureNames: [String]
    public let threshold: Double
    public let description: String?
    public let stage: VersionStage
    public let createdAt: String
    public let createdBy: String
    public let metrics: [String: Double]
    /// When this version last became active, if it ever did.
    public let activeSince: String?

    public var isActive: Bool { stage == .production }
}

/// A version together with what is needed to score with it, as stored: the service parses and
/// checks both when it loads the version, so a bad stored value refuses that version (its own data)
/// rather than failing the read (the database's).
public struct LoadableVersion: Sendable {
    public let version: ModelVersion
    public let artifact: [UInt8]
    /// The golden rows as JSON lines.
    public let golden: String?

    public init(version: ModelVersion, artifact: [UInt8], golden: String?) {
        self.version = version
        self.artifact = artifact
        self.golden = golden
    }
}

/// One entry of the promotion history.
public struct Promotion: Sendable, Equatable {
    public enum Action: String, Sendable { case promote, rollback }
    public let id: Int64
    public let model: String
    public let from: VersionLabel?
    public let to: VersionLabel
    public let action: Action
    public let at: String
    public let by: String
    public let reason: String?
}

extension JSONEncoder.NonConformingFloatEncodingStrategy {
    /// A threshold or metric that is not a number in the registry (edited in by hand) reads as NaN:
    /// written as "NaN" (the OpenAPI document's `StoredNumber`), not a failure to encode every
    /// version (`registry-cli check` names it).
    public static let storedNumbers = Self.convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
}
