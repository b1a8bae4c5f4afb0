import CSQLite
import Foundation
import Testing
@testable import Registry

/// The SQLite wrapper on real database files.
struct ConnectionTests {
    @Test func everyStorageClassRoundTrips() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Connection(path: dir.path("types.db"), options: .init(mode: .readWriteCreate))
        try db.execute("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n)")
        let blob: [UInt8] = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let insert = "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)"
        try db.run(insert, [Int64.max, -1.5e-300, "naïve ✓ 'quoted'", blob, SQLiteValue.null])
        try db.run(insert, [Int64.min, Double.pi, "", [UInt8](), Optional<String>.none])

        let rows = try db.prepare("SELECT i, r, s, b, n, typeof(b) FROM t ORDER BY rowid").rows { row in
            (row.int64(0), row.double(1), row.text(2), row.blob(3), row.value(4), row.text(5))
        }
        #expect(rows.count == 2)
        #expect(rows[0].0 == Int64.max && rows[1].0 == Int64.min)
        #expect(rows[0].1 == -1.5e-300 && rows[1].1 == Double.pi)
        #expect(rows[0].2 == "naïve ✓ 'quoted'" && rows[1].2 == "")
        #expect(rows[0].3 == blob)
        // An empty blob stays a blob, not NULL.
        #expect(rows[1].3 == [] && rows[1].5 == "blob")
        #expect(rows[0].4 == .null && rows[1].4 == .null)

        let values = try db.prepare("SELECT i, r, s, b, n FROM t LIMIT 1").firstRow { row in (0..<5).map { row.value($0) } }
        #expect(values == [.integer(Int64.max), .real(-1.5e-300), .text("naïve ✓ 'quoted'"), .blob(blob), .null])
    }

    /// Text is bound by its length, so a NUL inside it (a request id may hold "\u0000") is kept.
    @Test func textKeepsEveryByteOfItsLength() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Connection(path: dir.path("nul.db"), options: .init(mode: .readWriteCreate))
        try db.execute("CREATE TABLE t (s TEXT)")
        try db.run("INSERT INTO t VALUES (?1)", ["a\u{0}b"])
        let row = try db.prepare("SELECT s, hex(s), typeof(s) FROM t").firstRow { ($0.text(0), $0.text(1), $0.text(2)) }
        #expect(row?.0 == "a\u{0}b" && row?.1 == "610062" && row?.2 == "text")
    }

    /// Every PASSIVE checkpoint that copied frames syncs the database file itself
    /// (`Registry.checkpoint`), through SQLite's own handle of the file.
    @Test func databaseFileSyncsThroughSQLitesHandle() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("sync.db")
        let db = try Connection(path: path, options: .init(mode: .readWriteCreate))
        try db.execute("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2)")
        let frames = try db.prepare("PRAGMA wal_checkpoint(PASSIVE)").rows { row in row.int(2) }
        #expect(frames.first ?? 0 > 0, "nothing was checkpointed, so there was nothing to sync")
        try db.syncDatabaseFile()
        let reader = try Connection(path: path, options: .init(mode: .readOnly))
        #expect(try reader.scalarInt("SELECT sum(x) FROM t") == 3)
    }

    @Test func errorsCarryCodesMessageAndSQL() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Connection(path: dir.path("errors.db"), options: .init(mode: .readWriteCreate))
        try db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
        try db.run("INSERT INTO t (name) VALUES (?1)", ["a"])

        let unique = #expect(throws: SQLiteError.self) { try db.run("INSERT INTO t (name) VALUES (?1)", ["a"]) }
        #expect(unique?.code == SQLITE_CONSTRAINT)
        #expect(unique?.extendedCode == SQLITE_CONSTRAINT | (8 << 8)) // SQLITE_CONSTRAINT_UNIQUE, a macro Swift cannot import
        #expect(unique?.message.contains("UNIQUE constraint failed: t.name") == true)
        #expect(unique?.sql == "INSERT INTO t (name) VALUES (?1)")
        // Bound values never appear in the description.
        #expect(unique?.description.contains("'a'") == false)

        let syntax = #expect(throws: SQLiteError.self) { _ = try db.prepare("SELEC 1") }
        #expect(syntax?.code == SQLITE_ERROR && syntax?.sql == "SELEC 1")

        let notNull = #expect(throws: SQLiteError.self) { try db.run("INSERT INTO t (name) VALUES (?1)", [SQLiteValue.null]) }
        #expect(notNull?.extendedCode == SQLITE_CONSTRAINT | (5 << 8))

        let arity = #expect(throws: SQLiteError.self) { try db.run("INSERT INTO t (name) VALUES (?1)", []) }
        #expect(arity?.code == SQLITE_RANGE)
    }

    @Test func transactionRollsBackOnThrowAndRethrowsTheFirstError() throws {
        struct Boom: Error {}
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Connection(path: dir.path("tx.db"), options: .init(mode: .readWriteCreate))
        try db.execute("CREATE TABLE t (v INTEGER)")
        #expect(throws: Boom.self) {
            try db.transaction {
                try db.run("INSERT INTO t VALUES (1)")
                try db.run("INSERT INTO t VALUES (2)")
                throw Boom()
            }
        }
        #expect(try db.scalarInt("SELECT count(*) FROM t") == 0)
        #expect(!db.isInTransaction)

        let sum = try db.transaction { () throws -> Int in
            try db.run("INSERT INTO t VALUES (3)")
            try db.run("INSERT INTO t VALUES (4)")
            return try db.scalarInt("SELECT sum(v) FROM t") ?? 0
        }
        #expect(sum == 7)
        // Committed: another connection sees it.
        let other = try Connection(path: dir.path("tx.db"), options: .init(mode: .readOnly))
        #expect(try other.scalarInt("SELECT count(*) FROM t") == 2)
    }

    @Test func settingsAreApplied() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try Connection(path: dir.path("settings.db"), options: .init(mode: .readWriteCreate, busyTimeoutMilliseconds: 1234, durability: .processCrash))
        #expect(try db.scalarText("PRAGMA journal_mode") == "wal")
        #expect(try db.scalarInt("PRAGMA foreign_keys") == 1)
        #expect(try db.scalarInt("PRAGMA busy_timeout") == 1234)
        #expect(try db.scalarInt("PRAGMA synchronous") == 1) // NORMAL
        let full = try Connection(path: dir.path("settings.db"), options: .init(mode: .readWrite))
        #expect(try full.scalarInt("PRAGMA synchronous") == 2) // FULL
    }

    @Test func readOnlyAndQueryOnlyRefuseWrites() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try Connection(path: dir.path("ro.db"), options: .init(mode: .readWriteCreate))
        try writer.execute("CREATE TABLE t (v)")
        let reader = try Connection(path: dir.path("ro.db"), options: .init(mode: .readOnly))
        let error = #expect(throws: SQLiteError.self) { try reader.run("INSERT INTO t VALUES (1)") }
        #expect(error?.isReadOnly == true)
        let queryOnly = try Connection(path: dir.path("ro.db"), options: .init(mode: .readWrite, queryOnly: true))
        #expect(throws: SQLiteError.self) { try queryOnly.run("INSERT INTO t VALUES (1)") }
        #expect(try writer.scalarInt("SELECT count(*) FROM t") == 0)
    }

    @Test func notADatabaseAndMissingFilesAreReported() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("text.db")
        let content = Data(String(repeating: "hello, not sqlite\n", count: 100).utf8)
        #expect(FileManager.default.createFile(atPath: path, contents: content))
        let error = #expect(throws: SQLiteError.self) { _ = try Connection(path: path, options: .init(mode: .readWrite)) }
        #expect(error?.isNotADatabase == true)
        #expect(FileManager.default.contents(atPath: path) == content)

        let missing = #expect(throws: SQLiteError.self) { _ = try Connection(path: dir.path("nope/x.db"), options: .init(mode: .readWriteCreate)) }
        #expect(missing?.isCannotOpen == true)
    }
}
