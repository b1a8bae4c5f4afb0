import Foundation
import Testing
@testable import Registry

/// `Registry.auditSummary(window:)`, the status page's reading of the audit log: the right rows in the
/// right minutes, from the per-minute counts and from rows not counted yet alike, percentiles in the
/// right latency bucket, and query plans that range-scan keys instead of the table.
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

    /// The nearest-rank percentile of `values` (per mille), computed here from the values themselves.
    static func exactPercentile(_ values: [Int], perMille: Int) -> Int {
        let sorted = values.sorted()
        return sorted[max(0, (perMille * sorted.count + 999) / 1_000 - 1)]
    }

    /// Each estimate lies in the latency bucket the exact percentile falls in.
    static func expectInExactBuckets(_ estimate: LatencyPercentiles?, of values: [Int], _ buckets: LatencyBuckets,
                                     sourceLocation: SourceLocation = #_sourceLocation) {
        guard let estimate else { Issue.record("no percentiles", sourceLocation: sourceLocation); return }
        for (perMille, value) in [(500, estimate.p50), (950, estimate.p95), (990, estimate.p99)] {
            let exact = exactPercentile(values, perMille: perMille)
            #expect(buckets.index(of: value) == buckets.index(of: exact),
                    "p\(perMille / 10): estimate \(value) µs, exact \(exact) µs", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [false, true])
    func countsEveryRowOfTheWindowInItsMinuteAndNoOther(folded: Bool) throws {
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
        if folded {
            var pending = try registry.pendingAuditMinutes()
            #expect(try registry.foldAuditMinutes(&pending) == AuditMinutesFold(rows: 105, readBack: true, remaining: false))
        }

        let summary = try registry.auditSummary(window: window)
        #expect(summary.rowCount == 103)
        #expect(summary.rowsReadDirectly == (folded ? 0 : 103))
        #expect(summary.versions.map(\.label) == [VersionLabel(1), VersionLabel(2)])
        let first = summary.versions[0], second = summary.versions[1]
        #expect(first.model == "fraud" && first.versionID == v1 && first.minutes.count == 60)
        #expect(first.predictions == 3 && first.flagged == 1)
        #expect(first.minutes.indices.filter { first.minutes[$0] != nil } == [0, 30, 59])
        #expect(first.minutes[0]?.flagged == 1 && first.minutes[0]?.flaggedShare == 1)
        #expect(second.predictions == 100 && second.flagged == 10 && second.flaggedShare == 0.1)
        #expect(second.minutes.indices.filter { second.minutes[$0] != nil } == [10])
        // Evenly spread values give their exact nearest-rank percentiles back: the 50th, 95th and
        // 99th of 1...100 µs.
        #expect(second.minutes[10]?.latency == LatencyPercentiles(p50: 50, p95: 95, p99: 99))
        #expect(second.latency == LatencyPercentiles(p50: 50, p95: 95, p99: 99))
        // Three of 100 µs, in the bucket [100, 120) and taken as spread evenly across it: ranks 2
        // and 3 at the middles of the second and third thirds.
        #expect(first.latency == LatencyPercentiles(p50: 110, p95: 116, p99: 116))
    }

    /// 12 buckets a decade from 10 µs (the E12 series), one below, and the open-ended one from 100 s.
    @Test func latencyBucketsAreTheE12SeriesFromTenMicroseconds() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (registry, _, _) = try Self.registry(in: dir)
        let e12 = [10, 12, 15, 18, 22, 27, 33, 39, 47, 56, 68, 82]
        let decades = (0...6).map { Int(pow(10.0, Double($0))) }
        let buckets = try registry.latencyBuckets()
        #expect(buckets.starts == [0] + decades.flatMap { scale in e12.map { $0 * scale } } + [100_000_000])
        #expect(buckets.index(of: -5) == 0 && buckets.index(of: 9) == 0 && buckets.index(of: 10) == 1)
        #expect(buckets.index(of: 999) == buckets.index(of: 820) && buckets.index(of: 1_000) == buckets.index(of: 820) + 1)
        #expect(buckets.index(of: Int.max) == buckets.count - 1 && buckets.end(ofBucket: buckets.count - 1) == nil)
        // One value: every percentile is in its bucket; the open-ended bucket answers its start.
        // One value in [470, 560): the bucket's middle. Ten in [0, 10), as if 0...9: the nearest ranks.
        #expect(LatencyPercentiles(counts: buckets.starts.map { $0 == 470 ? 1 : 0 }, buckets: buckets)
                == LatencyPercentiles(p50: 515, p95: 515, p99: 515))
        #expect(LatencyPercentiles(counts: buckets.starts.map { $0 == 0 ? 10 : 0 }, buckets: buckets)
                == LatencyPercentiles(p50: 4, p95: 9, p99: 9))
        let last = LatencyPercentiles(counts: buckets.starts.indices.map { $0 == buckets.count - 1 ? 3 : 0 }, buckets: buckets)
        #expect(last == LatencyPercentiles(p50: 100_000_000, p95: 100_000_000, p99: 100_000_000))
    }

    /// Latencies over four decades, as a page would see them: every estimate in the bucket of the
    /// exact percentile, whether the rows were counted per minute or read one by one.
    @Test func percentilesOfLatenciesOverFourDecadesLandInTheirExactBuckets() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (registry, v1, _) = try Self.registry(in: dir)
        // Spread log-uniformly over 31.6 µs to 316 ms, in a scrambled order (7,919 is prime to 5,000).
        let latencies = (0..<5_000).map { index in Int(pow(10.0, 1.5 + 4.0 * Double(index * 7_919 % 5_000) / 5_000)) }
        try registry.appendAudit(latencies.enumerated().map { index, latency in
            Self.record(Self.windowStart + 5 * 60_000 + Int64(index), version: v1, latency: latency)
        })
        let window = AuditWindow(startUnixMilliseconds: Self.windowStart, minutes: 60)
        let buckets = try registry.latencyBuckets()
        let direct = try registry.auditSummary(window: window)
        // With many rows uncounted, found through the time index instead: the same summary.
        #expect(try registry.auditSummary(window: window, uncountedByIDLimit: 1_000) == direct)
        var pending = try registry.pendingAuditMinutes()
        try registry.foldAuditMinutes(&pending)
        let counted = try registry.auditSummary(window: window)
        #expect(direct.rowsReadDirectly == 5_000 && counted.rowsReadDirectly == 0)
        #expect(direct.versions == counted.versions)
        Self.expectInExactBuckets(counted.versions.first?.latency, of: latencies, buckets)
        Self.expectInExactBuckets(counted.versions.first?.minutes[5]?.latency, of: latencies, buckets)
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

    /// `registry-cli audit --version vN` reads that version's rows through `predictions_by_version`,
    /// newest first, stopping at the limit: filtered on the joined label, SQLite walked every row by
    /// time (the whole table for a version with none). With the model alone, by time.
    @Test func auditByVersionSearchesItsIndex() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (registry, v1, v2) = try Self.registry(in: dir)
        try registry.appendAudit((0..<3_000).map { Self.record(Self.windowStart + Int64($0), version: $0 % 100 == 0 ? v1 : v2) })
        let byVersion = try registry.db.prepare("EXPLAIN QUERY PLAN " + Registry.selectAuditBase + " WHERE " + Registry.auditFilterVersion
                                                    + Registry.auditOrder).rows([v1, 5]) { $0.text(3) }
        #expect(byVersion.contains { $0.hasPrefix("SEARCH p USING INDEX predictions_by_version (version_id=?)") }, "\(byVersion)")
        #expect(!byVersion.contains { $0.hasPrefix("SCAN") || $0.contains("TEMP B-TREE") }, "\(byVersion)")
        let rows = try registry.audit(AuditQuery(model: "fraud", version: VersionLabel(1), limit: 5))
        #expect(rows.map(\.predictedAt) == (0..<5).map { Timestamp.format(unixMilliseconds: Self.windowStart + 2_900 - 100 * Int64($0)) })
        #expect(Set(rows.map(\.version)) == [VersionLabel(1)])
        #expect(try registry.audit(AuditQuery(model: "fraud", version: VersionLabel(2), limit: 3_000)).count == 2_970)
    }

    /// A request id's index drives the query whatever else is named (a version, a time range), on
    /// a fresh registry and after ANALYZE: with a version named, SQLite took the version's index for
    /// the order it gives and read every row of the version. And a model's rows come from each of
    /// its versions' index, newest first across them (filtered on the model, SQLite walked the time
    /// index through every other model's rows).
    @Test func auditByRequestSearchesItsIndexAndAModelItsVersions() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (registry, v1, v2) = try Self.registry(in: dir)
        try registry.appendAudit((0..<3_000).map { Self.record(Self.windowStart + Int64($0), version: $0 % 100 == 0 ? v1 : v2) })
        let request = "r-\(Self.windowStart + 2_000)-100"
        let sifted = [Registry.auditFilterRequest, Registry.auditSiftVersion, Registry.auditSiftSince, Registry.auditSiftUntil]
        for analysed in [false, true] {
            if analysed { try registry.db.execute("ANALYZE") }
            let plan = try registry.db.prepare("EXPLAIN QUERY PLAN " + Registry.selectAuditBase + " WHERE " + sifted.joined(separator: " AND ") + Registry.auditOrder)
                .rows([request, v1, Timestamp.format(unixMilliseconds: Self.windowStart), Timestamp.format(unixMilliseconds: Self.windowStart + 10_000), 5]) { $0.text(3) }
            #expect(plan.contains { $0.hasPrefix("SEARCH p USING INDEX predictions_by_request (request_id=?)") }, "\(plan)")
        }
        #expect(try registry.audit(AuditQuery(model: "fraud", version: VersionLabel(1), requestID: request)).map(\.requestID) == [request])
        #expect(try registry.audit(AuditQuery(model: "fraud", version: VersionLabel(2), requestID: request)).isEmpty)
        #expect(try registry.audit(AuditQuery(model: "fraud", requestID: request)).map(\.requestID) == [request])
        let newest = try registry.audit(AuditQuery(model: "fraud", limit: 150))
        #expect(newest.map(\.predictedAt) == (0..<150).map { Timestamp.format(unixMilliseconds: Self.windowStart + 2_999 - Int64($0)) })
        #expect(Set(newest.map(\.version)) == [VersionLabel(1), VersionLabel(2)])
        let since = Timestamp.format(unixMilliseconds: Self.windowStart + 2_950)
        #expect(try registry.audit(AuditQuery(model: "fraud", since: since, limit: 1_000)).count == 50)
    }

    /// The plans SQLite picks for the three queries: a range of `prediction_minutes`' key bounded by
    /// the window's minutes, a range of the predictions' rowid above the counted mark (not a walk of
    /// the hour through `predictions_by_time`), and for many uncounted rows an index range bounded by
    /// the window; never a scan of either table. Both on a fresh
    /// registry and after ANALYZE on a table whose rows are mostly older than the window.
    @Test func queriesRangeScanTheKeys() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (registry, v1, v2) = try Self.registry(in: dir)
        let window = AuditWindow(startUnixMilliseconds: Self.windowStart, minutes: 60)

        func plans() throws -> (minutes: [String], rows: [String], byTime: [String]) {
            let minutes = try registry.db.prepare("EXPLAIN QUERY PLAN " + Registry.selectWindowMinuteCounts)
                .rows([String(window.start.prefix(16)), String(window.end.prefix(16))]) { $0.text(3) }
            let rows = try registry.db.prepare("EXPLAIN QUERY PLAN " + Registry.selectWindowRowsAfter).rows([window.start, window.end, 100]) { $0.text(3) }
            let byTime = try registry.db.prepare("EXPLAIN QUERY PLAN " + Registry.selectWindowRowsAfterByTime).rows([window.start, window.end, 100]) { $0.text(3) }
            return (minutes, rows, byTime)
        }
        func check(_ plan: (minutes: [String], rows: [String], byTime: [String]), _ when: String) {
            #expect(plan.minutes.contains { $0.hasPrefix("SEARCH r USING PRIMARY KEY (minute>? AND minute<?)") }, "\(when): \(plan.minutes)")
            #expect(plan.rows.contains { $0.hasPrefix("SEARCH p USING INTEGER PRIMARY KEY (rowid>?)") }, "\(when): \(plan.rows)")
            // By time, or (with statistics) by version and time: either way bounded by the window.
            #expect(plan.byTime.contains { $0.hasPrefix("SEARCH p USING INDEX predictions_by_") && $0.hasSuffix("predicted_at>? AND predicted_at<?)") },
                    "\(when): \(plan.byTime)")
            #expect(!(plan.minutes + plan.rows + plan.byTime).contains { $0.hasPrefix("SCAN p") || $0.hasPrefix("SCAN r") }, "\(when): a table scan")
        }
        check(try plans(), "fresh registry")

        // 20,000 rows over the day before the window, 200 inside it, half counted, then statistics for the planner.
        var rows: [AuditRecord] = []
        for index in 0..<20_000 {
            rows.append(Self.record(Self.windowStart - 86_400_000 + Int64(index) * 4_000, version: index % 3 == 0 ? v1 : v2, latency: index % 997))
        }
        for index in 0..<100 { rows.append(Self.record(Self.windowStart + Int64(index) * 15_000, version: v2, latency: index)) }
        try registry.appendAudit(rows)
        var pending = try registry.pendingAuditMinutes()
        while try registry.foldAuditMinutes(&pending, maxReadBack: 7_000).remaining {}
        try registry.appendAudit((100..<200).map { Self.record(Self.windowStart + Int64($0) * 15_000, version: v2, latency: $0) })
        try registry.db.execute("ANALYZE")
        check(try plans(), "after ANALYZE")
        let summary = try registry.auditSummary(window: window)
        #expect(summary.rowCount == 200 && summary.rowsReadDirectly == 100)
    }
}

