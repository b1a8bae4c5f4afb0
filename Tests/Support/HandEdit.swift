import Foundation

/// SQL that changes columns of `model_versions` the registry fixes once a version is registered
/// (threshold, golden rows, artifact), as an operator with the `sqlite3` shell could: the trigger
/// that forbids it dropped for the edit and put back as the migrations define it, so that
/// `registry-cli check` still finds the schema sound and only what the edit did shows.
public enum HandEdit {
    public static func fixedVersionColumns(_ updates: String) throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let migration = try String(contentsOf: root.appendingPathComponent("migrations/004_version_decision_fixed.sql"), encoding: .utf8)
        guard let create = migration.range(of: "CREATE TRIGGER model_versions_artifact_immutable") else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "migration 004 no longer creates the trigger"])
        }
        return "DROP TRIGGER model_versions_artifact_immutable;\n\(updates)\n\(migration[create.lowerBound...])"
    }
}
