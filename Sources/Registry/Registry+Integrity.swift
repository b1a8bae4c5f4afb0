import CSQLite

extension Registry {
    static let integrityCheck = "PRAGMA integrity_check"
    static let quickCheck = "PRAGMA quick_check"
    static let foreignKeyCheck = "PRAGMA foreign_key_check"

    /// What SQLite finds wrong with the file itself: damaged pages, rows missing from an index,
    /// constraint violations (`integrity_check`, or with `quick` the cheaper `quick_check`, which
    /// skips matching indexes to their tables), then rows whose reference leads nowhere
    /// (`foreign_key_check`). Empty when the file is sound.
    ///
    /// A damaged page does not stop a registry from opening: only a query that reaches it fails.
    /// So `init` and `serve` cannot tell, and this walk of every page is what can.
    ///
    /// Each check runs on its own, outside a transaction: a damaged page can fail the transaction's
    /// end as well as the check.
    public func fileProblems(quick: Bool) throws -> [String] {
        try checkFileIsStillAtPath()
        do {
            var problems: [String]
            do {
                problems = try findings(quick ? Self.quickCheck : Self.integrityCheck)
            } catch let error as SQLiteError where error.code == SQLITE_CORRUPT && !quick {
                // integrity_check gives up when matching an index to its table reaches a damaged
                // page; quick_check, which reads each page on its own, can still say which.
                problems = ["integrity_check stopped: \(error.message)"] + (try findings(Self.quickCheck))
            }
            // Each row: the table, the rowid of the row at fault (NULL in a WITHOUT ROWID table),
            // the table it refers to.
            problems += try db.prepare(Self.foreignKeyCheck).rows { row in
                "\(row.optionalText(1).map { "\(row.text(0)) row \($0)" } ?? "a \(row.text(0)) row") refers to a \(row.text(2)) row that does not exist"
            }
            return problems
        } catch {
            throw RegistryError.from(error, path: path, busyTimeout: db.busyTimeoutInEffect)
        }
    }

    /// One row "ok", or rows of findings; the first begins with a "*** in database main ***" line,
    /// a heading for people, not a finding.
    private func findings(_ check: String) throws -> [String] {
        try db.prepare(check).rows { $0.text(0) }
            .flatMap { $0.split(whereSeparator: \.isNewline).map(String.init) }
            .filter { $0 != "ok" && !$0.hasPrefix("*** in database") }
    }
}
