/// Audit rows counted per minute, version and latency bucket: the form `prediction_minutes` keeps.
struct AuditMinuteCounts: Sendable {
    struct Key: Hashable, Sendable {
        /// The first 16 characters of `predicted_at`: '2026-11-29T08:30'.
        let minute: String
        let versionID: Int64
        let bucket: Int
    }

    struct Count: Sendable, Equatable {
        var predictions = 0
        var flagged = 0

        mutating func add(fraud: Bool) {
            predictions += 1
            if fraud { flagged += 1 }
        }
    }

    private(set) var counts: [Key: Count] = [:]
    /// The last minute's text, reused while rows stay in that minute (they arrive in time order).
    private var lastMinute = ""

    mutating func add(predictedAt: String, versionID: Int64, bucket: Int, fraud: Bool) {
        if lastMinute.isEmpty || !predictedAt.utf8.starts(with: lastMinute.utf8) {
            lastMinute = String(decoding: predictedAt.utf8.prefix(16), as: UTF8.self)
        }
        counts[Key(minute: lastMinute, versionID: versionID, bucket: bucket), default: Count()].add(fraud: fraud)
    }
}

/// What the audit writer has appended since `prediction_minutes` was last brought up to date,
/// counted as it went, so that the counts can be folded in once a second with a few upserts
/// instead of reading the rows back (`Registry.foldAuditMinutes`).
public struct PendingAuditMinutes: Sendable {
    public let buckets: LatencyBuckets
    private(set) var counts = AuditMinuteCounts()
    /// The id before the first row counted (the mark it started after, while none is counted): the
    /// counted rows are meant to be exactly the ids after it, which holds while nobody else appends
    /// in between.
    public private(set) var afterID: Int64
    /// The id of the last row counted.
    public private(set) var lastID: Int64
    public private(set) var rows = 0

    init(buckets: LatencyBuckets, afterID: Int64) {
        self.buckets = buckets
        self.afterID = afterID
        lastID = afterID
    }

    public var isEmpty: Bool { rows == 0 }

    /// Counts `records`, just appended in one transaction whose last row got `lastID`.
    public mutating func add(_ records: [AuditRecord], lastID: Int64) {
        // One transaction's rows have consecutive ids. Counting starts at the first of them, not at
        // the mark: rows above the mark that are not this writer's (a killed writer's last ones)
        // are then read back alone, and these counts still used.
        if rows == 0 { afterID = lastID - Int64(records.count) }
        for record in records {
            counts.add(predictedAt: record.predictedAt, versionID: record.versionID,
                       bucket: buckets.index(of: record.latencyMicroseconds), fraud: record.decision == .fraud)
        }
        rows += records.count
        self.lastID = lastID
    }

    /// The counts match the rows after `through`, up to `newest`, only when they started there and
    /// every id since is one this writer appended (SQLite gives each new row the largest id + 1).
    func coversExactly(through: Int64, newest: Int64) -> Bool {
        coversNewest(newest) && afterID == through
    }

    /// The counts match the newest rows, from the one after `afterID` up to `newest`, with rows
    /// above `through` before them that were not counted here.
    func coversAfterAGap(through: Int64, newest: Int64) -> Bool {
        coversNewest(newest) && afterID > through
    }

    private func coversNewest(_ newest: Int64) -> Bool {
        rows > 0 && lastID == newest && lastID - afterID == Int64(rows)
    }

    mutating func restart(after through: Int64) {
        counts = AuditMinuteCounts()
        afterID = through
        lastID = through
        rows = 0
    }
}

/// What one `Registry.foldAuditMinutes` call did.
public struct AuditMinutesFold: Sendable, Equatable {
    /// Rows newly counted in `prediction_minutes`.
    public let rows: Int
    /// Whether they were counted from the rows themselves (someone else appended too, or this is a
    /// catch-up) rather than from the writer's own counts.
    public let readBack: Bool
    /// Rows still to count: call again.
    public let remaining: Bool
}

extension Registry {
    static let selectLatencyBuckets = "SELECT from_us FROM latency_buckets ORDER BY from_us"
    static let selectMinutesThrough = "SELECT through_id FROM prediction_minutes_through WHERE id = 1"
    static let updateMinutesThrough = "UPDATE prediction_minutes_through SET through_id = ?1 WHERE id = 1"
    static let selectNewestAuditID = "SELECT coalesce(max(id), 0) FROM predictions"
    static let upsertMinuteCount = """
        INSERT INTO prediction_minutes (minute, version_id, latency_from_us, predictions, flagged) VALUES (?1, ?2, ?3, ?4, ?5)
        ON CONFLICT (minute, version_id, latency_from_us) DO UPDATE
        SET predictions = predictions + excluded.predictions, flagged = flagged + excluded.flagged
        """
    /// Counts the rows with ?1 < id <= ?2 from the table itself (a range of the rowid).
    static let foldMinuteCountsFromRows = """
        INSERT INTO prediction_minutes (minute, version_id, latency_from_us, predictions, flagged)
        SELECT substr(predicted_at, 1, 16), version_id,
               (SELECT max(from_us) FROM latency_buckets WHERE from_us <= latency_us), count(*), sum(decision = 'fraud')
        FROM predictions WHERE id > ?1 AND id <= ?2
        GROUP BY 1, 2, 3
        ON CONFLICT (minute, version_id, latency_from_us) DO UPDATE
        SET predictions = predictions + excluded.predictions, flagged = flagged + excluded.flagged
        """
    static let countAuditRowsInIDRange = "SELECT count(*) FROM predictions WHERE id > ?1 AND id <= ?2"

    /// The buckets `prediction_minutes` counts latencies in.
    public func latencyBuckets() throws -> LatencyBuckets {
        try read { try readLatencyBuckets() }
    }

    func readLatencyBuckets() throws -> LatencyBuckets {
        try LatencyBuckets(starts: try db.prepare(Self.selectLatencyBuckets).rows { $0.int(0) })
    }

    /// Empty counts for the audit writer to keep as it appends, starting after the rows counted so far.
    public func pendingAuditMinutes() throws -> PendingAuditMinutes {
        try read { PendingAuditMinutes(buckets: try readLatencyBuckets(), afterID: try minutesThrough()) }
    }

    func minutesThrough() throws -> Int64 {
        Int64(try db.scalarInt(Self.selectMinutesThrough) ?? 0)
    }

    /// Brings `prediction_minutes` up to date in one transaction: from `pending` when it counted
    /// exactly the rows appended since the last fold, otherwise from the rows themselves, at most
    /// `maxReadBack` of them a call (so a catch-up leaves the writer's lock between calls; 0 reads
    /// none back and reports them remaining). When `pending` counted the newest rows and only rows
    /// before them are missing (a killed writer's), those are read back, and `pending` is kept
    /// until they are all counted, then folded in: a writer that is never idle catches up. Else
    /// `pending` starts again empty after what is now counted.
    @discardableResult
    public func foldAuditMinutes(_ pending: inout PendingAuditMinutes, maxReadBack: Int = 5_000) throws -> AuditMinutesFold {
        if pending.isEmpty {
            // The idle writer asks every second: a read answers when there is nothing to count,
            // without taking the write lock from other processes.
            let (through, newest) = try read { (try minutesThrough(), Int64(try db.scalarInt(Self.selectNewestAuditID) ?? 0)) }
            if newest == through {
                pending.restart(after: through)
                return AuditMinutesFold(rows: 0, readBack: false, remaining: false)
            }
        }
        let (fold, through) = try write { () throws -> (AuditMinutesFold, Int64?) in
            let through = try minutesThrough()
            let newest = Int64(try db.scalarInt(Self.selectNewestAuditID) ?? 0)
            if pending.coversExactly(through: through, newest: newest) {
                try upsert(pending)
                try db.run(Self.updateMinutesThrough, [newest])
                return (AuditMinutesFold(rows: pending.rows, readBack: false, remaining: false), newest)
            }
            // The delete trigger of migration 003 keeps the mark at or below the newest id; should it
            // ever be above, the ids over the newest would be given again and never counted.
            guard newest > through else {
                if newest < through { try db.run(Self.updateMinutesThrough, [newest]) }
                return (AuditMinutesFold(rows: 0, readBack: false, remaining: false), newest)
            }
            let gapOnly = pending.coversAfterAGap(through: through, newest: newest)
            guard maxReadBack > 0 else {
                return (AuditMinutesFold(rows: 0, readBack: false, remaining: true), gapOnly ? nil : through)
            }
            let upTo = min(gapOnly ? pending.afterID : newest, through + Int64(maxReadBack))
            try db.run(Self.foldMinuteCountsFromRows, [through, upTo])
            let counted = try db.scalarInt(Self.countAuditRowsInIDRange, [through, upTo]) ?? 0
            guard gapOnly, upTo == pending.afterID else {
                try db.run(Self.updateMinutesThrough, [upTo])
                return (AuditMinutesFold(rows: counted, readBack: true, remaining: upTo < newest), gapOnly ? nil : upTo)
            }
            try upsert(pending)
            try db.run(Self.updateMinutesThrough, [newest])
            return (AuditMinutesFold(rows: counted + pending.rows, readBack: true, remaining: false), newest)
        }
        // nil: the writer's counts wait for the rows before them.
        if let through { pending.restart(after: through) }
        return fold
    }

    private func upsert(_ pending: PendingAuditMinutes) throws {
        let upsert = try db.cached(Self.upsertMinuteCount)
        for (key, count) in pending.counts.counts {
            try upsert.run([key.minute, key.versionID, pending.buckets.starts[key.bucket], count.predictions, count.flagged])
        }
    }
}
