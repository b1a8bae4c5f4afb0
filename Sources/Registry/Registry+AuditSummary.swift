import Foundation

/// A span of whole minutes of the audit log, such as the last hour. Its bounds are stored-form
/// times (see `Timestamp`), so the queries compare text against the `predicted_at` indexes.
public struct AuditWindow: Sendable, Equatable {
    /// Unix time of the first minute's start, in milliseconds (a multiple of 60,000).
    public let startUnixMilliseconds: Int64
    public let minutes: Int

    /// A window of `minutes` whole minutes starting at `startUnixMilliseconds` (rounded down to a minute).
    public init(startUnixMilliseconds: Int64, minutes: Int) {
        precondition((1...1_440).contains(minutes), "an audit window spans 1 to 1,440 minutes")
        self.startUnixMilliseconds = startUnixMilliseconds - ((startUnixMilliseconds % 60_000) + 60_000) % 60_000
        self.minutes = minutes
    }

    /// The 60 minutes ending with the one `now` falls in (that one is still filling up).
    public static func lastHour(endingAt now: Date = Date()) -> AuditWindow {
        let millis = Int64((now.timeIntervalSince1970 * 1000).rounded(.down))
        let currentMinute = millis - ((millis % 60_000) + 60_000) % 60_000
        return AuditWindow(startUnixMilliseconds: currentMinute - 59 * 60_000, minutes: 60)
    }

    /// Inclusive lower bound, stored form.
    public var start: String { Timestamp.format(unixMilliseconds: startUnixMilliseconds) }
    /// Exclusive upper bound, stored form.
    public var end: String { Timestamp.format(unixMilliseconds: startUnixMilliseconds + Int64(minutes) * 60_000) }

    /// When minute `index` of the window starts, stored form.
    public func minuteStart(_ index: Int) -> String {
        Timestamp.format(unixMilliseconds: startUnixMilliseconds + Int64(index) * 60_000)
    }

    /// The minute of the window a stored-form time (`2026-11-29T08:30:00.123Z`) falls in, read
    /// from its hour and minute digits; nil for text of another shape or outside the window.
    func minute(ofStoredTime text: UnsafeBufferPointer<UInt8>) -> Int? {
        guard text.count >= 16 else { return nil }
        func digit(_ offset: Int) -> Int? {
            let value = Int(text[offset]) - 48
            return (0...9).contains(value) ? value : nil
        }
        guard let h1 = digit(11), let h2 = digit(12), let m1 = digit(14), let m2 = digit(15) else { return nil }
        // Minutes since midnight, relative to the window's first minute, modulo a day: a window
        // across midnight works, and the caller's query has already bounded the rows to the window.
        let minute = ((h1 * 10 + h2) * 60 + m1 * 10 + m2 - startMinuteOfDay + 1_440) % 1_440
        return minute < minutes ? minute : nil
    }

    /// The window's first minute as minutes since midnight UTC.
    var startMinuteOfDay: Int { Int((startUnixMilliseconds / 60_000) % 1_440) }
}

/// Latency percentiles, in microseconds: estimated from latency buckets (see
/// `LatencyPercentiles.init(counts:buckets:)`).
public struct LatencyPercentiles: Sendable, Equatable {
    public let p50: Int
    public let p95: Int
    public let p99: Int

    public init(p50: Int, p95: Int, p99: Int) {
        self.p50 = p50
        self.p95 = p95
        self.p99 = p99
    }
}

/// One version's predictions during one minute.
public struct MinuteActivity: Sendable, Equatable {
    public let predictions: Int
    /// Predictions decided `fraud`.
    public let flagged: Int
    public let latency: LatencyPercentiles

    public var flaggedShare: Double { predictions == 0 ? 0 : Double(flagged) / Double(predictions) }
}

/// One version's predictions across an `AuditWindow`, minute by minute.
public struct VersionActivity: Sendable, Equatable {
    public let versionID: Int64
    public let model: String
    public let label: VersionLabel
    /// One entry per minute of the window, oldest first; nil where the version scored nothing.
    public let minutes: [MinuteActivity?]
    public let predictions: Int
    public let flagged: Int
    /// Over the whole window.
    public let latency: LatencyPercentiles

    public var flaggedShare: Double { predictions == 0 ? 0 : Double(flagged) / Double(predictions) }
}

/// What the audit log says about a window, per version and minute: the status page's charts.
public struct AuditSummary: Sendable, Equatable {
    public let window: AuditWindow
    /// Versions that scored anything in the window, by model then version.
    public let versions: [VersionActivity]
    /// How many of the window's rows were read one by one: those appended since the per-minute
    /// counts were last brought up to date (about a second's worth while the service runs; all of
    /// them while it is down or still counting an upgraded registry's rows).
    public let rowsReadDirectly: Int

    public init(window: AuditWindow, versions: [VersionActivity], rowsReadDirectly: Int = 0) {
        self.window = window
        self.versions = versions
        self.rowsReadDirectly = rowsReadDirectly
    }

    /// How many audit rows were summarised.
    public var rowCount: Int { versions.reduce(0) { $0 + $1.predictions } }
}

/// Gathers one version's counts of a window, per minute and latency bucket, then percentiles.
struct VersionActivityBuilder {
    let window: AuditWindow
    let buckets: LatencyBuckets
    let model: String
    let label: VersionLabel
    private var counts: [[Int]]
    private var flagged: [Int]

    init(window: AuditWindow, buckets: LatencyBuckets, model: String, label: VersionLabel) {
        self.window = window
        self.buckets = buckets
        self.model = model
        self.label = label
        counts = Array(repeating: Array(repeating: 0, count: buckets.count), count: window.minutes)
        flagged = Array(repeating: 0, count: window.minutes)
    }

    mutating func add(minute: Int, bucket: Int, predictions: Int, flagged: Int) {
        counts[minute][bucket] += predictions
        self.flagged[minute] += flagged
    }

    func finish(versionID: Int64) -> VersionActivity {
        var minutes = [MinuteActivity?](repeating: nil, count: window.minutes)
        var all = Array(repeating: 0, count: buckets.count)
        var predictions = 0
        for minute in 0..<window.minutes {
            let inMinute = counts[minute].reduce(0, +)
            guard inMinute > 0 else { continue }
            minutes[minute] = MinuteActivity(predictions: inMinute, flagged: flagged[minute],
                                             latency: LatencyPercentiles(counts: counts[minute], buckets: buckets))
            for bucket in all.indices { all[bucket] += counts[minute][bucket] }
            predictions += inMinute
        }
        return VersionActivity(versionID: versionID, model: model, label: label, minutes: minutes,
                               predictions: predictions, flagged: flagged.reduce(0, +),
                               latency: predictions == 0 ? LatencyPercentiles(p50: 0, p95: 0, p99: 0) : LatencyPercentiles(counts: all, buckets: buckets))
    }
}

extension Registry {
    /// The window's per-minute counts (?1, ?2: the first and the excluded last minute, as
    /// '2026-11-29T08:30'): a range of `prediction_minutes`' primary key.
    static let selectWindowMinuteCounts = """
        SELECT r.minute, r.version_id, m.name, v.version, r.latency_from_us, r.predictions, r.flagged
        FROM prediction_minutes r
        JOIN model_versions v ON v.id = r.version_id
        JOIN models m         ON m.id = v.model_id
        WHERE r.minute >= ?1 AND r.minute < ?2
        """
    /// The window's rows not counted yet (?3: `prediction_minutes_through`), found by their ids: a
    /// range of the rowid (the unary + keeps SQLite from walking the hour by `predictions_by_time`).
    /// For the usual second's worth of rows above the mark.
    static let selectWindowRowsAfter = """
        SELECT p.predicted_at, p.version_id, m.name, v.version, p.latency_us, p.decision = 'fraud'
        FROM predictions p
        JOIN model_versions v ON v.id = p.version_id
        JOIN models m         ON m.id = v.model_id
        WHERE p.id > ?3 AND +p.predicted_at >= ?1 AND +p.predicted_at < ?2
        """
    /// The same rows found through the window's time range, for when many rows are above the mark
    /// (an upgraded registry still being counted): the rowid range would walk all of them, however
    /// old, on every page.
    static let selectWindowRowsAfterByTime = """
        SELECT p.predicted_at, p.version_id, m.name, v.version, p.latency_us, p.decision = 'fraud'
        FROM predictions p
        JOIN model_versions v ON v.id = p.version_id
        JOIN models m         ON m.id = v.model_id
        WHERE p.predicted_at >= ?1 AND p.predicted_at < ?2 AND +p.id > ?3
        """
    /// Above this many uncounted ids the page finds its uncounted rows by time instead.
    static let uncountedRowsByIDLimit: Int64 = 50_000

    /// Summarises the audit log over `window` (for the status page: `AuditWindow.lastHour()`): per
    /// version and minute, how many predictions, how many flagged as fraud, and latency p50/p95/p99.
    /// Reads the window's per-minute counts, and the rows appended since they were brought up to
    /// date, in one snapshot: the cost follows the window's minutes, not its traffic.
    public func auditSummary(window: AuditWindow) throws -> AuditSummary {
        try auditSummary(window: window, uncountedByIDLimit: Self.uncountedRowsByIDLimit)
    }

    func auditSummary(window: AuditWindow, uncountedByIDLimit: Int64) throws -> AuditSummary {
        try read {
            let buckets = try readLatencyBuckets()
            var builders: [Int64: VersionActivityBuilder] = [:]
            func builder(_ row: Row, versionID: Int64) -> VersionActivityBuilder {
                builders[versionID] ?? VersionActivityBuilder(window: window, buckets: buckets, model: row.text(2), label: VersionLabel(row.int(3)))
            }
            let minuteBounds: [SQLiteBindable] = [String(window.start.prefix(16)), String(window.end.prefix(16))]
            try db.prepare(Self.selectWindowMinuteCounts).forEachRow(minuteBounds) { row in
                guard let minute = row.withUTF8(0, window.minute(ofStoredTime:)) else { return }
                let versionID = row.int64(1)
                var activity = builder(row, versionID: versionID)
                // A bucket's start falls in that bucket.
                activity.add(minute: minute, bucket: buckets.index(of: row.int(4)), predictions: row.int(5), flagged: row.int(6))
                builders[versionID] = activity
            }
            var direct = 0
            let through = try minutesThrough()
            let newest = Int64(try db.scalarInt(Self.selectNewestAuditID) ?? 0)
            let uncounted = newest - through > uncountedByIDLimit ? Self.selectWindowRowsAfterByTime : Self.selectWindowRowsAfter
            try db.prepare(uncounted).forEachRow([window.start, window.end, through]) { row in
                guard let minute = row.withUTF8(0, window.minute(ofStoredTime:)) else { return }
                let versionID = row.int64(1)
                var activity = builder(row, versionID: versionID)
                activity.add(minute: minute, bucket: buckets.index(of: row.int(4)), predictions: 1, flagged: row.int(5))
                builders[versionID] = activity
                direct += 1
            }
            let versions = builders.map { $1.finish(versionID: $0) }
                .sorted { ($0.model, $0.label.number) < ($1.model, $1.label.number) }
            return AuditSummary(window: window, versions: versions, rowsReadDirectly: direct)
        }
    }
}
