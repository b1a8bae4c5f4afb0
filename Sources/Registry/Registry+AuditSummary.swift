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

/// Nearest-rank latency percentiles, in microseconds.
public struct LatencyPercentiles: Sendable, Equatable {
    public let p50: Int
    public let p95: Int
    public let p99: Int

    public init(p50: Int, p95: Int, p99: Int) {
        self.p50 = p50
        self.p95 = p95
        self.p99 = p99
    }

    /// The percentiles of `sorted` (ascending, not empty).
    init(sorted: [Int32]) {
        // Nearest rank in integer per-mille, so that 95% of 20 values is rank 19, not a rounded-up 20.
        func rank(_ perMille: Int) -> Int { Int(sorted[max(0, (perMille * sorted.count + 999) / 1_000 - 1)]) }
        self.init(p50: rank(500), p95: rank(950), p99: rank(990))
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

    /// How many audit rows were summarised.
    public var rowCount: Int { versions.reduce(0) { $0 + $1.predictions } }
}

/// Gathers one version's rows of a window into per-minute counts and latencies, then percentiles.
struct VersionActivityBuilder {
    let window: AuditWindow
    private var latencies: [[Int32]]
    private var flagged: [Int]

    init(window: AuditWindow) {
        self.window = window
        latencies = Array(repeating: [], count: window.minutes)
        flagged = Array(repeating: 0, count: window.minutes)
    }

    mutating func add(minute: Int, fraud: Bool, latencyMicroseconds: Int64) {
        latencies[minute].append(Int32(clamping: latencyMicroseconds))
        if fraud { flagged[minute] += 1 }
    }

    mutating func finish(versionID: Int64, model: String, label: VersionLabel) -> VersionActivity {
        var minutes = [MinuteActivity?](repeating: nil, count: window.minutes)
        var all: [Int32] = []
        all.reserveCapacity(latencies.reduce(0) { $0 + $1.count })
        for minute in 0..<window.minutes where !latencies[minute].isEmpty {
            latencies[minute].sort()
            minutes[minute] = MinuteActivity(predictions: latencies[minute].count, flagged: flagged[minute],
                                             latency: LatencyPercentiles(sorted: latencies[minute]))
            all.append(contentsOf: latencies[minute])
        }
        // A run of sorted minutes: the standard library's sort merges such runs rather than starting over.
        all.sort()
        return VersionActivity(versionID: versionID, model: model, label: label, minutes: minutes,
                               predictions: all.count, flagged: flagged.reduce(0, +),
                               latency: all.isEmpty ? LatencyPercentiles(p50: 0, p95: 0, p99: 0) : LatencyPercentiles(sorted: all))
    }
}

extension Registry {
    /// The versions that scored anything in the window (?1 inclusive, ?2 exclusive): one probe of
    /// `predictions_by_version (version_id, predicted_at)` per version, however large the table.
    static let selectVersionsInWindow = """
        SELECT v.id, m.name, v.version
        FROM model_versions v JOIN models m ON m.id = v.model_id
        WHERE EXISTS (SELECT 1 FROM predictions p WHERE p.version_id = v.id AND p.predicted_at >= ?1 AND p.predicted_at < ?2)
        ORDER BY m.name, v.version
        """
    /// One version's rows of the window: a range scan of `predictions_by_version` (?3 the version).
    ///
    /// Not `GROUP BY` minute in SQL: the percentiles need every latency of the window anyway, so a
    /// grouping query beside this one reads each row twice. On the million-row table of
    /// `sentinel-bench status-page` (which times that variant too), SQLite alone took about 40 ms for
    /// this one pass over the last hour's 41,666 rows, against about 80 ms for the GROUP BY and 75 ms
    /// for the latencies sorted in SQL. One pass, counted in Swift.
    static let selectVersionWindowRows = """
        SELECT predicted_at, decision = 'fraud', latency_us
        FROM predictions
        WHERE version_id = ?3 AND predicted_at >= ?1 AND predicted_at < ?2
        """

    /// Summarises the audit log over `window` (for the status page: `AuditWindow.lastHour()`): per
    /// version and minute, how many predictions, how many flagged as fraud, and latency p50/p95/p99.
    /// Reads only the window's rows, through the version index, in one snapshot.
    public func auditSummary(window: AuditWindow) throws -> AuditSummary {
        let bounds: [SQLiteBindable] = [window.start, window.end]
        return try read {
            let versions = try db.prepare(Self.selectVersionsInWindow).rows(bounds) { row in
                (id: row.int64(0), model: row.text(1), label: VersionLabel(row.int(2)))
            }
            let rows = try db.prepare(Self.selectVersionWindowRows)
            return AuditSummary(window: window, versions: try versions.map { version in
                var activity = VersionActivityBuilder(window: window)
                try rows.forEachRow(bounds + [version.id]) { row in
                    guard let minute = row.withUTF8(0, window.minute(ofStoredTime:)) else { return }
                    activity.add(minute: minute, fraud: row.int(1) != 0, latencyMicroseconds: row.int64(2))
                }
                return activity.finish(versionID: version.id, model: version.model, label: version.label)
            })
        }
    }
}
