extension Registry {
    static let integrityCheck = "PRAGMA integrity_check"
    static let quickCheck = "PRAGMA quick_check"
    static let foreignKeyCheck = "PRAGMA foreign_key_check"
    /// The schema's own objects (tables, indexes, triggers, views), with the statement that made each.
    /// (SQLite's own names start "sqlite_"; `_` is a LIKE wildcard, escaped.)
    static let selectSchemaObjects = #"SELECT name, type, sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\_%' ESCAPE '\'"#
    /// Metric values that are not numbers (a REAL column takes text written with the sqlite3 shell).
    static let selectNonNumericMetrics = """
        SELECT m.name, v.version, x.name, quote(x.value) FROM version_metrics x
        JOIN model_versions v ON v.id = x.version_id JOIN models m ON m.id = v.model_id
        WHERE typeof(x.value) NOT IN ('real', 'integer') ORDER BY m.name, v.version, x.name
        """
    /// Models whose production version is not the one their history's last promotion or rollback
    /// made active (each sets it), or that have one with no history at all.
    static let selectStagesAgainstHistory = """
        SELECT m.name,
               (SELECT version FROM model_versions WHERE model_id = m.id AND stage = 'production') AS active,
               (SELECT t.version FROM promotions p JOIN model_versions t ON t.id = p.to_version_id
                 WHERE p.model_id = m.id ORDER BY p.id DESC LIMIT 1) AS last
        FROM models m WHERE active IS NOT last ORDER BY m.name
        """

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

    /// What the registry's rows say that their columns' constraints cannot: metric values that are
    /// not numbers, and production stages the promotion history does not account for (a version
    /// made active by an UPDATE, not by `promote`). Thresholds are checked as each version loads.
    public func valueProblems() throws -> [String] {
        try read {
            let metrics = try db.prepare(Self.selectNonNumericMetrics).rows([]) { row in
                "\(row.text(0)) v\(row.int(1)): metric \(row.text(2)) is \(row.text(3)), not a number"
            }
            let stages = try db.prepare(Self.selectStagesAgainstHistory).rows([]) { row in
                let active = row.optionalInt(1).map { "v\($0)" }
                let last = row.optionalInt(2).map { "v\($0)" }
                return "\(row.text(0))'s production version is \(active ?? "none"), but its history "
                    + (last.map { "made \($0) active last" } ?? "has no promotion")
            }
            return metrics + stages
        }
    }

    /// The schema's objects missing from the file, made differently, or not the migrations' at all,
    /// against the migrations applied afresh to a database in memory: a dropped append-only trigger
    /// or a loosened CHECK lets through rows the registry refuses, and no page is damaged.
    public func schemaProblems() throws -> [String] {
        // The reference failing is not this registry's fault: said as a registry that could not
        // be checked (check exits 2), not as a finding.
        let reference: Connection
        do {
            reference = try Connection(path: ":memory:", options: .init(mode: .readWriteCreate))
            try Migrator().migrate(reference)
        } catch {
            throw RegistryError.cannotOpen(path: ":memory:", reason: "the migrations could not be applied to a database in memory to compare with: \(error)")
        }
        func objects(_ db: Connection) throws -> [String: (type: String, sql: String)] {
            var found: [String: (type: String, sql: String)] = [:]
            for (name, type, sql) in try db.prepare(Self.selectSchemaObjects).rows([], { ($0.text(0), $0.text(1), $0.text(2)) }) {
                found[name] = (type, sql)
            }
            return found
        }
        let expected = try objects(reference)
        let actual = try read { try objects(db) }
        var problems: [String] = []
        for (name, object) in expected.sorted(by: { $0.key < $1.key }) {
            if let found = actual[name] {
                if found.type != object.type || found.sql != object.sql { problems.append("the \(object.type) \(name) is not as the migrations make it") }
            } else {
                problems.append("the \(object.type) \(name) is missing")
            }
        }
        for (name, object) in actual.sorted(by: { $0.key < $1.key }) where expected[name] == nil {
            problems.append("the \(object.type) \(name) is not one of the migrations'")
        }
        return problems
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
