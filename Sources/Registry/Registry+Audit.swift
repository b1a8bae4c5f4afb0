/// The decision a score leads to under its version's threshold.
public enum Decision: String, Sendable, Codable {
    case fraud
    case legit

    public init(score: Double, threshold: Double) {
        self = score >= threshold ? .fraud : .legit
    }
}

/// One scored transaction, as the audit log keeps it.
public struct AuditRecord: Sendable, Equatable {
    public var predictedAt: String
    public var requestID: String
    /// The instance's position in a batch request (0 for a single prediction).
    public var rowIndex: Int
    public var versionID: Int64
    /// The features as a JSON object, nulls for missing values.
    public var featuresJSON: String
    public var score: Double
    public var decision: Decision
    public var latencyMicroseconds: Int

    public init(predictedAt: String, requestID: String, rowIndex: Int, versionID: Int64, featuresJSON: String,
                score: Double, decision: Decision, latencyMicroseconds: Int) {
        self.predictedAt = predictedAt
        self.requestID = requestID
        self.rowIndex = rowIndex
        self.versionID = versionID
        self.featuresJSON = featuresJSON
        self.score = score
        self.decision = decision
        self.latencyMicroseconds = latencyMicroseconds
    }
}

/// A row of the audit log read back, with names joined in.
public struct AuditEntry: Sendable, Equatable {
    public let id: Int64
    public let predictedAt: String
    public let requestID: String
    public let rowIndex: Int
    public let model: String
    public let version: VersionLabel
    public let score: Double
    public let decision: String
    public let latencyMicroseconds: Int
    public let featuresJSON: String
}

/// What to read from the audit log. Every field narrows the result; all are bound, never spliced.
public struct AuditQuery: Sendable {
    public var model: String?
    public var version: VersionLabel?
    /// Stored-form timestamps (see `Timestamp`); `since` is inclusive, `until` exclusive.
    public var since: String?
    public var until: String?
    public var requestID: String?
    public var limit: Int
    /// The most rows one query returns: they are held in memory (each with its features) and
    /// sorted across registries before printing. A whole audit log is exported with sqlite3.
    public static let maxLimit = 100_000

    public init(model: String? = nil, version: VersionLabel? = nil, since: String? = nil, until: String? = nil,
                requestID: String? = nil, limit: Int = 100) {
        self.model = model
        self.version = version
        self.since = since
        self.until = until
        self.requestID = requestID
        self.limit = limit
    }
}

extension Registry {
    static let insertAudit = """
        INSERT INTO predictions (predicted_at, request_id, row_index, model_id, version_id, features, score, decision, latency_us)
        VALUES (?1, ?2, ?3, (SELECT model_id FROM model_versions WHERE id = ?4), ?4, ?5, ?6, ?7, ?8)
        """
    static let selectAuditBase = """
        SELECT p.id, p.predicted_at, p.request_id, p.row_index, m.name, v.version, p.score, p.decision, p.latency_us, p.features
        FROM predictions p
        JOIN models m         ON m.id = p.model_id
        JOIN model_versions v ON v.id = p.version_id
        """
    // Each filter is a fixed fragment with its own parameter; only the fragments present are joined.
    // By the version's row id (`selectVersionRow`), which `predictions_by_version` leads with:
    // filtered on the joined label, SQLite walked `predictions_by_time` through every row (the
    // whole table for a version with none). A model's versions are asked one by one, for the
    // same reason (filtered on the model, SQLite walked the time index through the other models').
    static let auditFilterVersion = "p.version_id = ?"
    static let auditFilterSince = "p.predicted_at >= ?"
    static let auditFilterUntil = "p.predicted_at < ?"
    static let auditFilterRequest = "p.request_id = ?"
    // Beside a request id, the other filters only sift its few rows: written so that SQLite cannot
    // take their index (`+`) instead of `predictions_by_request`. It took the version's for the
    // order it gives, and read all of that version's rows to find one request's (118 ms at 400,000).
    static let auditSiftVersion = "+p.version_id = ?"
    static let auditSiftModel = "m.name = ?"
    static let auditSiftSince = "+p.predicted_at >= ?"
    static let auditSiftUntil = "+p.predicted_at < ?"
    static let auditOrder = " ORDER BY p.predicted_at DESC, p.id DESC LIMIT ?"
    static let selectModelVersionIDs = "SELECT v.id FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = ?1"
    static let countAudit = "SELECT count(*) FROM predictions"

    /// Appends `records` to the audit log in one transaction: all of them are written or none.
    /// Returns the id of the last row written (0 for no records).
    @discardableResult
    public func appendAudit(_ records: [AuditRecord]) throws -> Int64 {
        guard !records.isEmpty else { return 0 }
        return try write {
            let statement = try db.cached(Self.insertAudit)
            for record in records {
                try statement.run([
                    record.predictedAt, record.requestID, record.rowIndex, record.versionID, record.featuresJSON,
                    record.score, record.decision.rawValue, record.latencyMicroseconds,
                ])
            }
            return db.lastInsertRowID
        }
    }

    /// Reads the audit log, newest first. Throws `.invalidLimit`, and `.modelNotFound` /
    /// `.modelRequired` when a version is named without a resolvable model.
    public func audit(_ query: AuditQuery) throws -> [AuditEntry] {
        guard (1...AuditQuery.maxLimit).contains(query.limit) else { throw RegistryError.invalidLimit(query.limit) }
        var model = query.model
        if query.version != nil { model = try resolveModel(model) } else if let name = model { _ = try resolveModel(name) }
        return try read {
            var versionID: Int64?
            if let model, let version = query.version {
                guard let id = try db.prepare(Self.selectVersionRow).firstRow([model, version.number], { $0.int64(0) }) else { return [] }
                versionID = id
            }
            if let requestID = query.requestID {
                var filters = [Self.auditFilterRequest]
                var values: [SQLiteBindable] = [requestID]
                if let versionID {
                    filters.append(Self.auditSiftVersion)
                    values.append(versionID)
                } else if let model {
                    filters.append(Self.auditSiftModel)
                    values.append(model)
                }
                if let since = query.since { filters.append(Self.auditSiftSince); values.append(since) }
                if let until = query.until { filters.append(Self.auditSiftUntil); values.append(until) }
                return try auditRows(filters, values, limit: query.limit)
            }
            var filters: [String] = []
            var values: [SQLiteBindable] = []
            if let since = query.since { filters.append(Self.auditFilterSince); values.append(since) }
            if let until = query.until { filters.append(Self.auditFilterUntil); values.append(until) }
            guard let model else { return try auditRows(filters, values, limit: query.limit) }
            // Each version's newest `limit`, then the newest `limit` of them all.
            let versionIDs = try versionID.map { [$0] } ?? db.prepare(Self.selectModelVersionIDs).rows([model]) { $0.int64(0) }
            var entries: [AuditEntry] = []
            for id in versionIDs {
                entries += try auditRows([Self.auditFilterVersion] + filters, [id] + values, limit: query.limit)
            }
            entries.sort { ($0.predictedAt, $0.id) > ($1.predictedAt, $1.id) }
            return Array(entries.prefix(query.limit))
        }
    }

    /// The audit rows matching every one of `filters` (with `values` in their order), newest first.
    private func auditRows(_ filters: [String], _ values: [SQLiteBindable], limit: Int) throws -> [AuditEntry] {
        let sql = Self.selectAuditBase + (filters.isEmpty ? "" : " WHERE " + filters.joined(separator: " AND ")) + Self.auditOrder
        return try db.prepare(sql).rows(values + [limit]) { row in
            AuditEntry(id: row.int64(0), predictedAt: row.text(1), requestID: row.text(2), rowIndex: row.int(3),
                       model: row.text(4), version: VersionLabel(row.int(5)), score: row.double(6),
                       decision: row.text(7), latencyMicroseconds: row.int(8), featuresJSON: row.text(9))
        }
    }

    /// How many rows the audit log holds.
    public func auditCount() throws -> Int {
        try read { try db.scalarInt(Self.countAudit) ?? 0 }
    }
}

extension Registry {
    static let pruneAuditBatch = """
        DELETE FROM predictions WHERE id IN
            (SELECT id FROM predictions WHERE predicted_at < ?1 ORDER BY predicted_at LIMIT ?2)
        """
    /// The per-minute counts go by whole minutes: the minute the cutoff falls in stays counted whole.
    /// (Should the newest rows go too, migration 003's delete trigger lowers the counted mark.)
    static let pruneMinuteCounts = "DELETE FROM prediction_minutes WHERE minute < substr(?1, 1, 16)"

    /// Deletes up to `limit` audit rows older than `cutoff` (stored-form time), and the per-minute
    /// counts of the minutes before the cutoff's, in one transaction; returns how many rows went.
    /// Small batches keep the writer's lock short.
    public func pruneAudit(olderThan cutoff: String, limit: Int = 10_000) throws -> Int {
        try write {
            try db.run(Self.pruneAuditBatch, [cutoff, limit])
            let removed = db.changes
            try db.run(Self.pruneMinuteCounts, [cutoff])
            return removed
        }
    }
}
