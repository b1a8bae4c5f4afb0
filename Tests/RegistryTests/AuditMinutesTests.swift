import Foundation
import Testing
@testable import Registry

/// `prediction_minutes`, the audit log counted per minute, version and latency bucket: brought up to
/// date from the writer's own counts or from the rows themselves, it always equals a GROUP BY over
/// the rows it claims to cover, whoever else appends, prunes or upgrades the registry.
struct AuditMinutesTests {
    private static func registry(in dir: TemporaryDirectory, name: String = "minutes.db") throws -> (Registry, version: Int64) {
        let path = dir.path(name)
        try Registry.initialise(path: path)
        let registry = try Registry.open(path: path, access: .write)
        let artifact = [UInt8](try Data(contentsOf: TemporaryDirectory.repositoryRoot.appendingPathComponent("models/fraud-logistic/model.json")))
        let version = try registry.register(Registration(model: "fraud", format: .logistic, artifact: artifact, threshold: 0.5, createdBy: "test"))
        return (registry, version.id)
    }

    /// 2026-11-29T10:00:00Z.
    static let start: Int64 = 1_795_946_400_000

    /// `count` rows from `first` on, 997 ms apart (so they cross minutes), latencies over four decades.
    private static func records(_ count: Int, from first: Int, version: Int64) -> [AuditRecord] {
        (first..<first + count).map { index in
            AuditRecord(predictedAt: Timestamp.format(unixMilliseconds: start + Int64(index) * 997), requestID: "r-\(index)", rowIndex: 0,
                        versionID: version, featuresJSON: "{}", score: index % 7 == 0 ? 0.9 : 0.1, decision: index % 7 == 0 ? .fraud : .legit,
                        latencyMicroseconds: [8, 95, 140, 1_000, 1_399, 47_000, 250_000][index % 7] + index % 13)
        }
    }

    /// What `prediction_minutes` holds, in key order.
    private static func counted(_ registry: Registry) throws -> [String] {
        try registry.db.prepare("SELECT minute, version_id, latency_from_us, predictions, flagged FROM prediction_minutes ORDER BY 1, 2, 3")
            .rows { "\($0.text(0)) \($0.int64(1)) \($0.int(2)) \($0.int(3)) \($0.int(4))" }
    }

    /// The same counts made here from the rows read back, with the bucket found among the starts.
    private static func expected(_ registry: Registry) throws -> [String] {
        let starts = try registry.latencyBuckets().starts
        var counts: [String: (Int, Int)] = [:]
        try registry.db.prepare("SELECT predicted_at, version_id, latency_us, decision FROM predictions").forEachRow { row in
            let start = starts.last { $0 <= row.int(2) } ?? 0
            let key = "\(row.text(0).prefix(16)) \(row.int64(1)) \(String(format: "%09d", start))"
            counts[key, default: (0, 0)].0 += 1
            if row.text(3) == "fraud" { counts[key, default: (0, 0)].1 += 1 }
        }
        return counts.keys.sorted().map { key in
            let parts = key.split(separator: " ")
            return "\(parts[0]) \(parts[1]) \(Int(parts[2])!) \(counts[key]!.0) \(counts[key]!.1)"
        }
    }

    private static func through(_ registry: Registry) throws -> Int64 { try registry.minutesThrough() }

    /// Appends `records` as the audit writer does: committed in one transaction, then counted.
    /// Appends as the writer does, counting the rows in `pending`; returns the last row's id.
    @discardableResult
    private static func append(_ records: [AuditRecord], to registry: Registry, counting pending: inout PendingAuditMinutes) throws -> Int64 {
        let lastID = try registry.appendAudit(records)
        pending.add(records, lastID: lastID)
        return lastID
    }

    /// A registry holding `rows` audit rows from `start`, appended and folded as the writer does.
    private static func folded(_ rows: Int, in dir: TemporaryDirectory) throws -> (Registry, version: Int64, PendingAuditMinutes) {
        let (registry, version) = try Self.registry(in: dir)
        var pending = try registry.pendingAuditMinutes()
        try append(records(rows, from: 0, version: version), to: registry, counting: &pending)
        try registry.foldAuditMinutes(&pending)
        return (registry, version, pending)
    }

    @Test func theWritersOwnCountsFoldInAndEqualTheRows() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (registry, version) = try Self.registry(in: dir)
        var pending = try registry.pendingAuditMinutes()
        for batch in 0..<20 {
            try Self.append(Self.records(7, from: batch * 7, version: version), to: registry, counting: &pending)
        }
        #expect(try registry.foldAuditMinutes(&pending) == AuditMinutesFold(rows: 140, readBack: false, remaining: false))
        #expect(pending.isEmpty && pending.afterID == 140)
        #expect(try Self.through(registry) == 140)
        let fromCounts = try Self.counted(registry)
        #expect(fromCounts == (try Self.expected(registry)))
        #expect(fromCounts.count > 10)

        // Counted from the rows instead (a second registry with the same rows): the same table.
        let (other, otherVersion) = try Self.registry(in: dir, name: "other.db")
        #expect(otherVersion == version)
        for batch in 0..<20 { try other.appendAudit(Self.records(7, from: batch * 7, version: version)) }
        var otherPending = try other.pendingAuditMinutes()
        #expect(try other.foldAuditMinutes(&otherPending) == AuditMinutesFold(rows: 140, readBack: true, remaining: false))
        #expect(try Self.counted(other) == fromCounts)

        // Nothing new: nothing changes.
        #expect(try registry.foldAuditMinutes(&pending) == AuditMinutesFold(rows: 0, readBack: false, remaining: false))
        #expect(try Self.counted(registry) == fromCounts)
    }

    @Test func rowsAppendedByAnotherProcessMeanwhileAreCountedFromTheTable() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (registry, version) = try Self.registry(in: dir)
        let cli = try Registry.open(path: registry.path, access: .write)
        var pending = try registry.pendingAuditMinutes()
        try Self.append(Self.records(10, from: 0, version: version), to: registry, counting: &pending)
        try cli.appendAudit(Self.records(5, from: 10, version: version))
        try Self.append(Self.records(10, from: 15, version: version), to: registry, counting: &pending)
        // The writer's counts miss the other's five rows: the fold reads all 25 back instead.
        #expect(try registry.foldAuditMinutes(&pending) == AuditMinutesFold(rows: 25, readBack: true, remaining: false))
        #expect(try Self.counted(registry) == (try Self.expected(registry)))
        // Alone again, the writer's counts are used.
        try Self.append(Self.records(7, from: 25, version: version), to: registry, counting: &pending)
        #expect(try registry.foldAuditMinutes(&pending) == AuditMinutesFold(rows: 7, readBack: false, remaining: false))
        #expect(try Self.counted(registry) == (try Self.expected(registry)))
        // Another process folding first (it reads back every row above the mark, the writer's too):
        // the writer's counts are then dropped, and nothing is counted twice.
        try Self.append(Self.records(6, from: 32, version: version), to: registry, counting: &pending)
        var cliPending = try cli.pendingAuditMinutes()
        #expect(try cli.foldAuditMinutes(&cliPending) == AuditMinutesFold(rows: 6, readBack: true, remaining: false))
        #expect(try registry.foldAuditMinutes(&pending) == AuditMinutesFold(rows: 0, readBack: false, remaining: false))
        #expect(try Self.counted(registry) == (try Self.expected(registry)))
        #expect(try Self.through(registry) == 38)
    }

    /// A fold allowed no read-back counts nothing and says rows remain; the writer's own counts of
    /// the newest rows are kept, and a later fold reads back only the rows before them.
    @Test func aFoldAllowedNoReadBackLeavesTheRowsForALaterOne() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (registry, version) = try Self.registry(in: dir)
        let cli = try Registry.open(path: registry.path, access: .write)
        try cli.appendAudit(Self.records(5, from: 0, version: version))
        var pending = try registry.pendingAuditMinutes()
        try Self.append(Self.records(10, from: 5, version: version), to: registry, counting: &pending)
        #expect(try registry.foldAuditMinutes(&pending, maxReadBack: 0) == AuditMinutesFold(rows: 0, readBack: false, remaining: true))
        #expect(pending.rows == 10 && pending.afterID == 5)
        #expect(try Self.through(registry) == 0)
        #expect(try Self.counted(registry).isEmpty)
        #expect(try registry.foldAuditMinutes(&pending, maxReadBack: 2_000) == AuditMinutesFold(rows: 15, readBack: true, remaining: false))
        #expect(try pending.isEmpty && Self.through(registry) == 15)
        #expect(try Self.counted(registry) == (try Self.expected(registry)))
    }

    /// A writer killed mid-load leaves rows nobody counted. Its successor, never idle, appends more
    /// rows between two folds than a fold may read back: it reads back only the killed writer's,
    /// in bounded steps, keeping its own counts until they can follow them, and so catches up. (Read
    /// back from the table, the rows would grow faster than they were counted.)
    @Test func aWriterThatIsNeverIdleCatchesUpAfterAKilledOne() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (registry, version) = try Self.registry(in: dir)
        try registry.appendAudit(Self.records(1_000, from: 0, version: version))
        var pending = try registry.pendingAuditMinutes()
        var next = 1_000
        var steps: [AuditMinutesFold] = []
        repeat {
            try Self.append(Self.records(400, from: next, version: version), to: registry, counting: &pending)
            next += 400
            steps.append(try registry.foldAuditMinutes(&pending, maxReadBack: 300))
        } while steps.last!.remaining && steps.count < 20
        #expect(steps.map(\.rows) == [300, 300, 300, 100 + 1_600] && steps.allSatisfy(\.readBack), "\(steps)")
        #expect(try Self.through(registry) == 2_600)
        #expect(pending.isEmpty)
        #expect(try Self.counted(registry) == (try Self.expected(registry)))
        // Caught up, its own counts are folded in as they are.
        try Self.append(Self.records(400, from: next, version: version), to: registry, counting: &pending)
        #expect(try registry.foldAuditMinutes(&pending, maxReadBack: 300) == AuditMinutesFold(rows: 400, readBack: false, remaining: false))
        #expect(try Self.counted(registry) == (try Self.expected(registry)))
    }

    @Test func aCatchUpGoesInBoundedSteps() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (registry, version) = try Self.registry(in: dir)
        try registry.appendAudit(Self.records(1_000, from: 0, version: version))
        var pending = try registry.pendingAuditMinutes()
        var steps: [AuditMinutesFold] = []
        repeat { steps.append(try registry.foldAuditMinutes(&pending, maxReadBack: 300)) } while steps.last!.remaining
        #expect(steps.map(\.rows) == [300, 300, 300, 100] && steps.allSatisfy(\.readBack))
        #expect(try Self.counted(registry) == (try Self.expected(registry)))
    }

    @Test func pruningDropsWholeMinutesAndTheMarkFollowsReusedIDs() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (registry, version, counted) = try Self.folded(300, in: dir)  // 10:00:00 to 10:04:58
        var pending = counted
        // A cutoff inside 10:02: the rows before it go; 10:00 and 10:01 go from the counts, 10:02 stays whole.
        let cutoff = Timestamp.format(unixMilliseconds: Self.start + 150_000)
        #expect(try registry.pruneAudit(olderThan: cutoff) == 151)
        let minutes = try registry.db.prepare("SELECT DISTINCT minute FROM prediction_minutes ORDER BY 1").rows { $0.text(0) }
        #expect(minutes == ["2026-11-29T10:02", "2026-11-29T10:03", "2026-11-29T10:04"])
        #expect(try Self.through(registry) == 300)

        // Everything pruned: new rows take ids from 1 again, and the mark comes down with the table.
        #expect(try registry.pruneAudit(olderThan: "2027-01-01T00:00:00.000Z") == 149)
        #expect(try Self.through(registry) == 0)
        #expect(try Self.append(Self.records(20, from: 0, version: version), to: registry, counting: &pending) == 20)
        #expect(try registry.foldAuditMinutes(&pending).rows == 20)
        #expect(try Self.counted(registry) == (try Self.expected(registry)))
    }

    /// The newest rows deleted by hand (the sqlite3 shell, not retention): their ids are given again,
    /// and the delete trigger lowers the mark so that the rows that get them are counted.
    @Test func aHandMadeDeleteOfTheNewestRowsLowersTheMark() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (registry, version, counted) = try Self.folded(50, in: dir)
        var pending = counted
        #expect(try Self.through(registry) == 50)
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        shell.arguments = [registry.path, "DELETE FROM predictions WHERE id > 40"]
        try shell.run()
        shell.waitUntilExit()
        #expect(shell.terminationStatus == 0)
        #expect(try Self.through(registry) == 40)
        // The writer appends before its next fold: ids 41... again, which its counts follow.
        #expect(try Self.append(Self.records(15, from: 50, version: version), to: registry, counting: &pending) == 55)
        #expect(try registry.foldAuditMinutes(&pending) == AuditMinutesFold(rows: 15, readBack: false, remaining: false))
        #expect(try Self.through(registry) == 55)
        // The ten deleted rows stay counted; every row there is, is counted.
        #expect(try registry.db.scalarInt("SELECT sum(predictions) FROM prediction_minutes") == 65)
        #expect(try registry.db.scalarInt("SELECT count(*) FROM predictions") == 55)
    }

    /// A registry of schema 2 with audit rows, upgraded: its rows are above the new mark (0), so
    /// the summary reads them directly until a fold counts them.
    @Test func anUpgradedRegistryCountsItsEarlierRows() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("old.db")
        try Registry.initialise(path: path, upTo: 2)
        let db = try Connection(path: path, options: .init(mode: .readWrite))
        try db.execute("INSERT INTO models (name, created_at) VALUES ('fraud', '2026-11-29T09:00:00.000Z')")
        try db.execute("""
            INSERT INTO model_versions (model_id, version, format, artifact, artifact_sha256, artifact_size, feature_schema, threshold, created_by, created_at)
            VALUES (1, 1, 'logistic', x'7b7d', '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', 2, '[]', 0.5, 'test', '2026-11-29T09:00:00.000Z')
            """)
        try db.execute("""
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99)
            INSERT INTO predictions (predicted_at, request_id, model_id, version_id, features, score, decision, latency_us)
            SELECT strftime('%Y-%m-%dT%H:%M:%S.000Z', 1795946400 + i * 2, 'unixepoch'), 'old-' || i, 1, 1, '{}', 0.1, 'legit', 100 + i FROM n
            """)
        try Registry.initialise(path: path)
        let registry = try Registry.open(path: path, access: .write)
        let window = AuditWindow(startUnixMilliseconds: Self.start, minutes: 60)
        let before = try registry.auditSummary(window: window)
        #expect(before.rowCount == 100 && before.rowsReadDirectly == 100)
        var pending = try registry.pendingAuditMinutes()
        #expect(try registry.foldAuditMinutes(&pending).rows == 100)
        let after = try registry.auditSummary(window: window)
        #expect(after.rowsReadDirectly == 0 && after.versions == before.versions)
        #expect(try Self.counted(registry) == (try Self.expected(registry)))
    }
}
