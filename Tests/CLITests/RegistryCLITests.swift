import Foundation
import Synchronization
import Testing
import TestSupport

/// End to end: the built registry-cli binary on a temporary database, checked with the sqlite3 shell.
@Suite(.serialized)
struct RegistryCLITests {
    @Test func fullLifecycleOnARealDatabase() throws {
        let h = try CLIHarness()
        defer { h.cleanUp() }

        #expect(try h.cli(["init"]).status == 0)
        let again = try h.cli(["init"])
        #expect(again.status == 0)
        #expect(again.stdout.contains("up to date"))

        // Three versions; register prints the label last.
        #expect(try h.registerExample("fraud-xgboost").lastLine == "v1")
        #expect(try h.registerExample("fraud-lightgbm", extra: ["--metric", "auc_offline=0.97", "--threshold", "0.4"]).lastLine == "v2")
        #expect(try h.registerExample("fraud-logistic", extra: ["--description", "baseline"]).lastLine == "v3")

        let list = try h.cli(["list", "--json"])
        #expect(list.status == 0)
        let versions = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(versions.map { $0["version"] as? String } == ["v1", "v2", "v3"])
        #expect(versions.allSatisfy { ($0["artifact_sha256"] as? String)?.count == 64 && $0["stage"] as? String == "registered" })
        #expect((versions[1]["metrics"] as? [String: Double])?["auc_offline"] == 0.97)
        #expect(versions[1]["threshold"] as? Double == 0.4)
        #expect((versions[0]["features"] as? [String])?.count == 30)

        // The stored artifact is the file, byte for byte, with its sha256.
        let sha = try h.sqlite("SELECT artifact_sha256 FROM model_versions WHERE version = 1")
        let fileSHA = try CLIHarness.run("/usr/bin/sha256sum", [h.model("fraud-xgboost", "model.json")]).stdout.prefix(64)
        #expect(sha == String(fileSHA))
        #expect(try h.sqlite("SELECT artifact_size = length(artifact) FROM model_versions WHERE version = 1") == "1")

        #expect(try h.cli(["promote", "v2", "--reason", "first"]).status == 0)
        let promoted = try h.cli(["promote", "v3", "--reason", "better recall"])
        #expect(promoted.status == 0)
        #expect(promoted.stdout.contains("v2 -> v3"))
        #expect(try h.sqlite("SELECT version FROM version_summary WHERE stage = 'production'") == "v3")

        let rolledBack = try h.cli(["rollback", "--reason", "alert storm"])
        #expect(rolledBack.status == 0)
        #expect(try h.sqlite("SELECT version FROM version_summary WHERE stage = 'production'") == "v2")

        #expect(try h.cli(["archive", "v1"]).status == 0)
        #expect(try h.sqlite("SELECT stage FROM model_versions WHERE version = 1") == "archived")

        let history = try h.cli(["history", "--json"])
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [[String: Any]])
        #expect(entries.map { "\($0["from"] as? String ?? "-")>\($0["to"] as? String ?? "")/\($0["action"] as? String ?? "")" }
                == ["->v2/promote", "v2>v3/promote", "v3>v2/rollback"])
        #expect(entries.last?["reason"] as? String == "alert storm")
        #expect(entries.allSatisfy { $0["by"] as? String == "cli-test" })

        let show = try h.cli(["show", "v2", "--json"])
        let shown = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
        #expect(shown["active"] as? Bool == true)
        #expect(shown["active_since"] as? String != nil)

        // Score two lines through the active version, then read them back from the audit log.
        let golden = try String(contentsOfFile: h.model("fraud-lightgbm", "golden.jsonl"), encoding: .utf8)
        let rows = golden.split(separator: "\n").prefix(5).joined(separator: "\n")
        let scored = try h.cli(["score", "--input", "-"], stdin: rows + "\n")
        #expect(scored.status == 0, "\(scored.stderr)")
        let outputs = scored.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(outputs.count == 5)
        for (output, line) in zip(outputs, rows.split(separator: "\n")) {
            let expected = try #require((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["score"] as? Double)
            let score = try #require(output["score"] as? Double)
            #expect(abs(score - expected) <= 1e-6)
            #expect(output["version"] as? String == "v2")
        }
        let requestID = try #require(outputs.first?["request_id"] as? String)
        let audit = try h.cli(["audit", "--request-id", requestID, "--json"])
        let audited = try #require(try JSONSerialization.jsonObject(with: Data(audit.stdout.utf8)) as? [[String: Any]])
        #expect(audited.count == 5)
        #expect(Set(audited.map { $0["version"] as? String }) == ["v2"])
        // The features as stored, in the model's order and spelled as the request wrote them.
        let stored = try h.sqlite("SELECT features FROM predictions WHERE request_id = '\(requestID)' AND row_index = 0")
        #expect(stored.hasPrefix("{\"") && audit.stdout.contains("\"features\" : \(stored),"), "\(stored)\n\(audit.stdout)")
        #expect((audited.first { $0["row_index"] as? Int == 0 }?["features"] as? [String: Any])?.count == 30)
        // A row whose features were typed in by hand as something else than a JSON object is
        // refused by name, not printed as {} (nor spliced in to break the whole output).
        _ = try h.sqlite("""
            INSERT INTO predictions (predicted_at, request_id, row_index, model_id, version_id, features, score, decision, latency_us)
            SELECT predicted_at, 'by-hand', 0, model_id, version_id, 'not json', score, decision, latency_us FROM predictions LIMIT 1
            """)
        let byHand = try h.cli(["audit", "--request-id", "by-hand", "--json"])
        #expect(byHand.status == 1 && byHand.stderr.split(separator: "\n").count == 1
                && byHand.stderr.contains("has a features column that is not a JSON object"), "\(byHand.stderr)")
        _ = try h.sqlite("DELETE FROM predictions WHERE request_id = 'by-hand'")
        let none = try h.cli(["audit", "--version", "v3", "--json"])
        #expect((try JSONSerialization.jsonObject(with: Data(none.stdout.utf8)) as? [Any])?.isEmpty == true)
        #expect(try h.cli(["audit", "--since", "2000-01-01", "--until", "2999-01-01", "--limit", "3"]).stdout.split(separator: "\n").count == 4)
        #expect(try h.sqlite("SELECT count(*) FROM prediction_log WHERE version = 'v2' AND model = 'fraud'") == "5")

        // The plain sqlite3 shell reads it all, and the file is sound.
        #expect(try h.sqlite("PRAGMA integrity_check") == "ok")
        #expect(try h.sqlite("PRAGMA foreign_key_check") == "")
        #expect(try h.sqlite("SELECT count(*) FROM promotion_log") == "3")
        #expect(try h.sqlite("SELECT group_concat(version || ':' || name, ',') FROM schema_migrations") == "1:001_registry.sql,2:002_audit.sql,3:003_audit_minutes.sql,4:004_version_decision_fixed.sql,5:005_no_replace.sql")

        // A rollback to a version archived since it was active is refused as a rollback, and changes nothing.
        #expect(try h.cli(["promote", "v3"]).status == 0)
        #expect(try h.cli(["archive", "v2"]).status == 0)
        let toArchived = try h.cli(["rollback"])
        #expect(toArchived.status != 0 && toArchived.stderr.split(separator: "\n").count == 1, "\(toArchived.stderr)")
        #expect(toArchived.stderr.contains("cannot roll back fraud to v2: it has been archived since"), "\(toArchived.stderr)")
        #expect(try h.sqlite("SELECT version FROM version_summary WHERE stage = 'production'") == "v3")
        #expect(try h.sqlite("SELECT count(*) FROM promotion_log") == "4")
    }

    @Test func badInputIsRefusedWithOneLineAndNoChange() throws {
        let h = try CLIHarness()
        defer { h.cleanUp() }
        #expect(try h.cli(["init"]).status == 0)
        try h.registerExample("fraud-xgboost")
        try h.registerExample("fraud-logistic")
        #expect(try h.cli(["promote", "v1"]).status == 0)
        #expect(try h.cli(["archive", "v2"]).status == 0)

        let empty = h.directory.appendingPathComponent("empty.json").path
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        let broken = h.directory.appendingPathComponent("broken.json").path
        let full = try Data(contentsOf: URL(fileURLWithPath: h.model("fraud-xgboost", "model.json")))
        _ = FileManager.default.createFile(atPath: broken, contents: full.prefix(full.count / 2))
        let artifact = h.model("fraud-xgboost", "model.json")
        let repeatedMetric = h.directory.appendingPathComponent("metrics.json").path
        _ = FileManager.default.createFile(atPath: repeatedMetric, contents: Data("{\"auc\": 0.8, \"auc\": 0.9}".utf8))
        // A name with a line break would print as lines of its own in `show`.
        let forgedMetric = h.directory.appendingPathComponent("forged-metrics.json").path
        _ = FileManager.default.createFile(atPath: forgedMetric, contents: Data("{\"auc\": 0.9, \"x\\n  forged = 1.0\": 0.5}".utf8))

        let cases: [(String, [String], String)] = [
            ("unknown model", ["promote", "v1", "--model", "nope"], "no model named 'nope'"),
            ("unknown version", ["promote", "v9"], "has no version v9"),
            ("bad label", ["show", "version-two"], "invalid version"),
            ("archived promote", ["promote", "v2"], "archived"),
            ("archive active", ["archive", "v1"], "active version"),
            ("already active", ["promote", "v1"], "already the active"),
            ("nothing to roll back", ["rollback"], "no earlier active version"),
            ("missing artifact", ["register", "--model", "fraud", "--format", "xgboost-json", "--artifact", "/nonexistent/model.json"], "does not exist"),
            ("empty artifact", ["register", "--model", "fraud", "--format", "xgboost-json", "--artifact", empty], "is empty"),
            ("artifact is a directory", ["register", "--model", "fraud", "--format", "xgboost-json", "--artifact", h.directory.path], "is a directory"),
            ("truncated artifact", ["register", "--model", "fraud", "--format", "xgboost-json", "--artifact", broken], "not valid JSON"),
            ("wrong format", ["register", "--model", "fraud", "--format", "lightgbm-text", "--artifact", artifact], "lightgbm-text artifact rejected"),
            ("unknown format", ["register", "--model", "fraud", "--format", "onnx", "--artifact", artifact], "unknown format 'onnx'"),
            ("malformed metric", ["register", "--model", "fraud", "--format", "xgboost-json", "--artifact", artifact, "--metric", "auc"], "invalid metric 'auc'"),
            ("non-numeric metric", ["register", "--model", "fraud", "--format", "xgboost-json", "--artifact", artifact, "--metric", "auc=high"], "invalid metric"),
            ("bad threshold", ["register", "--model", "fraud", "--format", "xgboost-json", "--artifact", artifact, "--threshold", "1.5"], "invalid threshold"),
            ("golden mismatch", ["register", "--model", "fraud", "--format", "xgboost-json", "--artifact", artifact, "--golden", h.model("fraud-lightgbm", "golden.jsonl")], "golden row 1"),
            ("bad model name", ["register", "--model", "fraud model!", "--format", "xgboost-json", "--artifact", artifact], "invalid model name"),
            ("bad audit time", ["audit", "--since", "yesterday"], "invalid time"),
            ("audit date with slashes", ["audit", "--until", "2026/12/07"], "invalid time"),
            ("audit date with a two-digit year", ["audit", "--since", "26-12-07"], "invalid time"),
            ("audit time with an offset past a day", ["audit", "--since", "2026-12-06T18:00:00+25:00"], "invalid time"),
            ("audit time on a day its month lacks", ["audit", "--since", "2026-02-30T00:00:00Z"], "invalid time"),
            ("audit time at hour 24", ["audit", "--until", "2026-12-07T24:00:00Z"], "invalid time"),
            ("description on two lines", ["register", "--model", "fraud", "--format", "xgboost-json", "--artifact", artifact, "--description", "a\nb"], "--description must be one line"),
            ("empty description", ["register", "--model", "fraud", "--format", "xgboost-json", "--artifact", artifact, "--description", ""], "--description must not be empty"),
            ("model named ..", ["register", "--model", "..", "--format", "xgboost-json", "--artifact", artifact], "invalid model name '..'"),
            // --model's fault, not the bundle's first example's.
            ("bootstrap as a bad model name", ["bootstrap", "--models", CLIHarness.modelsDirectory.path, "--model", "a b"], "Error: invalid model name 'a b'"),
            ("bad audit limit", ["audit", "--limit", "0"], "invalid limit"),
            ("negative audit limit", ["audit", "--limit", "-1"], "invalid limit"),
            ("audit limit past the most one query returns", ["audit", "--limit", "100001"], "invalid limit 100001: expected 1 to 100000"),
            ("negative threshold", ["register", "--model", "fraud", "--format", "xgboost-json", "--artifact", artifact, "--threshold", "-1"], "invalid threshold '-1.0'"),
            ("metric twice", ["register", "--model", "fraud", "--format", "xgboost-json", "--artifact", artifact, "--metric", "auc=0.8", "--metric", "auc=0.9"], "metric 'auc' is given twice"),
            ("metric name with a space", ["register", "--model", "fraud", "--format", "xgboost-json", "--artifact", artifact, "--metric", "a b=1"], "invalid metric"),
            ("metrics file with a repeated name", ["register", "--model", "fraud", "--format", "xgboost-json", "--artifact", artifact, "--metrics-file", repeatedMetric], "\"auc\" is given twice"),
            ("metrics file with a name on two lines", ["register", "--model", "fraud", "--format", "xgboost-json", "--artifact", artifact, "--metrics-file", forgedMetric], "has a metric named \"x\\n  forged = 1.0\""),
            ("missing metrics file", ["register", "--model", "fraud", "--format", "xgboost-json", "--artifact", artifact, "--metrics-file", "/nonexistent/m.json"], "cannot read metrics file /nonexistent/m.json"),
            ("broken golden file", ["register", "--model", "fraud", "--format", "xgboost-json", "--artifact", artifact, "--golden", empty], "golden rows unusable: \(empty): "),
            ("score input is a directory", ["score", "--input", h.directory.path], "is a directory"),
            ("label with a sign", ["show", "v+1"], "invalid version"),
            ("label with a leading zero", ["show", "v01"], "invalid version"),
            ("audit of an unknown version", ["audit", "--version", "v9"], "has no version v9"),
            ("audit of one file twice", ["audit", "--include", h.dbPath], "is the same file as"),
            ("audit window ending before it starts", ["audit", "--since", "2030-01-01", "--until", "2020-01-01"], "is not before --until"),
            ("reason on two lines", ["promote", "v1", "--reason", "a\nb"], "--reason must be one line"),
            ("empty actor", ["promote", "v1", "--actor", ""], "--actor must not be empty"),
            ("unknown option", ["list", "--colour"], "Unknown option '--colour'"),
            ("missing option value", ["show", "v1", "--model"], "Missing value for '--model"),
        ]
        for (name, arguments, message) in cases {
            let before = h.snapshot()
            let result = try h.cli(arguments)
            let after = h.snapshot()
            #expect(result.status != 0, "\(name): exit status \(result.status)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(name): stderr has \(lines.count) lines: \(result.stderr)")
            #expect(result.stderr.contains(message), "\(name): stderr \(result.stderr)")
            #expect(before.0 == after.0 && !after.1, "\(name): the database changed")
        }
        #expect(try h.sqlite("SELECT count(*) FROM model_versions") == "2")
        #expect(try h.sqlite("PRAGMA integrity_check") == "ok")
    }

    /// An empty registry path is refused by name, from the flag or the environment, rather than
    /// reaching SQLite as "" (a private temporary database, which then fails to switch to WAL);
    /// so are SQLite's special names, which `init` took and no other command could read.
    @Test func emptyRegistryPathIsRefusedInOneLine() throws {
        let uri = "file:" + FileManager.default.temporaryDirectory.appendingPathComponent("sentinel-uri-\(UUID().uuidString).db").path
        let cases: [([String], [String: String], String)] = [
            (["list", "--db", ""], [:], "--db must not be empty"),
            (["list"], ["REGISTRY_DB": ""], "REGISTRY_DB is set but empty"),
            (["init", "--db", ":memory:"], [:], "SQLite's in-memory database, which keeps nothing"),
            (["init", "--db", uri], [:], "directory file:"),
        ]
        for (arguments, environment, message) in cases {
            let result = try CLIHarness.run(CLIHarness.binary, arguments, environment: environment)
            let lines = result.stderr.split(separator: "\n")
            #expect(result.status != 0 && lines.count == 1 && result.stderr.contains(message), "\(arguments) \(environment): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: String(uri.dropFirst("file:".count))))
    }

    /// A registry path that is not a regular file is refused by what it is, at once: a FIFO (whose
    /// open waited for a writer for ever, `check` included), a link to nothing (said to be
    /// unwritable), and a path ending in '/' (which `init` created as the file, and every other
    /// command then looked for as a directory).
    @Test func registryPathsThatAreNotFilesAreRefusedByWhatTheyAre() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sentinel-paths-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = directory.appendingPathComponent("fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let dangling = directory.appendingPathComponent("link").path
        try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: "nowhere.db")
        let slashed = directory.appendingPathComponent("slashed.db").path + "/"
        let cases: [([String], String)] = [
            (["list", "--db", fifo], "it is not a regular file"),
            (["check", "--db", fifo], "it is not a regular file"),
            (["init", "--db", fifo], "it is not a regular file"),
            (["init", "--db", dangling], "it is a symbolic link to nowhere.db, which does not exist"),
            (["init", "--db", slashed], "ends with '/'"),
            (["list", "--db", slashed], "ends with '/'"),
        ]
        for (arguments, message) in cases {
            // Bounded: the FIFO's open blocked for good before.
            let result = try CLIHarness.run("/usr/bin/timeout", ["10", CLIHarness.binary] + arguments)
            let lines = result.stderr.split(separator: "\n")
            #expect(result.status != 0 && result.status != 124 && lines.count == 1 && result.stderr.contains(message),
                    "\(arguments): \(result.status) \(result.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["fifo", "link"])
    }

    /// The actor taken from the environment is held to `--actor`'s rule: a line break in
    /// $REGISTRY_ACTOR would forge a row of `history`. An empty one is passed over, as if unset.
    @Test func actorFromTheEnvironmentIsHeldToActorsRule() throws {
        let h = try CLIHarness()
        defer { h.cleanUp() }
        #expect(try h.cli(["init"]).status == 0)
        #expect(try h.registerExample("fraud-xgboost").status == 0)
        let before = h.snapshot()
        let forged = try h.cli(["promote", "v1"], environment: ["REGISTRY_ACTOR": "mallory\n99  fraud  none  v1  promote  ceo  approved"])
        #expect(forged.status != 0 && forged.stderr.split(separator: "\n").count == 1
                && forged.stderr.contains("$REGISTRY_ACTOR must be one line"), "\(forged.stderr)")
        #expect(h.snapshot().0 == before.0)
        let empty = try h.cli(["promote", "v1"], environment: ["REGISTRY_ACTOR": "", "USER": "alice"])
        #expect(empty.status == 0, "\(empty.stderr)")
        #expect(try h.sqlite("SELECT promoted_by FROM promotion_log") == "alice")
        // Shown whole in the text table: cells were padded by UTF-16 units, which cut characters
        // past U+FFFF short ("😀😀" of four).
        #expect(try h.registerExample("fraud-lightgbm").status == 0)
        #expect(try h.cli(["promote", "v2", "--actor", "😀😀😀𝔸", "--reason", "r"]).status == 0)
        let history = try h.cli(["history"]).stdout
        #expect(history.contains("😀😀😀𝔸 "), "\(history)")
    }

    /// `serve` refuses a setting it cannot use, from a flag or the environment, in one line and
    /// before it opens anything: a typo in a Deployment's env must not start a service on defaults.
    @Test func serveRefusesBadSettingsInOneLine() throws {
        let h = try CLIHarness()
        defer { h.cleanUp() }
        #expect(try h.cli(["init"]).status == 0)
        let cases: [(String, [String], [String: String], String)] = [
            ("PORT not a number", [], ["PORT": "abc"], "PORT 'abc' is not a whole number"),
            ("retention not a number", ["--port", "0"], ["AUDIT_RETENTION_DAYS": "a week"], "AUDIT_RETENTION_DAYS 'a week' is not a whole number"),
            ("unknown log level", ["--port", "0"], ["LOG_LEVEL": "loud"], "LOG_LEVEL 'loud' is not a level"),
            ("port out of range", ["--port", "-1"], [:], "port must be 0-65535"),
            ("host that is no address", ["--port", "0", "--host", ""], [:], "cannot listen on ''"),
            ("negative drain", ["--port", "0", "--drain-seconds", "-1"], [:], "the drain must be 0 to 300 seconds, not -1.0"),
            ("no idle timeout", ["--port", "0", "--idle-timeout", "0"], [:], "the idle timeout must be 0.1 to 86400 seconds, not 0.0"),
            ("idle timeout not a number", ["--port", "0"], ["IDLE_TIMEOUT_SECONDS": "soon"], "IDLE_TIMEOUT_SECONDS 'soon' is not a number"),
            ("drain not a number", ["--port", "0"], ["DRAIN_SECONDS": "soon"], "DRAIN_SECONDS 'soon' is not a number"),
            ("drain not finite", ["--port", "0"], ["DRAIN_SECONDS": "nan"], "the drain must be 0 to 300 seconds, not nan"),
        ]
        for (name, arguments, environment, message) in cases {
            let result = try h.cli(["serve"] + arguments, environment: environment)
            #expect(result.status != 0, "\(name)")
            #expect(result.stderr.split(separator: "\n").count == 1 && result.stderr.contains(message), "\(name): \(result.stderr)")
        }

        // A port in use: one line, before a model loads or the audit writer starts (whose log
        // lines came first when the server's own bind found it).
        #expect(try h.registerExample("fraud-logistic").status == 0)
        #expect(try h.cli(["promote", "v1"]).status == 0)
        #if canImport(Glibc)
        let stream = Int32(SOCK_STREAM.rawValue)
        #else
        let stream = SOCK_STREAM
        #endif
        let listener = socket(AF_INET, stream, 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 1) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        #expect(listening)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let inUse = try h.cli(["serve", "--port", "\(port)", "--log-level", "info"])
        #expect(inUse.status != 0 && inUse.stderr.split(separator: "\n").count == 1
                && inUse.stderr.contains("cannot listen on 127.0.0.1:\(port): Address already in use"), "\(inUse.stderr)")
    }

    /// A line the model computes no score for (NaN: values that overflow its arithmetic) is refused
    /// on its own output line, naming the feature; the other lines are scored and recorded.
    @Test func scoreRefusesALineTheModelCannotScoreAndRecordsTheRest() throws {
        let h = try CLIHarness()
        defer { h.cleanUp() }
        try h.initWithPromoted("fraud-logistic")
        let golden = try String(contentsOfFile: h.model("fraud-logistic", "golden.jsonl"), encoding: .utf8)
        let line = String(golden.split(separator: "\n")[0])
        let overflowing = line
            .replacingOccurrences(of: #"\"is_foreign\":[^,]*,"#, with: "\"is_foreign\":1e308,", options: .regularExpression)
            .replacingOccurrences(of: #"\"is_card_present\":[^,]*,"#, with: "\"is_card_present\":1e308,", options: .regularExpression)
        #expect(overflowing != line)

        let scored = try h.cli(["score", "--input", "-"], stdin: line + "\n" + overflowing + "\n")
        #expect(scored.status != 0)
        #expect(scored.stderr.split(separator: "\n").count == 1 && scored.stderr.contains("1 of 2 input lines were refused"), "\(scored.stderr)")
        let outputs = scored.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(outputs.count == 2)
        #expect(outputs.first?["score"] is Double)
        #expect(outputs.last?["line"] as? Int == 2 && (outputs.last?["error"] as? String)?.contains("feature 'is_foreign'") == true)
        #expect(try h.sqlite("SELECT count(*) FROM predictions") == "1")

        // What the service refuses, score refuses too: its rows land in the same audit log.
        let refusals: [(String, String)] = [
            ("{\"request_id\": \"a\\nb\", " + line.dropFirst(), "\"request_id\" must not contain control characters"),
            ("{\"request_id\": 5, " + line.dropFirst(), "\"request_id\" must be a string"),
            ("{\"request_id\": \"" + String(repeating: "r", count: 129) + "\", " + line.dropFirst(), "must have 1 to 128 characters"),
            (line.replacingOccurrences(of: "\"amount\":", with: "\"amount\": 1, \"amount\":"), "\"amount\" is given twice"),
            (line.replacingOccurrences(of: #"\"amount\":[^,]*,"#, with: "\"amount\":1e400,", options: .regularExpression), "too large for a double"),
            // C's line reading stops at a NUL: what follows must not vanish, nor the line be taken for blank.
            (line + "\u{0}garbage", "the line contains a NUL byte"),
            ("\u{0}" + line, "the line contains a NUL byte"),
            // Honoured by POST /predict, so not silently ignored here.
            ("{\"model\": \"nosuch\", " + line.dropFirst(), "\"model\" is not read from a line here: choose the model with --model"),
            ("{\"instances\": [], " + line.dropFirst(), "\"instances\" is not read from a line here"),
            // Not the whole line taken for the features instead ("feature 'features' is not one the model reads").
            ("{\"features\": 5}", "\"features\" must be an object"),
            ("{\"features\": [" + line + "]}", "\"features\" must be an object"),
        ]
        for (input, message) in refusals {
            let refused = try h.cli(["score", "--input", "-"], stdin: input + "\n")
            let error = (try? JSONSerialization.jsonObject(with: Data(refused.stdout.utf8)) as? [String: Any])?["error"] as? String
            #expect(refused.status != 0 && error?.contains(message) == true, "\(input): \(refused.stdout)")
        }
        let invalidUTF8 = h.directory.appendingPathComponent("latin1.jsonl")
        // A Latin-1 "é" in a member's string: Swift's String would have made it U+FFFD silently.
        try (Data("{\"note\": \"".utf8) + Data([0xE9]) + Data(("\", " + line.dropFirst() + "\n").utf8)).write(to: invalidUTF8)
        let latin1 = try h.cli(["score", "--input", invalidUTF8.path])
        #expect(latin1.status != 0 && latin1.stdout.contains("the line is not valid UTF-8"), "\(latin1.stdout)")
        #expect(try h.sqlite("SELECT count(*) FROM predictions") == "1")
    }

    /// Output that cannot be written (a full disk: /dev/full) ends `score` with one line on stderr,
    /// not Foundation's trap and a backtrace; the lines scored before are in the audit log, as the
    /// line says.
    @Test func scoreToAFullDiskFailsWithOneLine() throws {
        let h = try CLIHarness()
        defer { h.cleanUp() }
        try h.initWithPromoted("fraud-logistic")
        let golden = h.model("fraud-logistic", "golden.jsonl")
        let rows = try String(contentsOfFile: golden, encoding: .utf8).split(separator: "\n").count
        let result = try CLIHarness.run("/bin/sh", ["-c", #"exec "$0" "$@" >/dev/full"#, CLIHarness.binary,
                                                     "score", "--input", golden, "--db", h.dbPath])
        #expect(result.status == 1)
        #expect(result.stderr.split(separator: "\n").count == 1
                && result.stderr.contains("standard output cannot be written")
                && result.stderr.contains("up to input line \(rows) are in the audit log"), "\(result.stderr)")
        #expect(try h.sqlite("SELECT count(*) FROM predictions") == "\(rows)")
        // With --no-audit nothing is recorded, and the line does not say it is.
        let unrecorded = try CLIHarness.run("/bin/sh", ["-c", #"exec "$0" "$@" >/dev/full"#, CLIHarness.binary,
                                                         "score", "--input", golden, "--no-audit", "--db", h.dbPath])
        #expect(unrecorded.status == 1 && unrecorded.stderr.split(separator: "\n").count == 1
                && unrecorded.stderr.contains("scored up to input line \(rows), their results") && !unrecorded.stderr.contains("audit log"),
                "\(unrecorded.stderr)")
        #expect(try h.sqlite("SELECT count(*) FROM predictions") == "\(rows)")
    }

    /// Feature names that JSON must escape (a quote, a backslash) survive the golden rows' trip
    /// through the registry: the version loads and scores (its stored rows were invalid JSON).
    @Test func featureNamesThatNeedEscapingSurviveTheGoldenRows() throws {
        let h = try CLIHarness()
        defer { h.cleanUp() }
        #expect(try h.cli(["init"]).status == 0)
        let artifact = h.directory.appendingPathComponent("odd.json").path
        try #"{"format":"logistic","features":["a\"b","c\\d"],"coefficients":[1,2],"intercept":0.5}"#
            .write(toFile: artifact, atomically: true, encoding: .utf8)
        let score = 1 / (1 + exp(-(0.5 + 0.25 - 2)))
        let line = #"{"features":{"a\"b":0.25,"c\\d":-1},"score":"# + "\(score)}"
        let goldenPath = h.directory.appendingPathComponent("odd.jsonl").path
        try (line + "\n").write(toFile: goldenPath, atomically: true, encoding: .utf8)
        let registered = try h.cli(["register", "--model", "odd", "--format", "logistic", "--artifact", artifact, "--golden", goldenPath])
        #expect(registered.status == 0, "\(registered.stderr)")
        #expect(try h.cli(["promote", "v1", "--model", "odd"]).status == 0)

        let scored = try h.cli(["score", "--model", "odd", "--input", "-"], stdin: line + "\n")
        #expect(scored.status == 0, "\(scored.stderr)")
        let output = try #require(try JSONSerialization.jsonObject(with: Data(scored.stdout.utf8)) as? [String: Any])
        #expect(abs((output["score"] as? Double ?? -1) - score) < 1e-12)
    }

    /// Two `init`s at the same moment on a new file (a script run twice, two init containers on one
    /// volume) both succeed and apply each migration once: the second used to re-run 001 after
    /// waiting for the first's lock ("table models already exists", in 13 of 20 rounds here).
    @Test func twoInitsAtOnceBothSucceed() throws {
        let h = try CLIHarness()
        defer { h.cleanUp() }
        for round in 0..<6 {
            let path = h.directory.appendingPathComponent("race-\(round).db").path
            let results = Mutex<[Int: CLIHarness.Result]>([:])
            DispatchQueue.concurrentPerform(iterations: 2) { index in
                if let result = try? h.cli(["init"], db: path) { results.withLock { $0[index] = result } }
            }
            for index in 0..<2 {
                let result = results.withLock { $0[index] }
                #expect(result?.status == 0, "round \(round), init \(index): \(result?.stderr ?? "did not run")")
            }
            #expect(try h.sqlite("SELECT count(*) FROM schema_migrations", db: path) == "5")
        }
    }

    @Test func severalModelsRequireModelName() throws {
        let h = try CLIHarness()
        defer { h.cleanUp() }
        #expect(try h.cli(["init"]).status == 0)
        try h.registerExample("fraud-xgboost", as: "cards")
        try h.registerExample("fraud-lightgbm", as: "wires")
        let before = h.snapshot()
        let result = try h.cli(["promote", "v1"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("several models (cards, wires)"))
        #expect(h.snapshot().0 == before.0)
        #expect(try h.cli(["promote", "v1", "--model", "wires"]).status == 0)
        #expect(try h.sqlite("SELECT model FROM version_summary WHERE stage = 'production'") == "wires")
    }

    @Test func databaseProblemsAreRefusedUntouched() throws {
        let h = try CLIHarness()
        defer { h.cleanUp() }

        // Not initialised at all.
        let missing = try h.cli(["list"])
        #expect(missing.status != 0 && missing.stderr.contains("no registry database"))
        #expect(!FileManager.default.fileExists(atPath: h.dbPath))

        // A file that is not an SQLite database, for reading and for init.
        let text = h.directory.appendingPathComponent("notes.db").path
        let content = Data(String(repeating: "not a database\n", count: 200).utf8)
        _ = FileManager.default.createFile(atPath: text, contents: content)
        for arguments in [["list"], ["init"], ["register", "--model", "m", "--format", "logistic", "--artifact", h.model("fraud-logistic", "model.json")]] {
            let result = try h.cli(arguments, db: text)
            #expect(result.status != 0)
            #expect(result.stderr.contains("is not an SQLite database"), "\(arguments): \(result.stderr)")
            #expect(FileManager.default.contents(atPath: text) == content)
        }

        // A path that cannot be written: its directory does not exist, or it is a directory.
        let nowhere = h.directory.appendingPathComponent("missing-dir/registry.db").path
        let initNowhere = try h.cli(["init"], db: nowhere)
        #expect(initNowhere.status != 0 && initNowhere.stderr.contains("does not exist"))
        let initDirectory = try h.cli(["init"], db: h.directory.path)
        #expect(initDirectory.status != 0 && initDirectory.stderr.contains("is a directory"))

        // Another application's SQLite database is not taken over.
        let foreign = h.directory.appendingPathComponent("foreign.db").path
        _ = try h.sqlite("CREATE TABLE customers (id INTEGER PRIMARY KEY)", db: foreign)
        let foreignBytes = FileManager.default.contents(atPath: foreign)
        let initForeign = try h.cli(["init"], db: foreign)
        #expect(initForeign.status != 0 && initForeign.stderr.contains("not a Sentinel registry"))
        #expect(FileManager.default.contents(atPath: foreign) == foreignBytes)
        // Nor by a command that only opens it (opening for writing turns WAL on, rewriting the header),
        // and an empty file is not grown into a database.
        let emptyFile = h.directory.appendingPathComponent("empty.db").path
        _ = FileManager.default.createFile(atPath: emptyFile, contents: Data())
        for arguments in [["list"], ["history"], ["promote", "v1"], ["score", "--input", "-"], ["audit"]] {
            for file in [foreign, emptyFile] {
                let refused = try h.cli(arguments, db: file)
                #expect(refused.status != 0, "\(arguments) on \(file)")
            }
            #expect(FileManager.default.contents(atPath: foreign) == foreignBytes, "\(arguments) changed \(foreign)")
            #expect(FileManager.default.contents(atPath: emptyFile)?.isEmpty == true, "\(arguments) changed \(emptyFile)")
        }
        #expect(try h.cli(["init"]).status == 0)
        #expect(try h.cli(["audit", "--include", foreign]).status != 0)
        #expect(FileManager.default.contents(atPath: foreign) == foreignBytes)
    }

    /// A reader running as another user than the registry's owner, unable to write it, while no
    /// process has it open: SQLite would make its -wal and -shm files as that user and leave them,
    /// and the owner could then not write the registry ("read-only file or directory", though
    /// neither was). The reader is refused, leaving nothing; files left by another reader (the
    /// sqlite3 shell as that user) are named in the owner's error, with the command that repairs
    /// them; and a registry the user may not read is said to be that. While the owner's files are
    /// there (a service has the registry open), another user reads as before. Run as root, since
    /// it switches users with setpriv.
    @Test(.enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func aReaderRunningAsAnotherUserLeavesNoFilesTheOwnerCannotWrite() throws {
        let h = try CLIHarness()
        defer { h.cleanUp() }
        try h.initWithPromoted("fraud-logistic")
        #expect(try h.registerExample("fraud-lightgbm").status == 0)
        #expect(chmod(h.directory.path, 0o777) == 0 && chown(h.dbPath, 1234, 1234) == 0)
        let files = [h.dbPath + "-wal", h.dbPath + "-shm"]
        func run(as uid: Int, _ executable: String, _ arguments: [String]) throws -> CLIHarness.Result {
            try CLIHarness.run("/usr/bin/setpriv", ["--reuid", "\(uid)", "--regid", "\(uid)", "--clear-groups", executable] + arguments)
        }

        // A write it cannot make left the files as well (its first connection only reads).
        for arguments in [["list"], ["audit"], ["history"], ["promote", "v2"], ["init"]] {
            let refused = try run(as: 65534, CLIHarness.binary, arguments + ["--db", h.dbPath])
            #expect(refused.status == 1 && refused.stderr.split(separator: "\n").count == 1
                    && refused.stderr.contains("is not writable by uid 65534 and no process has it open")
                    && refused.stderr.contains("its owner (uid 1234)"), "\(arguments): \(refused.stderr)")
            #expect(files.allSatisfy { !FileManager.default.fileExists(atPath: $0) }, "\(arguments)")
        }

        // While the files are there, the owner's (a service has it open; here the owner's read-only
        // shell left them), another user reads, through a link too, and leaves nothing of its own;
        // a write it may not make is said to be that, not blamed on the owner's files.
        #expect(try run(as: 1234, "/usr/bin/sqlite3", ["-readonly", h.dbPath, "SELECT count(*) FROM models"]).status == 0)
        #expect(files.allSatisfy { FileManager.default.fileExists(atPath: $0) })
        let link = h.directory.appendingPathComponent("link.db").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: h.dbPath)
        let listed = try run(as: 65534, CLIHarness.binary, ["list", "--db", link])
        #expect(listed.status == 0 && listed.stdout.contains("fraud"), "\(listed.stderr)")
        let notTheirs = try run(as: 65534, CLIHarness.binary, ["promote", "v2", "--db", h.dbPath])
        #expect(notTheirs.status == 1 && notTheirs.stderr.contains("cannot be written (read-only file or directory)"), "\(notTheirs.stderr)")
        let owners = try files.map { try #require(FileManager.default.attributesOfItem(atPath: $0)[.ownerAccountID] as? Int) }
        #expect(owners == [1234, 1234])
        // The owner's next writable connection, the last to close, removes them.
        #expect(try run(as: 1234, CLIHarness.binary, ["list", "--db", h.dbPath]).status == 0)
        #expect(files.allSatisfy { !FileManager.default.fileExists(atPath: $0) })

        let shell = try run(as: 65534, "/usr/bin/sqlite3", [h.dbPath, "SELECT count(*) FROM model_versions"])
        #expect(shell.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "2", "\(shell.stderr)")
        #expect(files.allSatisfy { FileManager.default.fileExists(atPath: $0) })
        let blocked = try run(as: 1234, CLIHarness.binary, ["promote", "v2", "--db", h.dbPath])
        #expect(blocked.status == 1 && blocked.stderr.split(separator: "\n").count == 1
                && blocked.stderr.contains("its -wal and -shm files belong to uid 65534")
                && blocked.stderr.contains("as root, run: chown --reference=\"\(h.dbPath)\" \"\(h.dbPath)-wal\" \"\(h.dbPath)-shm\""), "\(blocked.stderr)")
        #expect(try CLIHarness.run("/bin/chown", ["--reference=\(h.dbPath)"] + files).status == 0)
        #expect(try run(as: 1234, CLIHarness.binary, ["promote", "v2", "--db", h.dbPath]).status == 0)
        #expect(try h.sqlite("SELECT 'v' || version FROM model_versions WHERE stage = 'production'") == "v2")

        // A registry the user may not read at all is said to be that, not "cannot be written".
        #expect(chmod(h.dbPath, 0o600) == 0)
        for arguments in [["list"], ["promote", "v1"]] {
            let unreadable = try run(as: 65534, CLIHarness.binary, arguments + ["--db", h.dbPath])
            #expect(unreadable.status == 1 && unreadable.stderr.split(separator: "\n").count == 1
                    && unreadable.stderr.contains("uid 65534 may not read it (it belongs to uid 1234, mode 0600)"), "\(arguments): \(unreadable.stderr)")
        }
        #expect(files.allSatisfy { !FileManager.default.fileExists(atPath: $0) })
    }

    /// A registration is read back inside its own transaction. When that reading fails (here a
    /// trigger typed in the shell renames the model as its version goes in, so the version is not
    /// found under its name), nothing of it is kept and the command fails in one line: read after
    /// the commit, the version would be stored while the command said it failed, and a retry would
    /// register it again.
    @Test func aRegistrationWhoseReadBackFailsLeavesNothing() throws {
        let h = try CLIHarness()
        defer { h.cleanUp() }
        try h.initWithPromoted("fraud-logistic")
        let state = "SELECT (SELECT group_concat(name) FROM models) || ' ' || (SELECT count(*) FROM model_versions) || ' ' || (SELECT count(*) FROM version_metrics)"
        let before = try h.sqlite(state)
        _ = try h.sqlite("""
            CREATE TRIGGER rename_on_register AFTER INSERT ON model_versions
            BEGIN UPDATE models SET name = 'renamed' WHERE id = NEW.model_id; END;
            """)
        let result = try h.registerExample("fraud-xgboost")
        #expect(result.status == 1 && result.stderr.split(separator: "\n").count == 1
                && result.stderr.contains("no model named 'fraud'"), "\(result.stderr)")
        #expect(try h.sqlite(state) == before)
    }

    @Test func lockedDatabaseFailsAfterBusyTimeout() throws {
        let h = try CLIHarness()
        defer { h.cleanUp() }
        #expect(try h.cli(["init"]).status == 0)
        try h.registerExample("fraud-logistic")

        // The sqlite3 shell takes the write lock and holds it while we try to write.
        let lock = try SQLiteWriteLock(databasePath: h.dbPath)
        #expect(lock.isHeld, "the sqlite3 shell did not take the lock: \(lock.confirmation)")
        let before = h.snapshot()
        let started = Date()
        let result = try h.cli(["promote", "v1", "--busy-timeout", "300"])
        let waited = Date().timeIntervalSince(started)
        #expect(result.status != 0)
        #expect(result.stderr.contains("locked by another process (waited 300 ms)"), "\(result.stderr)")
        #expect(waited >= 0.3)
        // Reads still work while the writer holds its lock (WAL).
        #expect(try h.cli(["list"]).status == 0)
        try lock.release()
        #expect(h.snapshot().0 == before.0)
        #expect(try h.sqlite("SELECT count(*) FROM promotions") == "0")
        #expect(try h.cli(["promote", "v1"]).status == 0)
    }

    @Test func helpListsEverySubcommand() throws {
        let result = try CLIHarness.run(CLIHarness.binary, ["--help"])
        #expect(result.status == 0)
        for command in ["init", "register", "list", "show", "promote", "rollback", "archive", "history", "audit", "score", "check", "serve"] {
            #expect(result.stdout.contains("  \(command)"), "help lacks \(command)")
        }
        let promote = try CLIHarness.run(CLIHarness.binary, ["help", "promote"])
        #expect(promote.status == 0 && promote.stdout.contains("registry-cli promote"), "\(promote.stdout)")
        let mistyped = try CLIHarness.run(CLIHarness.binary, ["help", "promte"])
        #expect(mistyped.status == 64 && mistyped.stdout.isEmpty, "\(mistyped.status): \(mistyped.stdout)")
        #expect(mistyped.stderr.split(separator: "\n").count == 1 && mistyped.stderr.contains("no subcommand is called 'promte'"),
                "\(mistyped.stderr)")
    }
}
