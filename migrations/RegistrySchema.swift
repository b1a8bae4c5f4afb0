// The migrations the binary carries. SwiftPM's `embedInCode` turns each .sql file beside this one
// into a byte array at build time, so the schema travels inside the executable. (SwiftPM names the
// constant after the file, with a leading digit turned into an underscore: 001_x.sql -> _01_x_sql.)

/// One numbered schema migration, as shipped in `migrations/`.
public struct SchemaMigration: Sendable, Equatable {
    /// The number the file name starts with; migrations apply in increasing order.
    public let number: Int
    /// The file name, recorded in `schema_migrations` when applied.
    public let name: String
    public let sql: String

    public init(number: Int, name: String, sql: String) {
        self.number = number
        self.name = name
        self.sql = sql
    }
}

public enum RegistrySchema {
    /// Every migration this binary knows, in the order they apply.
    public static let migrations: [SchemaMigration] = [
        SchemaMigration(number: 1, name: "001_registry.sql", sql: String(decoding: PackageResources._01_registry_sql, as: UTF8.self)),
        SchemaMigration(number: 2, name: "002_audit.sql", sql: String(decoding: PackageResources._02_audit_sql, as: UTF8.self)),
        SchemaMigration(number: 3, name: "003_audit_minutes.sql", sql: String(decoding: PackageResources._03_audit_minutes_sql, as: UTF8.self)),
        SchemaMigration(number: 4, name: "004_version_decision_fixed.sql", sql: String(decoding: PackageResources._04_version_decision_fixed_sql, as: UTF8.self)),
        SchemaMigration(number: 5, name: "005_no_replace.sql", sql: String(decoding: PackageResources._05_no_replace_sql, as: UTF8.self)),
    ]

    /// The schema version a fully migrated database has.
    public static var latestVersion: Int { migrations.last?.number ?? 0 }
}
