import Foundation
import Testing
@testable import Registry

/// `Registry.auditSummary(window:)`, the status page's reading of the audit log: the right rows in the
/// right minutes, exact percentiles, and query plans that range-scan the indexes instead of the table.
struct AuditSummaryTests {
    /// A registry with two logistic versions of `fraud`, v2 active.
    private static func registry(in dir: TemporaryDirectory) throws -> (Registry, v1: Int64, v2: Int64) {
        let path = dir.path("summary.db")
        try Registry.initialise(path: path)
        let registry = try Registry.open(path: path, access: .write)
        let artifact = [UInt8](try Data(contentsOf: TemporaryDirectory.repositoryRoot.appendingPathComponent("models/fraud-logistic/model.json")))
        let v1 = try registry.register(Registration(model: "fraud", format: .logistic, artifact: artifact, threshold: 0.1, createdBy: "test"))
        let v2 = try registry.register(Registration(model: "fraud", format: .logistic, artifact: artifact, threshold: 0.2, createdBy: "test"))
        try registry.promote(v2.label, model: "fraud", reason: nil, by: "test")
        return (registry, v1.id, v2.id)
    }

    private static func record(_ millis: Int64, version: Int64, fraud: Bool = false, latency: Int = 100) -> AuditRecord {
        AuditRecord(predictedAt: Timestamp.format(unixMilliseconds: millis), requestID: "r-\(millis)-\(latency)", rowIndex: 0,
                    versionID: version, featuresJSON: "{}", score: fraud ? 0.9 : 0.01, decision: fraud ? .fraud : .legit,
                    latencyMicroseconds: latency)
    }

    /// 2026-11-29T23:30:00Z: the window runs across midnight, where minutes of the day start again at 0.
    static let windowStart: Int64 = 1_795_995_000_000

    @Test func countsEveryRowOfTheWindowInItsMinuteAndNoOther() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (registry, v1, v2) = try Self.registry(in: dir)
        let window = AuditWindow(startUnixMilliseconds: Self.windowStart + 1_234, minutes: 60)
        #expect(window.start == "2026-11-29T23:30:00.000Z" && window.end == "2026-11-30T00:30:00.000Z")
        let start = Self.windowStart
        var records = [
            Self.record(start - 1, version: v1),                        // just before: left out
            Self.record(start + 60 * 60_000, version: v1),              // the exclusive end: left out
            Self.record(start, version: v1, fraud: true),               // minute 0
            Self.record(start + 59 * 60_000 + 59_999, version: v1),     // minute 59, after midnight
            Self.record(start + 30 * 60_000, version: v1),              // 00:00:00.000, minute 30
        ]
        // Minute 10 of v2: latencies 1...100 µs, every tenth flagged.
        for latency in (1...100).shuffled() {
            records.append(Self.record(start + 10 * 60_000 + Int64(latency), version: v2, fraud: latency % 10 == 0, latency: latency))
        }
        try registry.appendAudit(records)

        let summary = try registry.auditSummary(window: window)
        #expect(summary.rowCount == 103)
        #expect(summary.versions.map(\.label) == [VersionLabel(1), VersionLabel(2)])
        let first = summary.versions[0], second = summary.versions[1]
        #expect(first.model == "fraud" && first.versionID == v1 && first.minutes.count == 60)
        #expect(first.predictions == 3 && first.flagged == 1)
        #expect(first.minutes.indices.filter { first.minutes[$0] != nil } == [0, 30, 59])
        #expect(first.minutes[0]?.flagged == 1 && first.minutes[0]?.flaggedShare == 1)
        #expect(second.predictions == 100 && second.flagged == 10 && second.flaggedShare == 0.1)
        #expect(second.minutes.indices.filter { second.minutes[$0] != nil } == [10])
        // Nearest rank: the 50th, 95th and 99th of 1...100.
        #expect(second.minutes[10]?.latency == LatencyPercentiles(p50: 50, p95: 95, p99: 99))
        #expect(second.latency == LatencyPercentiles(p50: 50, p95: 95, p99: 99))
        #expect(LatencyPercentiles(sorted: [7]) == LatencyPercentiles(p50: 7, p95: 7, p99: 7))
        #expect(LatencyPercentiles(sorted: Array(1...20)) == LatencyPercentiles(p50: 10, p95: 19, p99: 20))
    }

    @Test func anEmptyWindowSummarisesNothing() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (registry, v1, _) = try Self.registry(in: dir)
        try registry.appendAudit([Self.record(Self.windowStart - 3_600_000, version: v1)])
        let summary = try registry.auditSummary(window: AuditWindow(startUnixMilliseconds: Self.windowStart, minutes: 60))
        #expect(summary.rowCount == 0 && summary.versions.isEmpty)
    }

    @Test func lastHourEndsWithTheCurrentMinute() {
        let now = Date(timeIntervalSince1970: Double(Self.windowStart) / 1000 + 125.5)  // 23:32:05.5
        let window = AuditWindow.lastHour(endingAt: now)
        #expect(window.minutes == 60)
        #expect(window.start == "2026-11-29T22:33:00.000Z" && window.end == "2026-11-29T23:33:00.000Z")
        #expect(window.minuteStart(59) == "2026-11-29T23:32:00.000Z")
    }

    /// The plans SQLite picks for the two queries: one probe of `predictions_by_version` per version
    /// to find those that scored in the window, then a range search of the same index bounded by the
    /// window; never a scan of the predictions table. Both on a fresh registry and after ANALYZE on a
    /// table whose rows are mostly older than the window.
    @Test func queriesRangeScanTheIndexes() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (registry, v1, v2) = try Self.registry(in: dir)
        let window = AuditWindow(startUnixMilliseconds: Self.windowStart, minutes: 60)
        let bounds: [SQLiteBindable] = [window.start, window.end]

        func plans() throws -> (versions: [String], rows: [String]) {
            let versions = try registry.db.prepare("EXPLAIN QUERY PLAN " + Registry.selectVersionsInWindow).rows(bounds) { $0.text(3) }
            let rows = try registry.db.prepare("EXPLAIN QUERY PLAN " + Registry.selectVersionWindowRows).rows(bounds + [v2]) { $0.text(3) }
            return (versions, rows)
        }
        func check(_ plan: (versions: [String], rows: [String]), _ when: String) {
            let rangeOfOneVersion = "USING COVERING INDEX predictions_by_version (version_id=? AND predicted_at>? AND predicted_at<?)"
            #expect(plan.versions.contains { $0.hasPrefix("SEARCH p ") && $0.hasSuffix(rangeOfOneVersion) }, "\(when): \(plan.versions)")
            #expect(plan.rows == ["SEARCH predictions USING INDEX predictions_by_version (version_id=? AND predicted_at>? AND predicted_at<?)"],
                    "\(when): \(plan.rows)")
            #expect(!(plan.versions + plan.rows).contains { $0.hasPrefix("SCAN p") }, "\(when): a scan of the predictions table")
        }
        check(try plans(), "fresh registry")

        // 20,000 rows over the day before the window, 200 inside it, then statistics for the planner.
        var rows: [AuditRecord] = []
        for index in 0..<20_000 {
            rows.append(Self.record(Self.windowStart - 86_400_000 + Int64(index) * 4_000, version: index % 3 == 0 ? v1 : v2, latency: index % 997))
        }
        for index in 0..<200 { rows.append(Self.record(Self.windowStart + Int64(index) * 15_000, version: v2, latency: index)) }
        try registry.appendAudit(rows)
        try registry.db.execute("ANALYZE")
        check(try plans(), "after ANALYZE")
        #expect(try registry.auditSummary(window: window).rowCount == 200)
    }
}
