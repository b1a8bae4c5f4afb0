import CSQLite

/// A prepared statement. It belongs to the connection that prepared it and, like it, is used from
/// one task at a time.
public final class Statement {
    let handle: OpaquePointer
    let connectionHandle: OpaquePointer
    public let sql: String

    init(connectionHandle: OpaquePointer, sql: String) throws(SQLiteError) {
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v2(connectionHandle, sql, -1, &statement, nil)
        guard rc == SQLITE_OK, let statement else {
            throw SQLiteError(resultCode: rc, handle: connectionHandle, sql: sql)
        }
        self.handle = statement
        self.connectionHandle = connectionHandle
        self.sql = sql
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// Binds `values` to the parameters `?1 ... ?n`, after clearing any previous run.
    public func bind(_ values: [SQLiteBindable]) throws(SQLiteError) {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        let expected = Int(sqlite3_bind_parameter_count(handle))
        guard values.count == expected else {
            throw SQLiteError(code: SQLITE_RANGE, message: "statement takes \(expected) parameters, \(values.count) given", sql: sql)
        }
        for (offset, value) in values.enumerated() {
            try bind(value.sqliteValue, at: Int32(offset + 1))
        }
    }

    public func bind(_ value: SQLiteValue, at index: Int32) throws(SQLiteError) {
        let rc: Int32
        switch value {
        case .integer(let int):
            rc = sqlite3_bind_int64(handle, index, int)
        case .real(let double):
            rc = sqlite3_bind_double(handle, index, double)
        case .text(var string):
            // Bound by its byte count, not up to a NUL: a request id may hold "\u0000", and the
            // audit log must keep it whole. (An empty string may have no buffer, and a NULL
            // pointer would bind NULL, not ''.)
            rc = string.withUTF8 { bytes in
                guard let base = bytes.baseAddress, !bytes.isEmpty else {
                    return sqlite3_bind_text64(handle, index, "", 0, csqlite_transient(), UInt8(SQLITE_UTF8))
                }
                return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                    sqlite3_bind_text64(handle, index, $0, sqlite3_uint64(bytes.count), csqlite_transient(), UInt8(SQLITE_UTF8))
                }
            }
        case .blob(let bytes):
            // A zero-length blob must still bind as a blob, not as NULL: give SQLite a valid pointer.
            rc = bytes.withUnsafeBytes { buffer in
                sqlite3_bind_blob64(handle, index, buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1), sqlite3_uint64(buffer.count), csqlite_transient())
            }
        case .null:
            rc = sqlite3_bind_null(handle, index)
        }
        guard rc == SQLITE_OK else { throw SQLiteError(resultCode: rc, handle: connectionHandle, sql: sql) }
    }

    /// Advances to the next row; returns false when the statement is done.
    public func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW:
            return true
        case SQLITE_DONE:
            return false
        default:
            let error = SQLiteError(resultCode: rc, handle: connectionHandle, sql: sql)
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Runs the statement to completion, ignoring any rows.
    public func run(_ values: [SQLiteBindable] = []) throws(SQLiteError) {
        try bind(values)
        while try step() {}
        sqlite3_reset(handle)
    }

    /// Runs the statement and maps every row.
    public func rows<T>(_ values: [SQLiteBindable] = [], _ map: (Row) throws -> T) throws -> [T] {
        try bind(values)
        defer { sqlite3_reset(handle) }
        var result: [T] = []
        while try step() {
            result.append(try map(Row(statement: self)))
        }
        return result
    }

    /// Runs the statement and hands every row to `body` without collecting them: for scans whose
    /// rows are folded into something smaller (the status page's latency percentiles).
    public func forEachRow(_ values: [SQLiteBindable] = [], _ body: (Row) throws -> Void) throws {
        try bind(values)
        defer { sqlite3_reset(handle) }
        while try step() {
            try body(Row(statement: self))
        }
    }

    /// Runs the statement and maps the first row, if any.
    public func firstRow<T>(_ values: [SQLiteBindable] = [], _ map: (Row) throws -> T) throws -> T? {
        try bind(values)
        defer { sqlite3_reset(handle) }
        guard try step() else { return nil }
        return try map(Row(statement: self))
    }
}

/// The current row of a statement, read by column index. Valid only until the next step.
public struct Row {
    let statement: Statement

    public var columnCount: Int { Int(sqlite3_column_count(statement.handle)) }

    public func name(_ column: Int) -> String {
        String(cString: sqlite3_column_name(statement.handle, Int32(column)))
    }

    public func isNull(_ column: Int) -> Bool {
        sqlite3_column_type(statement.handle, Int32(column)) == SQLITE_NULL
    }

    public func int(_ column: Int) -> Int {
        Int(sqlite3_column_int64(statement.handle, Int32(column)))
    }

    public func int64(_ column: Int) -> Int64 {
        sqlite3_column_int64(statement.handle, Int32(column))
    }

    public func double(_ column: Int) -> Double {
        sqlite3_column_double(statement.handle, Int32(column))
    }

    public func text(_ column: Int) -> String {
        guard let pointer = sqlite3_column_text(statement.handle, Int32(column)) else { return "" }
        let count = Int(sqlite3_column_bytes(statement.handle, Int32(column)))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    /// The column's text as UTF-8 bytes, valid only inside `body`: for reading a few characters of
    /// many rows without making a String of each (the status page reads the minute of every
    /// timestamp of the last hour).
    public func withUTF8<T>(_ column: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> T) rethrows -> T {
        let pointer = sqlite3_column_text(statement.handle, Int32(column))
        let count = Int(sqlite3_column_bytes(statement.handle, Int32(column)))
        return try body(UnsafeBufferPointer(start: pointer, count: pointer == nil ? 0 : count))
    }

    public func optionalText(_ column: Int) -> String? {
        isNull(column) ? nil : text(column)
    }

    /// The column as a number, or NaN when it holds anything else: `double` reads text such as
    /// 'abc' (written with the sqlite3 shell into a REAL column) as 0.
    public func number(_ column: Int) -> Double {
        switch sqlite3_column_type(statement.handle, Int32(column)) {
        case SQLITE_INTEGER, SQLITE_FLOAT: return double(column)
        default: return .nan
        }
    }

    public func optionalDouble(_ column: Int) -> Double? {
        isNull(column) ? nil : double(column)
    }

    public func optionalInt(_ column: Int) -> Int? {
        isNull(column) ? nil : int(column)
    }

    public func blob(_ column: Int) -> [UInt8] {
        // sqlite3_column_blob must come before sqlite3_column_bytes: "call sqlite3_column_blob()
        // ... first, then sqlite3_column_bytes()" (https://sqlite.org/c3ref/column_blob.html).
        let pointer = sqlite3_column_blob(statement.handle, Int32(column))
        let count = Int(sqlite3_column_bytes(statement.handle, Int32(column)))
        guard let pointer, count > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// The column's value in its own storage class.
    public func value(_ column: Int) -> SQLiteValue {
        switch sqlite3_column_type(statement.handle, Int32(column)) {
        case SQLITE_INTEGER: return .integer(int64(column))
        case SQLITE_FLOAT: return .real(double(column))
        case SQLITE_TEXT: return .text(text(column))
        case SQLITE_BLOB: return .blob(blob(column))
        default: return .null
        }
    }
}
