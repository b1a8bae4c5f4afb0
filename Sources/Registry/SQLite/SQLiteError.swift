import CSQLite

/// A failure reported by SQLite, with what it said and the statement it said it about.
///
/// Bound argument values are never part of the description, so logs do not leak request data.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// The primary result code (`SQLITE_BUSY`, `SQLITE_CONSTRAINT`, ...).
    public let code: Int32
    /// The extended result code (`SQLITE_CONSTRAINT_UNIQUE`, ...), or the primary code if none.
    public let extendedCode: Int32
    public let message: String
    /// The SQL that failed, if the failure came from a statement.
    public let sql: String?

    public init(code: Int32, extendedCode: Int32? = nil, message: String, sql: String? = nil) {
        self.code = code
        self.extendedCode = extendedCode ?? code
        self.message = message
        self.sql = sql
    }

    /// Reads the error state of `handle` after a call returned `resultCode`.
    init(resultCode: Int32, handle: OpaquePointer?, sql: String? = nil) {
        let extended = handle.map { sqlite3_extended_errcode($0) } ?? resultCode
        let message: String
        if let handle, let cMessage = sqlite3_errmsg(handle) {
            message = String(cString: cMessage)
        } else {
            message = String(cString: sqlite3_errstr(resultCode))
        }
        self.init(code: resultCode & 0xFF, extendedCode: extended, message: message, sql: sql)
    }

    public var isBusy: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }
    public var isNotADatabase: Bool { code == SQLITE_NOTADB }
    public var isReadOnly: Bool { code == SQLITE_READONLY }
    public var isCannotOpen: Bool { code == SQLITE_CANTOPEN }
    public var isCorrupt: Bool { code == SQLITE_CORRUPT }
    public var isConstraint: Bool { code == SQLITE_CONSTRAINT }
    public var isFull: Bool { code == SQLITE_FULL }
    public var isIOError: Bool { code == SQLITE_IOERR }

    public var description: String {
        var text = "SQLite error \(code) (extended \(extendedCode)): \(message)"
        if let sql { text += " [SQL: \(sql)]" }
        return text
    }
}
