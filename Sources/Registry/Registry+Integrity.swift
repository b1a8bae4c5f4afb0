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
    /// So `init` and `serve` cannot tell, and this walk of every page is what can. A page damaged
    /// badly enough stops a walk where it is: what the walk found before stays in the list, with
    /// where it stopped. Anything else that stops it (a lock held too long, the file replaced)
    /// throws: the registry was not checked.
    ///
    /// Each check runs on its own, outside a transaction: a damaged page can fail the transaction's
    /// end as well as the check.
    public func fileProblems(quick: Bool) throws -> [String] {
        try checkFileIsStillAtPath()
        var problems: [String] = []
        let finished = try walk(quick ? Self.quickCheck : Self.integrityCheck, into: &problems, Self.pageFindings)
        if !finished && !quick {
            // integrity_check gives up when matching an index to its table reaches a damaged page;
            // quick_check, which reads each page on its own, may still say which.
            _ = try walk(Self.quickCheck, into: &problems, Self.pageFindings)
        }
        // Each row: the table, the rowid of the row at fault (NULL in a WITHOUT ROWID table), the
        // table it refers to.
        _ = try walk(Self.foreignKeyCheck, into: &problems) { row in
            ["\(row.optionalText(1).map { "\(row.text(0)) row \($0)" } ?? "a \(row.text(0)) row") refers to a \(row.text(2)) row that does not exist"]
        }
        // Both walks report the pages they both reached.
        var seen = Set<String>()
        return problems.filter { seen.insert($0).inserted }
    }

    /// Runs `check`, adding what each row reports to `problems`. Returns false when a damaged page
    /// stopped it (which is added too); throws for anything else.
    private func walk(_ check: String, into problems: inout [String], _ findings: (Row) -> [String]) throws -> Bool {
        do {
            try db.prepare(check).forEachRow { problems += findings($0) }
            return true
        } catch let error as SQLiteError where error.isCorrupt {
            problems.append("\(check.dropFirst("PRAGMA ".count)) stopped at a damaged page: \(error.message)")
            return false
        } catch {
            throw RegistryError.from(error, path: path, busyTimeout: db.busyTimeoutInEffect)
        }
    }

    /// A row of integrity_check or quick_check: "ok", or findings, the first of them after a
    /// "*** in database main ***" line, a heading for people, not a finding.
    private static func pageFindings(_ row: Row) -> [String] {
        row.text(0).split(whereSeparator: \.isNewline).map(String.init)
            .filter { $0 != "ok" && !$0.hasPrefix("*** in database") }
    }
}
