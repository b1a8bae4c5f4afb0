import RegistrySchema

/// Applies the numbered schema migrations a database has not seen, each in its own transaction.
public struct Migrator: Sendable {
    public let migrations: [SchemaMigration]

    public init(migrations: [SchemaMigration] = RegistrySchema.migrations) {
        self.migrations = migrations
    }

    /// Where a database stands against the migrations this binary knows.
    public enum Status: Equatable, Sendable {
        /// Not a registry yet: no tables at all.
        case empty
        case current(version: Int)
        case behind(version: Int)
        /// Knows migrations this binary does not: it must not be touched.
        case ahead(version: Int)
    }

    // The migration ledger belongs to the runner, not to the schema it records, so it is defined here.
    static let createLedger = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT NOT NULL,
            applied_at TEXT NOT NULL
        )
        """
    static let selectLedger = "SELECT version, name FROM schema_migrations ORDER BY version"
    static let insertLedger = "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)"
    static let hasLedger = "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'"
    static let tableCount = "SELECT count(*) FROM sqlite_schema"
    static let isApplied = "SELECT count(*) FROM schema_migrations WHERE version = ?1"

    /// Reads the database's migration state without changing anything.
    ///
    /// Throws `RegistryError.notARegistry` for a database that has tables but no ledger, and
    /// `RegistryError.migrationMismatch` when a recorded migration has another name than the known one.
    public func status(of db: Connection) throws -> Status {
        // One snapshot: read in two statements, a migration committed by another process between
        // them looked like tables without a ledger ("not a Sentinel registry").
        if !db.isInTransaction { return try db.transaction(.deferred) { try status(of: db) } }
        guard try db.scalarInt(Self.hasLedger) == 1 else {
            if try db.scalarInt(Self.tableCount) == 0 { return .empty }
            throw RegistryError.notARegistry(path: db.path)
        }
        let applied = try appliedMigrations(db)
        guard let newest = applied.last?.version else { return .empty }
        if newest > (migrations.last?.number ?? 0) { return .ahead(version: newest) }
        for (version, name) in applied {
            if let known = migrations.first(where: { $0.number == version }), known.name != name {
                throw RegistryError.migrationMismatch(number: version, recorded: name, known: known.name)
            }
        }
        return newest == migrations.last?.number ? .current(version: newest) : .behind(version: newest)
    }

    /// Applies every pending migration up to `target` (all of them by default) and returns those applied.
    /// Running it again applies nothing. A database ahead of this binary is refused untouched.
    @discardableResult
    public func migrate(_ db: Connection, upTo target: Int? = nil, now: () -> String = Timestamp.now) throws -> [SchemaMigration] {
        let status = try status(of: db)
        if case .ahead(let version) = status {
            throw RegistryError.schemaTooNew(path: db.path, databaseVersion: version, knownVersion: migrations.last?.number ?? 0)
        }
        let done = Set(try db.scalarInt(Self.hasLedger) == 1 ? appliedMigrations(db).map(\.version) : [])
        var applied: [SchemaMigration] = []
        for migration in migrations where !done.contains(migration.number) {
            if let target, migration.number > target { break }
            let ran = try db.transaction(.immediate) { () throws -> Bool in
                try db.execute(Self.createLedger)
                // Another process (a second `init` started at the same moment) may have applied it
                // while this one waited for the write lock.
                guard try db.scalarInt(Self.isApplied, [migration.number]) == 0 else { return false }
                try db.execute(migration.sql)
                try db.run(Self.insertLedger, [migration.number, migration.name, now()])
                return true
            }
            if ran { applied.append(migration) }
        }
        return applied
    }

    private func appliedMigrations(_ db: Connection) throws -> [(version: Int, name: String)] {
        try db.prepare(Self.selectLedger).rows { row in (row.int(0), row.text(1)) }
    }
}
