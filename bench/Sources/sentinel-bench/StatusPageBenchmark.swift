import Foundation
import Logging
import Registry
import Serving

/// The status page (`GET /`) on a large audit table: the server time of its registry reads (the
/// per-minute counts of `prediction_minutes`) and rendering, and the size of its HTML, beside the
/// same aggregation done from the rows in plain SQL, with the indexes and without them (a full scan
/// of the table); and how fast rows appended by another process are counted per minute.
///
/// The registry holds 60 versions of `fraud` with a long promotion history (so the page's lists
/// are cut to their newest entries) and 1,000,000 audit rows written through `Registry.appendAudit`
/// over the last 24 hours: the last hour at the day's average rate (1/24 of the rows, v59 then v60
/// after a promotion at half past), one busy hour six hours ago at five times that rate (two
/// versions interleaved), and the rest spread evenly. Each row carries real feature JSON (the golden
/// rows of models/fraud-xgboost), so the table is as large on disk as the service would make it.
/// Both windows are timed: the page always shows the last hour, and the busy one is what a bad day
/// costs.
struct StatusPageBenchmark {
    let workDirectory: URL
    let models: URL
    static let totalRows = 1_000_000
    static let repetitions = 7

    init(arguments: [String]) throws {
        guard (1...2).contains(arguments.count) else { throw BenchError("usage: sentinel-bench status-page WORKDIR [MODELS_DIR]") }
        workDirectory = URL(fileURLWithPath: arguments[0])
        models = URL(fileURLWithPath: arguments.count == 2 ? arguments[1] : "models")
    }

    func run() throws {
        try? FileManager.default.removeItem(at: workDirectory)
        try FileManager.default.createDirectory(at: workDirectory, withIntermediateDirectories: true)
        let path = workDirectory.appendingPathComponent("status.db").path
        try Registry.initialise(path: path)
        var logger = Logger(label: "sentinel.bench")
        logger.logLevel = .warning
        let writer = try Registry.open(path: path, access: .write, durability: .processCrash, logger: logger)
        let versions = try registerVersions(writer)

        let nowMillis = Int64(Date().timeIntervalSince1970 * 1000)
        let lastHour = AuditWindow.lastHour(endingAt: Date(timeIntervalSince1970: Double(nowMillis) / 1000))
        let busyHour = AuditWindow(startUnixMilliseconds: lastHour.startUnixMilliseconds - 6 * 3_600_000, minutes: 60)
        let fillStarted = now()
        let plan = try fill(writer, versions: versions, lastHour: lastHour, busyHour: busyHour, nowMillis: nowMillis)
        let fillSeconds = Double(now() - fillStarted) / 1e9
        let fileBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        // The rows went in through appendAudit alone, as another process's would: counted per minute
        // from the table, in the bounded steps the service's catch-up takes.
        let foldStarted = now()
        var pending = try writer.pendingAuditMinutes()
        var folded = 0
        while true {
            let fold = try writer.foldAuditMinutes(&pending)
            folded += fold.rows
            if !fold.remaining { break }
        }
        let foldSeconds = Double(now() - foldStarted) / 1e9

        // The service's side: a read-only connection of its own, as StatusReader keeps.
        let reader = try Registry.open(path: path, access: .read, logger: logger)
        let peer = try Connection(path: path, options: .init(mode: .readOnly))
        var results: [(name: String, window: AuditWindow, expected: Int, page: Timing, summary: Timing, render: Timing, bytes: Int, rows: Int, versions: Int,
                       grouped: Timing, naive: Timing)] = []
        for (name, window, expected) in [("last hour (the day's average rate)", lastHour, plan.lastHourRows), ("busy hour (5x, 6 h ago)", busyHour, plan.busyHourRows)] {
            var pageTimes: [UInt64] = [], summaryTimes: [UInt64] = [], renderTimes: [UInt64] = []
            var html = ""
            var report: StatusReport?
            for _ in 0..<Self.repetitions {
                let started = ContinuousClock.now
                let t0 = now()
                let read = try StatusReport.read(from: reader, window: window, serving: ActiveModels().snapshot(), reloads: [:], live: LiveCounters())
                let t1 = now()
                html = StatusPage(report: read, started: started).render()
                let t2 = now()
                summaryTimes.append(t1 - t0)
                renderTimes.append(t2 - t1)
                pageTimes.append(t2 - t0)
                report = read
            }
            let groupedTimes = try (0..<Self.repetitions).map { _ in try sqlPeer(peer, window: window, indexed: true) }
            let naiveTimes = try (0..<Self.repetitions).map { _ in try sqlPeer(peer, window: window, indexed: false) }
            results.append((name, window, expected, Timing(pageTimes), Timing(summaryTimes), Timing(renderTimes), html.utf8.count,
                            report?.audit.rowCount ?? 0, report?.audit.versions.count ?? 0, Timing(groupedTimes), Timing(naiveTimes)))
            if name.hasPrefix("last") { try html.write(to: workDirectory.appendingPathComponent("status-page.html"), atomically: true, encoding: .utf8) }
        }

        #if DEBUG
        let build = "DEBUG build: Swift-side numbers are several times slower than release"
        #else
        let build = "release build"
        #endif
        print("Status page benchmark (\(build); \(ProcessInfo.processInfo.activeProcessorCount) cores; median of \(Self.repetitions) runs, first run in brackets)")
        print("")
        print("Registry: \(versions.count) versions, \(plan.promotions) promotions; audit table \(grouped(Self.totalRows)) rows over 24 h, "
              + String(format: "%.0f MB on disk, written in %.1f s (%.0f rows/s through Registry.appendAudit).", Double(fileBytes) / 1e6, fillSeconds, Double(Self.totalRows) / fillSeconds))
        print(String(format: "Per-minute counts: %@ rows counted from the table in %.1f s (%.0f rows/s; the service counts its own rows as it commits them and reads back only what other processes appended).",
                     grouped(folded), foldSeconds, Double(folded) / foldSeconds))
        if folded != Self.totalRows {
            print("MISMATCH: \(folded) rows counted per minute, \(Self.totalRows) were written")
        }
        print("")
        print("| window | rows summarised | versions | registry reads | HTML render | page (server time) | HTML size |")
        print("|---|---|---|---|---|---|---|")
        var failed = folded != Self.totalRows
        for result in results {
            print("| \(result.name) | \(grouped(result.rows)) | \(result.versions) | \(result.summary) | \(result.render) | \(result.page) | "
                  + String(format: "%.1f KiB", Double(result.bytes) / 1024) + " |")
            if result.rows != result.expected {
                print("MISMATCH: \(result.name) summarised \(result.rows) rows, \(result.expected) were written in it")
                failed = true
            }
            if result.bytes >= StatusPage.sizeBudget {
                print("OVER BUDGET: \(result.name) page is \(result.bytes) bytes, the bound is \(StatusPage.sizeBudget)")
                failed = true
            }
        }
        print("")
        print("The same aggregation from the rows in plain SQL (GROUP BY version and minute, then every latency ORDER BY version, minute, value; what the page did before the per-minute counts), rows only stepped through:")
        print("")
        print("| window | page's registry reads | SQL, indexed | ratio | SQL, NOT INDEXED (full scan) | ratio |")
        print("|---|---|---|---|---|---|")
        for result in results {
            print("| \(result.name) | \(result.summary) | \(result.grouped) | " + String(format: "%.1fx", result.grouped.median / result.summary.median)
                  + " | \(result.naive) | " + String(format: "%.1fx", result.naive.median / result.summary.median) + " |")
        }
        print("")
        print("Page = StatusReport.read (versions, history, Registry.auditSummary) + StatusPage.render, in process; the HTTP hop is not included.")
        print("Budget: 200 ms server time, HTML under \(StatusPage.sizeBudget / 1024) KiB. Ratio = the peer's time over the page's registry reads.")
        print("The last hour's page is in \(workDirectory.appendingPathComponent("status-page.html").path).")
        if failed { throw BenchError("status page benchmark: a check failed (see above)") }
    }

    /// 60 logistic versions with metrics, promoted one after another (with a rollback now and then),
    /// v60 last: the page lists only the newest 50 of each list.
    private func registerVersions(_ registry: Registry) throws -> [ModelVersion] {
        let artifact = [UInt8](try Data(contentsOf: models.appendingPathComponent("fraud-logistic/model.json")))
        var versions: [ModelVersion] = []
        for index in 1...60 {
            versions.append(try registry.register(Registration(
                model: "fraud", format: .logistic, artifact: artifact,
                metrics: ["roc_auc": 0.80 + Double(index) / 1_000, "pr_auc": 0.11 + Double(index) / 2_000, "recall_at_threshold": 0.3],
                threshold: 0.06, description: "bench version \(index): retrained on week \(index)", createdBy: "bench")))
        }
        return versions
    }

    struct FillPlan {
        let lastHourRows: Int
        let busyHourRows: Int
        let promotions: Int
    }

    /// Writes the audit rows oldest first, 50,000 to a transaction, then the promotions.
    private func fill(_ registry: Registry, versions: [ModelVersion], lastHour: AuditWindow, busyHour: AuditWindow, nowMillis: Int64) throws -> FillPlan {
        let features = try goldenFeatures()
        let dayStart = lastHour.startUnixMilliseconds - 23 * 3_600_000
        let lastHourRows = Self.totalRows / 24
        let busyHourRows = 5 * lastHourRows
        let otherRows = Self.totalRows - lastHourRows - busyHourRows
        // The last hour's rows end at `nowMillis` (its last minute is still filling up).
        let lastHourEnd = min(nowMillis, lastHour.startUnixMilliseconds + 3_600_000 - 1)
        let v58 = versions[57].id, v59 = versions[58].id, v60 = versions[59].id
        let halfPast = lastHour.startUnixMilliseconds + 30 * 60_000
        var random = SplitMix64(seed: 7)
        var batch: [AuditRecord] = []
        batch.reserveCapacity(50_000)
        var written = 0

        func write(_ count: Int, from start: Int64, to end: Int64, version: (Int64, inout SplitMix64) -> Int64) throws {
            let span = Double(end - start)
            for index in 0..<count {
                let millis = start + Int64(span * Double(index) / Double(count))
                let score = Double(random.next() % 10_000) / 10_000 * 0.2
                let fraud = random.next() % 100 < 8
                // Mostly a few hundred microseconds, with a tail: 1 in 100 takes 5-20 ms.
                let tail = random.next() % 100 == 0
                let latency = tail ? 5_000 + Int(random.next() % 15_000) : 250 + Int(random.next() % 650)
                batch.append(AuditRecord(
                    predictedAt: Timestamp.format(unixMilliseconds: millis), requestID: "bench-\(written)", rowIndex: 0,
                    versionID: version(millis, &random), featuresJSON: features[written % features.count],
                    score: fraud ? 0.5 + score : score, decision: fraud ? .fraud : .legit, latencyMicroseconds: latency))
                written += 1
                if batch.count == 50_000 {
                    try registry.appendAudit(batch)
                    batch.removeAll(keepingCapacity: true)
                }
            }
        }
        // The day before the last hour, the busy hour cut out of it.
        let beforeBusy = Int(Double(otherRows) * Double(busyHour.startUnixMilliseconds - dayStart) / Double(lastHour.startUnixMilliseconds - dayStart - 3_600_000))
        try write(beforeBusy, from: dayStart, to: busyHour.startUnixMilliseconds) { _, _ in v58 }
        try write(busyHourRows, from: busyHour.startUnixMilliseconds, to: busyHour.startUnixMilliseconds + 3_600_000) { _, random in
            random.next() % 10 < 4 ? v58 : v59
        }
        try write(otherRows - beforeBusy, from: busyHour.startUnixMilliseconds + 3_600_000, to: lastHour.startUnixMilliseconds) { _, _ in v59 }
        try write(lastHourRows, from: lastHour.startUnixMilliseconds, to: lastHourEnd) { millis, _ in millis < halfPast ? v59 : v60 }
        if !batch.isEmpty { try registry.appendAudit(batch) }

        var promotions = 0
        for version in versions {
            try registry.promote(version.label, model: "fraud", reason: "bench: promote \(version.label)", by: "bench")
            promotions += 1
            if version.label.number % 10 == 5 {
                try registry.rollback(model: "fraud", reason: "bench: roll back", by: "bench")
                try registry.promote(version.label, model: "fraud", reason: "bench: again", by: "bench")
                promotions += 2
            }
        }
        return FillPlan(lastHourRows: lastHourRows, busyHourRows: busyHourRows, promotions: promotions)
    }

    /// The features objects of the example's golden rows, as the audit writer stores them.
    private func goldenFeatures() throws -> [String] {
        let text = try String(contentsOf: models.appendingPathComponent("fraud-xgboost/golden.jsonl"), encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            guard let start = line.range(of: "\"features\":"), let end = line.range(of: ",\"score\":", options: .backwards) else { return nil }
            return String(line[start.upperBound..<end.lowerBound])
        }
    }

    /// The aggregation as plain SQL would do it: counts and fraud decisions grouped by version and
    /// minute, and every latency of the window sorted by version, minute and value (percentiles then
    /// read off by rank). With `indexed` false, `NOT INDEXED` makes SQLite scan the whole table, as it
    /// would without predictions_by_time / predictions_by_version. The rows are only stepped through.
    private func sqlPeer(_ db: Connection, window: AuditWindow, indexed: Bool) throws -> UInt64 {
        let started = now()
        let table = indexed ? "predictions" : "predictions NOT INDEXED"
        var rows = 0
        let counts = try db.prepare("""
            SELECT version_id, substr(predicted_at, 1, 16) AS minute, count(*), sum(decision = 'fraud')
            FROM \(table) WHERE predicted_at >= ?1 AND predicted_at < ?2 GROUP BY version_id, minute
            """)
        try counts.forEachRow([window.start, window.end]) { row in rows += row.int(2) }
        let latencies = try db.prepare("""
            SELECT version_id, substr(predicted_at, 1, 16) AS minute, latency_us
            FROM \(table) WHERE predicted_at >= ?1 AND predicted_at < ?2 ORDER BY version_id, minute, latency_us
            """)
        var sum = 0
        try latencies.forEachRow([window.start, window.end]) { row in sum &+= row.int(2) }
        return now() - started
    }
}

/// Median and first of a set of timings, printed in milliseconds.
struct Timing: CustomStringConvertible {
    let median: Double
    let first: Double

    init(_ nanoseconds: [UInt64]) {
        first = Double(nanoseconds.first ?? 0) / 1e6
        median = Double(nanoseconds.sorted()[nanoseconds.count / 2]) / 1e6
    }

    var description: String { String(format: "%.1f ms [%.1f]", median, first) }
}

/// A count with thousands separators.
func grouped(_ value: Int) -> String {
    let formatter = NumberFormatter()
    formatter.numberStyle = .decimal
    formatter.groupingSeparator = ","
    return formatter.string(from: NSNumber(value: value)) ?? "\(value)"
}

/// A small, fast, seedable generator, so that every run writes the same table.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
