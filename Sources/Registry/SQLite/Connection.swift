import CSQLite

/// One SQLite connection. It owns its handle for its whole life and, like every SQLite handle opened
/// with `SQLITE_OPEN_NOMUTEX`, must be used by one task at a time: the type is deliberately not
/// `Sendable`, so the compiler keeps it confined. Long-lived owners (the service) wrap it in an actor.
public final class Connection {
    public enum Mode: Sendable {
        case readOnly
        /// Opens an existing database for reading and writing.
        case readWrite
        /// Like `readWrite`, creating the file if it does not exist.
        case readWriteCreate
    }

    /// How hard a commit works to reach the disk (`PRAGMA synchronous`).
    public enum Durability: String, Sendable {
        /// WAL + NORMAL: a commit survives a crash of the process, and may be lost on power loss or an
        /// OS crash. "WAL mode is always consistent with synchronous=NORMAL, but WAL mode does lose
        /// durability" (https://sqlite.org/pragma.html#pragma_synchronous).
        case processCrash = "NORMAL"
        /// WAL + FULL: every commit is fsynced before it returns, so it also survives power loss.
        case powerLoss = "FULL"
    }

    public struct Options: Sendable {
        public var mode: Mode
        /// How long a statement waits for another connection's lock before failing with SQLITE_BUSY.
        public var busyTimeoutMilliseconds: Int32
        public var durability: Durability
        /// Refuse every write on this connection (`PRAGMA query_only`). A read-write connection that
        /// only reads still cleans up the WAL files when it closes, which a read-only one cannot.
        public var queryOnly: Bool

        public init(mode: Mode = .readWrite, busyTimeoutMilliseconds: Int32 = 5_000, durability: Durability = .powerLoss, queryOnly: Bool = false) {
            self.mode = mode
            self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
            self.durability = durability
            self.queryOnly = queryOnly
        }
    }

    let handle: OpaquePointer
    public let path: String
    public let options: Options
    private var statementCache: [String: Statement] = [:]
    /// How long a statement waits for another connection's lock now: `options.busyTimeoutMilliseconds`
    /// except inside `waitingForLocksAtMost`.
    public private(set) var busyTimeoutInEffect: Int32

    /// Opens the database at `path` and applies the connection settings.
    ///
    /// Throws `SQLiteError` when the file cannot be opened (`SQLITE_CANTOPEN`), is not a database
    /// (`SQLITE_NOTADB`), or WAL cannot be switched on.
    public init(path: String, options: Options = Options()) throws(SQLiteError) {
        var flags = SQLITE_OPEN_NOMUTEX
        switch options.mode {
        case .readOnly: flags |= SQLITE_OPEN_READONLY
        case .readWrite: flags |= SQLITE_OPEN_READWRITE
        case .readWriteCreate: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        }
        var opened: OpaquePointer?
        let rc = sqlite3_open_v2(path, &opened, flags, nil)
        guard rc == SQLITE_OK, let opened else {
            let error = SQLiteError(resultCode: rc, handle: opened, sql: nil)
            // "Whether or not an error occurs when it is opened, resources associated with the
            // database connection handle should be released by passing it to sqlite3_close()"
            // (https://sqlite.org/c3ref/open.html).
            sqlite3_close_v2(opened)
            throw error
        }
        self.handle = opened
        self.path = path
        self.options = options
        busyTimeoutInEffect = options.busyTimeoutMilliseconds
        sqlite3_extended_result_codes(opened, 1)
        // No close here when this throws: every stored property is set, so Swift runs `deinit`,
        // which closes the handle (closing it here too freed it twice).
        try configure()
    }

    deinit {
        statementCache.removeAll()
        sqlite3_close_v2(handle)
    }

    private func configure() throws(SQLiteError) {
        // Writers queue behind each other's locks for a bounded time instead of failing at once.
        sqlite3_busy_timeout(handle, busyTimeoutInEffect)
        // Foreign keys are off by default in SQLite, per connection; the schema relies on them.
        try execute("PRAGMA foreign_keys = ON")
        // Reading the schema first makes "file is not a database" surface here, before any write.
        try execute("SELECT count(*) FROM sqlite_schema")
        guard options.mode != .readOnly else { return }
        // SQLite silently opens a write-protected file read-only even when asked for read-write.
        guard !isReadOnly else {
            throw SQLiteError(code: SQLITE_READONLY, message: "\(path) can only be opened read-only", sql: nil)
        }
        // A reader reads the file in whatever mode it is in: switching a copy to WAL rewrote its
        // header, so reading evidence changed its bytes.
        if options.queryOnly {
            try execute("PRAGMA query_only = ON")
            return
        }
        // WAL lets the service's readers run while the audit writer commits, and a commit costs one
        // append instead of a journal round trip. The setting is persistent, and answers the mode in
        // force: anything but "wal" (an in-memory database answers "memory") means it did not take.
        // Two connections switching a new file at once (two `init`s) would deadlock, so SQLite
        // answers BUSY at once instead of waiting: retried until the busy timeout.
        let journalMode = try retryingWhileBusy { () throws(SQLiteError) in try scalarText("PRAGMA journal_mode = WAL") }
        guard journalMode == "wal" || (journalMode == "memory" && path.contains(":memory:")) else {
            throw SQLiteError(code: SQLITE_ERROR, message: "could not switch \(path) to WAL (journal_mode is \(journalMode ?? "unknown"))", sql: "PRAGMA journal_mode = WAL")
        }
        try execute("PRAGMA synchronous = \(options.durability.rawValue)")
    }

    /// Runs `body` again while it fails with SQLITE_BUSY, for up to the busy timeout: for the
    /// statements SQLite will not wait on itself.
    private func retryingWhileBusy<T>(_ body: () throws(SQLiteError) -> T) throws(SQLiteError) -> T {
        var waited: Int32 = 0
        while true {
            do {
                return try body()
            } catch where error.isBusy && waited < options.busyTimeoutMilliseconds {
                waited += max(sqlite3_sleep(5), 1)
            }
        }
    }

    /// Whether the connection can write (false for read-only opens and read-only files).
    public var isReadOnly: Bool {
        sqlite3_db_readonly(handle, "main") == 1
    }

    /// Runs one or more statements that take no parameters and return no rows of interest.
    public func execute(_ sql: String) throws(SQLiteError) {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        if rc != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) }
            sqlite3_free(errorMessage)
            throw SQLiteError(code: rc & 0xFF, extendedCode: sqlite3_extended_errcode(handle), message: message ?? String(cString: sqlite3_errstr(rc)), sql: sql)
        }
    }

    /// Prepares a new statement.
    public func prepare(_ sql: String) throws(SQLiteError) -> Statement {
        try Statement(connectionHandle: handle, sql: sql)
    }

    /// A prepared statement kept for the life of the connection, for queries that run often.
    public func cached(_ sql: String) throws(SQLiteError) -> Statement {
        if let statement = statementCache[sql] { return statement }
        let statement = try prepare(sql)
        statementCache[sql] = statement
        return statement
    }

    /// Runs `sql` with `values` bound, ignoring any rows.
    public func run(_ sql: String, _ values: [SQLiteBindable] = []) throws(SQLiteError) {
        try cached(sql).run(values)
    }

    /// The first column of the first row as text, or nil when there is no row or it is NULL.
    public func scalarText(_ sql: String, _ values: [SQLiteBindable] = []) throws(SQLiteError) -> String? {
        let statement = try prepare(sql)
        try statement.bind(values)
        guard try statement.step() else { return nil }
        return Row(statement: statement).optionalText(0)
    }

    /// The first column of the first row as an integer, or nil when there is no row or it is NULL.
    public func scalarInt(_ sql: String, _ values: [SQLiteBindable] = []) throws(SQLiteError) -> Int? {
        let statement = try prepare(sql)
        try statement.bind(values)
        guard try statement.step() else { return nil }
        return Row(statement: statement).optionalInt(0)
    }

    /// Flushes the main database file to stable storage through SQLite's own file handle (its VFS
    /// `xSync`, an fdatasync on Linux), as a checkpoint does when it completes.
    public func syncDatabaseFile() throws(SQLiteError) {
        var file: UnsafeMutablePointer<sqlite3_file>?
        var rc = sqlite3_file_control(handle, "main", SQLITE_FCNTL_FILE_POINTER, &file)
        if rc == SQLITE_OK, let file, let sync = file.pointee.pMethods?.pointee.xSync {
            rc = sync(file, SQLITE_SYNC_NORMAL)
        }
        guard rc == SQLITE_OK else {
            throw SQLiteError(code: rc & 0xFF, extendedCode: rc, message: String(cString: sqlite3_errstr(rc)), sql: "xSync(main)")
        }
    }

    /// The rowid of the last successful INSERT on this connection.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    public var changes: Int { Int(sqlite3_changes(handle)) }

    public enum TransactionKind: String, Sendable {
        case deferred = "DEFERRED"
        /// Takes the write lock at BEGIN, so a writer waits (up to the busy timeout) at the start
        /// instead of failing half-way with SQLITE_BUSY when it first writes.
        case immediate = "IMMEDIATE"

        var begin: String { "BEGIN " + rawValue }
    }

    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws and rethrows
    /// that first error (a failure of the rollback itself is not allowed to hide it).
    public func transaction<T>(_ kind: TransactionKind = .immediate, _ body: () throws -> T) throws -> T {
        // Prepared once per connection: the audit writer opens a transaction a thousand times a
        // second, and parsing these three statements each time showed in its profile.
        try run(kind.begin)
        let result: T
        do {
            result = try body()
        } catch {
            try? run("ROLLBACK")
            throw error
        }
        do {
            try run("COMMIT")
        } catch {
            try? run("ROLLBACK")
            throw error
        }
        return result
    }

    /// Whether a transaction is open on this connection.
    public var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Runs `body` with SQLite waiting at most `milliseconds` for another connection's lock (0: it
    /// fails with SQLITE_BUSY at once), then restores the connection's own busy timeout.
    public func waitingForLocksAtMost<T>(_ milliseconds: Int32, _ body: () throws -> T) rethrows -> T {
        busyTimeoutInEffect = max(milliseconds, 0)
        sqlite3_busy_timeout(handle, busyTimeoutInEffect)
        defer {
            busyTimeoutInEffect = options.busyTimeoutMilliseconds
            sqlite3_busy_timeout(handle, busyTimeoutInEffect)
        }
        return try body()
    }
}
