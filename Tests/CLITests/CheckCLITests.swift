import Foundation
import Testing
import TestSupport

/// `registry-cli check` against registries damaged the ways a disk, a restore or a hand in the
/// sqlite3 shell damages them; each copy is damaged by the real sqlite3 shell or by bytes written
/// into the real file.
@Suite struct CheckCLITests {
    /// A registry with two versions, one of them active, checkpointed so that the file holds it all.
    private func sound() throws -> CLIHarness {
        let h = try CLIHarness()
        #expect(try h.cli(["init"]).status == 0)
        #expect(try h.registerExample("fraud-logistic").status == 0)
        #expect(try h.registerExample("fraud-lightgbm").status == 0)
        #expect(try h.cli(["promote", "v2", "--reason", "check"]).status == 0)
        _ = try h.sqlite("PRAGMA wal_checkpoint(TRUNCATE)")
        return h
    }

    private func expectProblems(_ result: CLIHarness.Result, _ count: Int, _ finding: String, at line: String) {
        #expect(result.status == 1, "\(result.status): \(result.stdout)")
        #expect(result.stdout.contains("PROBLEM  \(line)\n") && result.stdout.contains(finding), "\(result.stdout)")
        #expect(result.stderr.split(separator: "\n").count == 1 && result.stderr.contains("has \(count) problem"), "\(result.stderr)")
    }

    @Test func aSoundRegistryPasses() throws {
        let h = try sound()
        defer { h.cleanUp() }
        for flags in [[], ["--quick"]] {
            let result = try h.cli(["check"] + flags)
            #expect(result.status == 0 && result.stderr.isEmpty, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n")
            #expect(lines.count == 5 && lines.allSatisfy { $0.hasPrefix("ok ") }, "\(result.stdout)")
            #expect(result.stdout.contains("fraud v2 (production)"))
        }
    }

    /// A changed artifact would score differently from what was registered; check says which version.
    @Test func aChangedArtifactIsNamed() throws {
        let h = try sound()
        defer { h.cleanUp() }
        _ = try h.sqlite("""
            DROP TRIGGER model_versions_artifact_immutable;
            UPDATE model_versions SET artifact = artifact || X'20', artifact_size = artifact_size + 1 WHERE version = 1;
            """)
        // And the trigger dropped to make the change is named too.
        let result = try h.cli(["check"])
        expectProblems(result, 2, "fraud v1: the stored artifact does not match its sha256", at: "fraud v1 (registered)")
        #expect(result.stdout.contains("the trigger model_versions_artifact_immutable is missing"), "\(result.stdout)")
    }

    /// Values the columns' types let through, edited in with the sqlite3 shell: a threshold that is
    /// text (read as 0 before: every transaction fraud) or out of range for probabilities, a metric
    /// that is text, and a production version its history does not account for. `show` read the
    /// text as 0.0 and check passed them all.
    @Test func valuesEditedByHandAreNamed() throws {
        let h = try sound()
        defer { h.cleanUp() }
        _ = try h.sqlite(try HandEdit.fixedVersionColumns("""
            UPDATE model_versions SET threshold = 'abc' WHERE version = 1;
            UPDATE model_versions SET threshold = 7 WHERE version = 2;
            """) + """
            UPDATE version_metrics SET value = 'oops' WHERE name = 'roc_auc' AND version_id = (SELECT id FROM model_versions WHERE version = 1);
            UPDATE model_versions SET stage = 'registered' WHERE version = 2;
            UPDATE model_versions SET stage = 'production' WHERE version = 1;
            """)
        let result = try h.cli(["check"])
        expectProblems(result, 4, "fraud v1: metric roc_auc is 'oops', not a number", at: "values (metrics are numbers, production stages match the history)")
        for finding in ["fraud's production version is v1, but its history made v2 active last",
                        "fraud v1: its stored threshold is not a number", "fraud v2: its stored threshold 7.0 is out of range for its scores"] {
            #expect(result.stdout.contains(finding), "\(finding): \(result.stdout)")
        }
        // The service refuses such a version rather than score with it.
        let shown = try h.cli(["show", "v1"])
        #expect(shown.stdout.contains("threshold:    nan") && shown.stdout.contains("roc_auc"), "\(shown.stdout)")
        // JSON cannot hold NaN: shown as "NaN" rather than failing to print every version.
        let listed = try h.cli(["list", "--json"])
        #expect(listed.status == 0 && listed.stdout.contains("\"threshold\" : \"NaN\""), "\(listed.stderr)\(listed.stdout)")
    }

    /// A schema changed by hand passes every page check: a dropped append-only trigger (history
    /// could then be rewritten), a dropped index, a table of someone else's. Check compares each
    /// object with the migrations applied afresh.
    @Test func aSchemaChangedByHandIsNamed() throws {
        let h = try sound()
        defer { h.cleanUp() }
        _ = try h.sqlite("""
            DROP TRIGGER promotions_append_only_delete;
            DROP INDEX predictions_by_request;
            CREATE TABLE notes (text TEXT);
            """)
        let result = try h.cli(["check"])
        expectProblems(result, 3, "the trigger promotions_append_only_delete is missing",
                       at: "schema (every table, index, trigger and view as the migrations make it)")
        for finding in ["the index predictions_by_request is missing", "the table notes is not one of the migrations'"] {
            #expect(result.stdout.contains(finding), "\(finding): \(result.stdout)")
        }
    }

    @Test func aDanglingReferenceIsNamed() throws {
        let h = try sound()
        defer { h.cleanUp() }
        _ = try h.sqlite("PRAGMA foreign_keys = OFF; INSERT INTO version_metrics VALUES (999, 'auc', 0.5)")
        expectProblems(try h.cli(["check", "--quick"]), 1, "a version_metrics row refers to a model_versions row that does not exist",
                       at: "file (quick_check, foreign_key_check)")
    }

    /// A damaged page leaves the registry opening and listing as before; check finds it.
    @Test func aDamagedPageIsFound() throws {
        let h = try sound()
        defer { h.cleanUp() }
        let page = try #require(Int(try h.sqlite("SELECT rootpage FROM sqlite_schema WHERE name = 'promotions_by_model'")))
        try overwrite(page: page, of: h)
        #expect(try h.cli(["list"]).status == 0)
        // integrity_check stops at the page (one finding) and quick_check names it (another); the
        // comparison of stages with the history, which reads that index, stops there too (a third).
        expectProblems(try h.cli(["check"]), 3, "Page \(page): ", at: "file (integrity_check, foreign_key_check)")
        expectProblems(try h.cli(["check", "--quick"]), 2, "Page \(page): ", at: "file (quick_check, foreign_key_check)")
    }

    /// A damaged table page stops more than the walk of the pages: the reading of the versions too.
    /// The page is still named, and where each reading stopped is said.
    @Test func aDamagedTablePageIsNamedAndStopsWhatReadsIt() throws {
        let h = try sound()
        defer { h.cleanUp() }
        let page = try #require(Int(try h.sqlite("SELECT rootpage FROM sqlite_schema WHERE name = 'model_versions'")))
        try overwrite(page: page, of: h)
        let result = try h.cli(["check"])
        #expect(result.status == 1, "\(result.status): \(result.stdout)")
        #expect(result.stdout.contains("         Page \(page): "), "\(result.stdout)")
        #expect(result.stdout.contains("PROBLEM  versions\n         a damaged page stopped the reading: database disk image is malformed"),
                "\(result.stdout)")
        #expect(result.stderr.split(separator: "\n").count == 1 && result.stderr.contains(" problems (listed above)"), "\(result.stderr)")
    }

    /// Damage in the first page is found at open; a registry that cannot be read at all is not
    /// "sound" either, but a status of its own (2), so that a restore script can tell.
    @Test func aDamagedHeaderIsAProblemAndAMissingFileIsNotChecked() throws {
        let h = try sound()
        defer { h.cleanUp() }
        let missing = try h.cli(["check"], db: h.directory.appendingPathComponent("none.db").path)
        #expect(missing.status == 2 && missing.stdout.isEmpty, "\(missing.status): \(missing.stdout)")
        #expect(missing.stderr.split(separator: "\n").count == 1 && missing.stderr.contains("no registry database at") && missing.stderr.contains("; the registry was not checked"), "\(missing.stderr)")
        let file = try #require(FileHandle(forUpdatingAtPath: h.dbPath))
        try file.seek(toOffset: 100)
        try file.write(contentsOf: Data(repeating: 0xAB, count: 3000))
        try file.close()
        let damaged = try h.cli(["check"])
        #expect(damaged.status == 1 && damaged.stdout.hasPrefix("PROBLEM  file"), "\(damaged.status): \(damaged.stdout) \(damaged.stderr)")
        #expect(damaged.stderr.split(separator: "\n").count == 1 && damaged.stderr.contains("has 1 problem"), "\(damaged.stderr)")
    }

    private func overwrite(page: Int, of h: CLIHarness) throws {
        let pageSize = try #require(Int(try h.sqlite("PRAGMA page_size")))
        let file = try #require(FileHandle(forUpdatingAtPath: h.dbPath))
        try file.seek(toOffset: UInt64((page - 1) * pageSize))
        try file.write(contentsOf: Data(repeating: 0xFF, count: pageSize))
        try file.close()
    }
}
