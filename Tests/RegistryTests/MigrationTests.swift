import Foundation
import RegistrySchema
import Testing
@testable import Registry

struct MigrationTests {
    /// The migrations the binary carries are exactly the .sql files in migrations/, in order.
    @Test func embeddedMigrationsEqualTheFilesOnDisk() throws {
        let folder = TemporaryDirectory.repositoryRoot.appendingPathComponent("migrations")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files == RegistrySchema.migrations.map(\.name))
        for migration in RegistrySchema.migrations {
            let onDisk = try String(contentsOf: folder.appendingPathComponent(migration.name), encoding: .utf8)
            #expect(onDisk == migration.sql, "\(migration.name) differs from the embedded copy")
            #expect(migration.name.hasPrefix(String(format: "%03d_", migration.number)))
        }
        #expect(RegistrySchema.migrations.map(\.number) == Array(1...RegistrySchema.migrations.count))
    }

    /// A shipped migration never changes, not by a space: `registry-cli check` compares every
    /// registry's schema objects, statement text included, with the migrations applied afresh, so
    /// an edit would report every registry made before it. A new migration adds its digest here.
    @Test func shippedMigrationsAreNeverEdited() throws {
        let shipped = [
            "001_registry.sql": "485ee653b0485780064e90e4003ed943e36945c6601de1507d06c0a663f33374",
            "002_audit.sql": "411cf983f608eded768050690e4bb2c7f961b6d8d3dc0796f32cf5e3c4b99cca",
            "003_audit_minutes.sql": "e913f6f90848630512023a79d981f1979293237fd3c3ae30a12a6fed33d5ba90",
            "004_version_decision_fixed.sql": "c5fdf2d947d0e203cb44d0039700d6ee72005769bcc68959b9f46aa25e0e277d",
            "005_no_replace.sql": "7b317a94a50efabf18ac14a26d05d998abc76f9f21b97d815d2efb007c6e5df9",
        ]
        #expect(Set(RegistrySchema.migrations.map(\.name)) == Set(shipped.keys), "a new migration: add its sha256 here")
        for migration in RegistrySchema.migrations {
            #expect(ArtifactDigest.sha256Hex(Array(migration.sql.utf8)) == shipped[migration.name], "\(migration.name) was edited")
        }
    }

    @Test func freshDatabaseGetsEveryMigrationOnce() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("fresh.db")
        let applied = try Registry.initialise(path: path)
        #expect(applied.map(\.number) == RegistrySchema.migrations.map(\.number))
        let bytes = FileManager.default.contents(atPath: path)
        #expect(try Registry.initialise(path: path).isEmpty)
        #expect(FileManager.default.contents(atPath: path) == bytes)

        let db = try Connection(path: path, options: .init(mode: .readOnly))
        #expect(try Migrator().status(of: db) == .current(version: RegistrySchema.latestVersion))
        let tables = try db.prepare("SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') ORDER BY name").rows { $0.text(0) }
        for name in ["models", "model_versions", "version_metrics", "promotions", "predictions", "schema_migrations",
                     "version_summary", "promotion_log", "prediction_log",
                     "latency_buckets", "prediction_minutes", "prediction_minutes_through", "prediction_minute_log"] {
            #expect(tables.contains(name), "missing \(name)")
        }
        let indexes = try db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'predictions'").rows { $0.text(0) }
        #expect(Set(indexes).isSuperset(of: ["predictions_by_time", "predictions_by_version", "predictions_by_request"]))
        #expect(try db.scalarText("PRAGMA integrity_check") == "ok")
    }

    @Test func upgradeFromTheFirstMigrationKeepsData() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("upgrade.db")
        #expect(try Registry.initialise(path: path, upTo: 1).map(\.number) == [1])
        do {
            let db = try Connection(path: path)
            #expect(try Migrator().status(of: db) == .behind(version: 1))
            try db.run("INSERT INTO models (name, created_at) VALUES ('fraud', '2026-01-01T00:00:00.000Z')")
        }
        // A behind database is refused by everything but init.
        #expect(throws: RegistryError.schemaBehind(path: path, databaseVersion: 1, knownVersion: RegistrySchema.latestVersion)) {
            _ = try Registry.open(path: path, access: .read)
        }
        #expect(try Registry.initialise(path: path).map(\.number) == Array(2...RegistrySchema.latestVersion))
        let registry = try Registry.open(path: path, access: .read)
        #expect(try registry.modelNames() == ["fraud"])
        #expect(try registry.auditCount() == 0)
    }

    /// From migration 4 on, a version's threshold and golden rows are fixed like its artifact, in a
    /// registry made before it too: the audit log's decisions were drawn at that threshold.
    @Test func aVersionsThresholdAndGoldenRowsAreFixedOnceRegistered() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("fixed.db")
        try Registry.initialise(path: path, upTo: 3)
        do {
            // Registered (rows written as a registry of schema 3 writes them) before the upgrade.
            let db = try Connection(path: path)
            try db.run("INSERT INTO models (name, created_at) VALUES ('fraud', '2026-01-01T00:00:00.000Z')")
            try db.run("""
                INSERT INTO model_versions (model_id, version, format, artifact, artifact_sha256, artifact_size, feature_schema,
                                            threshold, golden_rows, stage, created_at, created_by)
                VALUES (1, 1, 'logistic', X'7B7D', '\(String(repeating: "a", count: 64))', 2, '[]', 0.5, '', 'registered', '2026-01-01T00:00:00.000Z', 'test')
                """)
            try db.run("UPDATE model_versions SET threshold = 0.4 WHERE id = 1")
        }
        try Registry.initialise(path: path)
        let db = try Connection(path: path)
        for change in ["threshold = 0.3", "golden_rows = 'x'", "artifact = X'7B207D'"] {
            #expect(throws: (any Error).self, "\(change)") { try db.run("UPDATE model_versions SET \(change) WHERE id = 1") }
            do { try db.run("UPDATE model_versions SET \(change) WHERE id = 1") } catch {
                #expect("\(error)".contains("a registered version's artifact, identity, threshold and golden rows cannot change"), "\(error)")
            }
        }
        try db.run("UPDATE model_versions SET stage = 'production', description = 'a note' WHERE id = 1")
        #expect(try db.scalarText("SELECT threshold || ' ' || stage FROM model_versions WHERE id = 1") == "0.4 production")

        // REPLACE deletes the row it collides with without firing DELETE triggers: refused from
        // migration 5 on, by id or by (model, version), and for the promotion history too.
        try db.run("INSERT INTO promotions (model_id, from_version_id, to_version_id, action, promoted_at, promoted_by) VALUES (1, NULL, 1, 'promote', 't', 'test')")
        let sha = String(repeating: "b", count: 64)
        for replace in [
            "REPLACE INTO model_versions (id, model_id, version, format, artifact, artifact_sha256, artifact_size, feature_schema, threshold, stage, created_at, created_by) VALUES (1, 1, 1, 'logistic', X'7B7D', '\(sha)', 2, '[]', 0.01, 'production', 't', 'x')",
            "REPLACE INTO model_versions (model_id, version, format, artifact, artifact_sha256, artifact_size, feature_schema, threshold, stage, created_at, created_by) VALUES (1, 1, 'logistic', X'7B7D', '\(sha)', 2, '[]', 0.01, 'production', 't', 'x')",
            "REPLACE INTO promotions (id, model_id, from_version_id, to_version_id, action, promoted_at, promoted_by) VALUES (1, 1, NULL, 1, 'promote', 't2', 'mallory')",
        ] {
            #expect(throws: (any Error).self, "\(replace.prefix(40))") { try db.run(replace) }
        }
        #expect(try db.scalarText("SELECT threshold || ' ' || artifact_sha256 FROM model_versions") == "0.4 \(String(repeating: "a", count: 64))")
        #expect(try db.scalarText("SELECT promoted_by FROM promotions") == "test")
    }

    @Test func databaseNewerThanTheBinaryIsRefusedUntouched() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("newer.db")
        try Registry.initialise(path: path)
        do {
            let db = try Connection(path: path)
            try db.run(Migrator.insertLedger, [99, "099_future.sql", "2030-01-01T00:00:00.000Z"])
        }
        let bytes = FileManager.default.contents(atPath: path)
        let expected = RegistryError.schemaTooNew(path: path, databaseVersion: 99, knownVersion: RegistrySchema.latestVersion)
        #expect(throws: expected) { try Registry.initialise(path: path) }
        #expect(throws: expected) { _ = try Registry.open(path: path, access: .write) }
        #expect(throws: expected) { _ = try Registry.open(path: path, access: .read) }
        #expect(FileManager.default.contents(atPath: path) == bytes)
        #expect(expected.description.contains("newer than this registry-cli knows"))
    }

    @Test func failingMigrationLeavesNoTrace() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("failing.db")
        let broken = RegistrySchema.migrations.prefix(1) + [SchemaMigration(number: 2, name: "002_broken.sql", sql: "CREATE TABLE half (x); CREATE TABLE oops (")]
        let db = try Connection(path: path, options: .init(mode: .readWriteCreate))
        #expect(throws: SQLiteError.self) { try Migrator(migrations: Array(broken)).migrate(db) }
        // Migration 1 committed on its own; migration 2 left nothing, not even its first table.
        #expect(try Migrator(migrations: Array(broken)).status(of: db) == .behind(version: 1))
        #expect(try db.scalarInt("SELECT count(*) FROM sqlite_schema WHERE name = 'half'") == 0)
    }

    /// A write that cannot grow the file (SQLite's page limit here, a full disk in production)
    /// names the registry, and its transaction leaves nothing behind.
    @Test func fullDiskNamesTheRegistryAndChangesNothing() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("full.db")
        _ = try Registry.initialise(path: path)
        let registry = try Registry.open(path: path, access: .write)
        let pages = try #require(try registry.db.scalarInt("PRAGMA page_count"))
        try registry.db.execute("PRAGMA max_page_count = \(pages)")
        let error = #expect(throws: RegistryError.self) {
            try registry.write {
                for index in 0..<2_000 {
                    try registry.db.run("INSERT INTO models (name, created_at) VALUES (?1, ?2)",
                                        [String(repeating: "m", count: 100) + "\(index)", "2026-12-07T00:00:00Z"])
                }
            }
        }
        #expect(error == .diskFull(path: path), "\(String(describing: error))")
        #expect(error?.description == "registry \(path) cannot grow: no space left (its disk, the temporary directory, or SQLite's page limit)")
        #expect(try registry.db.scalarInt("SELECT count(*) FROM models") == 0)
    }
}
