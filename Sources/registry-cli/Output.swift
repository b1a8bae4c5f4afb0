import Foundation
import Registry

/// Renders rows as an aligned plain-text table.
struct TextTable {
    let headers: [String]
    var rows: [[String]] = []

    func render() -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                // Padded by characters, as the widths are counted: padding(toLength:) counts UTF-16
                // units, and cut a cell of emoji or other characters past U+FFFF short.
                index == cells.count - 1 ? cell : cell + String(repeating: " ", count: max(0, widths[index] - cell.count))
            }.joined(separator: "  ")
        }
        return ([line(headers)] + rows.map(line)).joined(separator: "\n")
    }
}

/// Stable JSON for scripts: sorted keys, no escaped slashes.
enum JSONOutput {
    static func render<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .storedNumbers
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// A version as `list --json` and `show --json` print it.
struct VersionJSON: Encodable {
    let model: String
    let version: String
    let stage: String
    let active: Bool
    let activeSince: String?
    let format: String
    let threshold: Double
    let artifactSHA256: String
    let artifactBytes: Int
    let features: [String]
    let metrics: [String: Double]
    let description: String?
    let createdAt: String
    let createdBy: String

    init(_ version: ModelVersion) {
        model = version.model
        self.version = version.label.description
        stage = version.stage.rawValue
        active = version.isActive
        activeSince = version.activeSince
        format = version.format.rawValue
        threshold = version.threshold
        artifactSHA256 = version.artifactSHA256
        artifactBytes = version.artifactSize
        features = version.featureNames
        metrics = version.metrics
        description = version.description
        createdAt = version.createdAt
        createdBy = version.createdBy
    }

    enum CodingKeys: String, CodingKey {
        case model, version, stage, active, format, threshold, features, metrics, description
        case activeSince = "active_since"
        case artifactSHA256 = "artifact_sha256"
        case artifactBytes = "artifact_bytes"
        case createdAt = "created_at"
        case createdBy = "created_by"
    }
}

struct PromotionJSON: Encodable {
    let id: Int64
    let model: String
    let from: String?
    let to: String
    let action: String
    let at: String
    let by: String
    let reason: String?

    init(_ promotion: Promotion) {
        id = promotion.id
        model = promotion.model
        from = promotion.from?.description
        to = promotion.to.description
        action = promotion.action.rawValue
        at = promotion.at
        by = promotion.by
        reason = promotion.reason
    }
}

extension Double {
    /// Short fixed-point text for tables.
    var tableText: String { String(format: "%.4f", self) }
}
