import Foundation
import Testing
import TestSupport

/// What the Kubernetes deployment relies on: `bootstrap` of the bundled examples, the `--gitops`
/// pin in a Helm values file, and `audit --include` over several replicas' registries.
@Suite(.serialized)
struct DeploymentCLITests {
    static let valuesFile = """
        # Production values: comments, quotes and order must survive a promotion.
        image:
          tag: "1.2.0"   # pinned image

        model:
          # The model every replica serves.
          name: fraud
          # Rewritten by `registry-cli promote vN --gitops`.
          version: "v2"   # keep the quotes
          threshold: 0.5
        replicas:
          min: 2
          max: 10

        """

    @Test func bootstrapRegistersTheBundleOnceInOrder() throws {
        let h = try CLIHarness()
        defer { h.cleanUp() }
        let first = try h.cli(["bootstrap", "--models", CLIHarness.modelsDirectory.path])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("3 example(s) registered, 0 already present"))

        let bundle = try String(contentsOf: CLIHarness.modelsDirectory.appendingPathComponent("bundle.txt"), encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }.map(String.init)
        for (index, example) in bundle.enumerated() {
            let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: h.model(example, "meta.json")))) as! [String: Any]
            let fileSHA = try CLIHarness.run("/usr/bin/sha256sum", [h.model(example, meta["artifact"] as! String)]).stdout.prefix(64)
            #expect(try h.sqlite("SELECT artifact_sha256 FROM model_versions WHERE version = \(index + 1)") == String(fileSHA))
            #expect(try h.sqlite("SELECT threshold FROM model_versions WHERE version = \(index + 1)") == "\(meta["threshold"] as! Double)")
        }
        #expect(try h.sqlite("SELECT count(*) FROM version_metrics") != "0")

        // Again: nothing new, the file unchanged.
        let before = h.snapshot().0
        let second = try h.cli(["bootstrap", "--models", CLIHarness.modelsDirectory.path])
        #expect(second.status == 0)
        #expect(second.stdout.contains("0 example(s) registered, 3 already present"))
        #expect(h.snapshot().0 == before)

        let missing = try h.cli(["bootstrap", "--models", h.directory.path])
        #expect(missing.status != 0)
        #expect(missing.stderr.split(separator: "\n").count == 1 && missing.stderr.contains("bundle.txt"))
    }

    /// Bootstraps run at once on one fresh file (two people, or two replicas' start-up on one
    /// volume) register each example once: which ones are held is decided in the registering
    /// transaction.
    @Test func bootstrapsAtOnceRegisterEachExampleOnce() throws {
        let h = try CLIHarness()
        defer { h.cleanUp() }
        let runs = (0..<4).map { _ in
            let run = Process()
            run.executableURL = URL(fileURLWithPath: CLIHarness.binary)
            run.arguments = ["bootstrap", "--models", CLIHarness.modelsDirectory.path, "--db", h.dbPath]
            run.standardOutput = FileHandle.nullDevice
            run.standardError = FileHandle.nullDevice
            return run
        }
        for run in runs { try run.run() }
        for run in runs {
            run.waitUntilExit()
            #expect(run.terminationStatus == 0)
        }
        #expect(try h.sqlite("SELECT group_concat(version) FROM model_versions") == "1,2,3")
    }

    /// The last example of a copied bundle no longer reproduces its golden rows: bootstrap refuses
    /// with one line and registers none of the others (a fresh path gets no database at all).
    @Test func aBrokenExampleAnywhereInTheBundleRegistersNothing() throws {
        let h = try CLIHarness()
        defer { h.cleanUp() }
        let bundle = h.directory.appendingPathComponent("bundle")
        try FileManager.default.copyItem(at: CLIHarness.modelsDirectory, to: bundle)
        let golden = bundle.appendingPathComponent("fraud-xgboost/golden.jsonl")
        let rows = try String(contentsOf: golden, encoding: .utf8)
        let broken = rows.replacingOccurrences(of: #""score":0\."#, with: #""score":0.5"#, options: .regularExpression)
        #expect(broken != rows)
        try broken.write(to: golden, atomically: true, encoding: .utf8)

        let fresh = try h.cli(["bootstrap", "--models", bundle.path])
        #expect(fresh.status != 0)
        #expect(fresh.stderr.split(separator: "\n").count == 1 && fresh.stderr.contains("fraud-xgboost is refused: golden row"), "\(fresh.stderr)")
        #expect(!FileManager.default.fileExists(atPath: h.dbPath))

        #expect(try h.cli(["init"]).status == 0)
        let before = h.snapshot()
        #expect(try h.cli(["bootstrap", "--models", bundle.path]).status != 0)
        #expect(h.snapshot() == before)
        #expect(try h.sqlite("SELECT count(*) FROM model_versions") == "0")

        // A description is held to register --description's rule: `show` prints it on a line.
        try rows.write(to: golden, atomically: true, encoding: .utf8)
        let metaFile = bundle.appendingPathComponent("fraud-xgboost/meta.json")
        var meta = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: metaFile)) as? [String: Any])
        meta["description"] = "200 trees\nstage: production"
        try JSONSerialization.data(withJSONObject: meta).write(to: metaFile)
        let twoLines = try h.cli(["bootstrap", "--models", bundle.path])
        #expect(twoLines.status != 0 && twoLines.stderr.split(separator: "\n").count == 1
                && twoLines.stderr.contains("\"description\" must be one line"), "\(twoLines.stderr)")
        #expect(h.snapshot() == before)
    }

    /// The registry's digest of version `number`'s artifact (what `--gitops` pins beside its label).
    static func artifactSHA256(_ h: CLIHarness, version number: Int) throws -> String {
        try h.sqlite("SELECT artifact_sha256 FROM model_versions WHERE version = \(number)")
    }

    /// A registry bootstrapped from the examples with `version` promoted, and the example values
    /// file beside it.
    static func bootstrapped(promoting version: String) throws -> (h: CLIHarness, values: String) {
        let h = try CLIHarness()
        #expect(try h.cli(["bootstrap", "--models", CLIHarness.modelsDirectory.path]).status == 0)
        #expect(try h.cli(["promote", version]).status == 0)
        let values = h.directory.appendingPathComponent("values-prod.yaml").path
        try Self.valuesFile.write(toFile: values, atomically: true, encoding: .utf8)
        return (h, values)
    }

    @Test func gitopsPromotionRewritesOnlyThePinnedVersion() throws {
        let (h, values) = try Self.bootstrapped(promoting: "v2")
        defer { h.cleanUp() }
        let v2 = try Self.artifactSHA256(h, version: 2), v3 = try Self.artifactSHA256(h, version: 3)
        #expect(v2.count == 64 && v3.count == 64 && v2 != v3)

        // A file without a digest gets one, on the line after the version; nothing else changes.
        let promoted = try h.cli(["promote", "v3", "--gitops", values])
        #expect(promoted.status == 0, "\(promoted.stderr)")
        #expect(try h.sqlite("SELECT version FROM version_summary WHERE stage = 'production'") == "v3")
        let pinnedV3 = Self.valuesFile.replacingOccurrences(of: "  version: \"v2\"   # keep the quotes\n",
                                                            with: "  version: \"v3\"   # keep the quotes\n  sha256: \"\(v3)\"\n")
        #expect(pinnedV3 != Self.valuesFile)
        #expect(try String(contentsOfFile: values, encoding: .utf8) == pinnedV3)

        // Rollback pins the previous version and its digest, in place.
        let rolledBack = try h.cli(["rollback", "--gitops", values])
        #expect(rolledBack.status == 0, "\(rolledBack.stderr)")
        let pinnedV2 = pinnedV3.replacingOccurrences(of: "\"v3\"", with: "\"v2\"").replacingOccurrences(of: v3, with: v2)
        #expect(try String(contentsOfFile: values, encoding: .utf8) == pinnedV2)
        #expect(try h.sqlite("SELECT version FROM version_summary WHERE stage = 'production'") == "v2")

        // A digest already there, quoted and commented, is replaced in place, keeping both.
        let quoted = pinnedV2.replacingOccurrences(of: "  sha256: \"\(v2)\"\n", with: "  sha256: '\(v2)'  # set by promote\n")
        try quoted.write(toFile: values, atomically: true, encoding: .utf8)
        #expect(try h.cli(["promote", "v3", "--gitops", values]).status == 0)
        #expect(try String(contentsOfFile: values, encoding: .utf8)
                == quoted.replacingOccurrences(of: "\"v2\"", with: "\"v3\"").replacingOccurrences(of: v2, with: v3))
        #expect(try h.cli(["rollback", "--gitops", values]).status == 0)
        #expect(try String(contentsOfFile: values, encoding: .utf8) == quoted)

        // Through a symlink (as a checkout may link an environment's file), the file it names is
        // rewritten and the link stays a link; the file keeps its permissions.
        let link = h.directory.appendingPathComponent("values-link.yaml").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "values-prod.yaml")
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: values)
        #expect(try h.cli(["promote", "v3", "--gitops", link]).status == 0)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "values-prod.yaml")
        #expect(try String(contentsOfFile: values, encoding: .utf8).contains("  version: \"v3\"   # keep the quotes"))
        #expect(try FileManager.default.attributesOfItem(atPath: values)[.posixPermissions] as? Int == 0o640)
    }

    /// A values file that pins nothing yet (`version:` and `name:` YAML's null: empty, `~` or
    /// `null`) gets its first pin from a promotion or a rollback, with or without a comment after
    /// the key. Reading an empty one used to trap, and a rollback refused it ("pins  but …").
    @Test func gitopsPromotionFillsAnEmptyPin() throws {
        let h = try CLIHarness()
        defer { h.cleanUp() }
        #expect(try h.cli(["bootstrap", "--models", CLIHarness.modelsDirectory.path]).status == 0)
        let cases = [("v1", "", "", "  version: v1"), ("v2", " ~", "   # set by promote", "  version: v2 # set by promote"),
                     ("v3", " null", " null", "  version: v3")]
        for (version, name, after, expected) in cases {
            let values = h.directory.appendingPathComponent("values-\(version).yaml").path
            try "model:\n  name:\(name)\n  version:\(after)\n  threshold: 0.5\n".write(toFile: values, atomically: true, encoding: .utf8)
            let promoted = try h.cli(["promote", version, "--gitops", values])
            #expect(promoted.status == 0, "\(promoted.stderr)")
            let sha256 = try Self.artifactSHA256(h, version: Int(version.dropFirst())!)
            #expect(try String(contentsOfFile: values, encoding: .utf8) == "model:\n  name:\(name)\n\(expected)\n  sha256: \"\(sha256)\"\n  threshold: 0.5\n")
            #expect(try h.sqlite("SELECT version FROM version_summary WHERE stage = 'production'") == version)
        }
        let values = h.directory.appendingPathComponent("values-rollback.yaml").path
        try "model:\n  name: fraud\n  version:\n".write(toFile: values, atomically: true, encoding: .utf8)
        let rolledBack = try h.cli(["rollback", "--gitops", values])
        #expect(rolledBack.status == 0, "\(rolledBack.stderr)")
        #expect(try String(contentsOfFile: values, encoding: .utf8) == "model:\n  name: fraud\n  version: v2\n  sha256: \"\(try Self.artifactSHA256(h, version: 2))\"\n")
    }

    /// The digest line wherever a values file has it: before the version, empty (the chart's
    /// default), in a CRLF file, beside a `sha256` key deeper down that is not the pin; and a
    /// model-level key the line scan cannot read is refused, changing nothing.
    @Test func gitopsDigestLineInEveryLayout() throws {
        let h = try CLIHarness()
        defer { h.cleanUp() }
        #expect(try h.cli(["bootstrap", "--models", CLIHarness.modelsDirectory.path]).status == 0)
        let v1 = try Self.artifactSHA256(h, version: 1), v2 = try Self.artifactSHA256(h, version: 2)
        let cases: [(before: String, version: String, after: String)] = [
            ("model:\n  sha256: \"\"   # the chart's default\n  version: v1\n", "v2",
             "model:\n  sha256: \"\(v2)\"   # the chart's default\n  version: v2\n"),
            ("model:\r\n  name: fraud\r\n  version: v2\r\n\r\nimage:\r\n  tag: x\r\n", "v1",
             "model:\r\n  name: fraud\r\n  version: v1\r\n  sha256: \"\(v1)\"\r\n\r\nimage:\r\n  tag: x\r\n"),
            ("model:\n  version: v1\n  extra:\n    sha256: not-the-pin\n", "v2",
             "model:\n  version: v2\n  sha256: \"\(v2)\"\n  extra:\n    sha256: not-the-pin\n"),
        ]
        for (index, (before, version, after)) in cases.enumerated() {
            let values = h.directory.appendingPathComponent("values-\(index).yaml").path
            try before.write(toFile: values, atomically: true, encoding: .utf8)
            let promoted = try h.cli(["promote", version, "--gitops", values])
            #expect(promoted.status == 0, "case \(index): \(promoted.stderr)")
            #expect(try String(contentsOfFile: values, encoding: .utf8) == after, "case \(index)")
        }
        let unreadable = "model:\n  version: v1\n  \"sha256\": x\n"
        let values = h.directory.appendingPathComponent("values-quoted-key.yaml").path
        try unreadable.write(toFile: values, atomically: true, encoding: .utf8)
        let database = h.snapshot().0
        let refused = try h.cli(["promote", "v1", "--gitops", values])
        #expect(refused.status != 0 && refused.stderr.split(separator: "\n").count == 1
                && refused.stderr.contains("would change more than those keys"), "\(refused.stderr)")
        #expect(try String(contentsOfFile: values, encoding: .utf8) == unreadable)
        #expect(h.snapshot().0 == database)
    }

    @Test func badValuesFileChangesNeitherRegistryNorFile() throws {
        let h = try CLIHarness()
        defer { h.cleanUp() }
        #expect(try h.cli(["bootstrap", "--models", CLIHarness.modelsDirectory.path]).status == 0)
        #expect(try h.cli(["promote", "v1"]).status == 0)
        let cases: [(name: String, text: String, message: String)] = [
            ("other-model.yaml", Self.valuesFile.replacingOccurrences(of: "name: fraud", with: "name: chargeback"), "pins model 'chargeback'"),
            ("no-pin.yaml", "model:\n  name: fraud\n", "no top-level 'model:' block"),
            ("broken.yaml", "model:\n  version: v1\n  extra: [\n", "not valid YAML"),
        ]
        for (name, text, message) in cases {
            let path = h.directory.appendingPathComponent(name).path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let database = h.snapshot().0
            let result = try h.cli(["promote", "v3", "--gitops", path])
            #expect(result.status != 0, "\(name)")
            #expect(result.stderr.split(separator: "\n").count == 1 && result.stderr.contains(message), "\(name): \(result.stderr)")
            #expect(try String(contentsOfFile: path, encoding: .utf8) == text)
            #expect(h.snapshot().0 == database)
            #expect(!FileManager.default.fileExists(atPath: path + ".sentinel-tmp"))
        }
        // An unknown version: the file is not touched either.
        let values = h.directory.appendingPathComponent("values.yaml").path
        try Self.valuesFile.write(toFile: values, atomically: true, encoding: .utf8)
        #expect(try h.cli(["promote", "v9", "--gitops", values]).status != 0)
        #expect(try String(contentsOfFile: values, encoding: .utf8) == Self.valuesFile)
        #expect(!FileManager.default.fileExists(atPath: values + ".sentinel-tmp"))

        // A rollback whose file cannot be written (its staging path is taken) changes nothing
        // either: it is staged before the rollback commits. Once it can be, v2 -> v1 and the pin.
        #expect(try h.cli(["promote", "v2"]).status == 0)
        try FileManager.default.createDirectory(atPath: values + ".sentinel-tmp", withIntermediateDirectories: false)
        let database = h.snapshot().0
        let refused = try h.cli(["rollback", "--gitops", values])
        #expect(refused.status != 0)
        #expect(refused.stderr.split(separator: "\n").count == 1 && refused.stderr.contains("cannot be written"), "\(refused.stderr)")
        #expect(h.snapshot().0 == database)
        #expect(try String(contentsOfFile: values, encoding: .utf8) == Self.valuesFile)
        try FileManager.default.removeItem(atPath: values + ".sentinel-tmp")
        let rolledBack = try h.cli(["rollback", "--gitops", values])
        #expect(rolledBack.status == 0, "\(rolledBack.stderr)")
        #expect(try h.sqlite("SELECT version FROM model_versions WHERE stage = 'production'") == "1")
        #expect(try String(contentsOfFile: values, encoding: .utf8).contains("version: \"v1\"   # keep the quotes"))
    }

    /// Two promotions of one values file at once take turns: both succeed, and the file pins what
    /// the registry made active last. (Both used to stage into one file: one reported a pin the
    /// file did not hold, the other failed after changing the registry.)
    @Test func gitopsPromotionsAtOnceTakeTurns() throws {
        let h = try CLIHarness()
        defer { h.cleanUp() }
        #expect(try h.cli(["bootstrap", "--models", CLIHarness.modelsDirectory.path]).status == 0)
        #expect(try h.cli(["promote", "v1"]).status == 0)
        let values = h.directory.appendingPathComponent("values-prod.yaml").path
        try Self.valuesFile.write(toFile: values, atomically: true, encoding: .utf8)
        // The registry's write lock held for a moment, so that the second starts while the first waits.
        let lock = try SQLiteWriteLock(databasePath: h.dbPath)
        #expect(lock.isHeld)
        let runs = ["v3", "v2"].map { version in
            let run = Process()
            run.executableURL = URL(fileURLWithPath: CLIHarness.binary)
            run.arguments = ["promote", version, "--gitops", values, "--db", h.dbPath]
            run.standardOutput = FileHandle.nullDevice
            run.standardError = FileHandle.nullDevice
            return run
        }
        try runs[0].run()
        Thread.sleep(forTimeInterval: 0.3)
        try runs[1].run()
        Thread.sleep(forTimeInterval: 0.5)
        try lock.release()
        for run in runs {
            run.waitUntilExit()
            #expect(run.terminationStatus == 0)
        }
        let active = try h.sqlite("SELECT version FROM version_summary WHERE stage = 'production'")
        #expect(try String(contentsOfFile: values, encoding: .utf8).contains("  version: \"\(active)\"   # keep the quotes"), "active \(active)")
        #expect(try h.sqlite("SELECT count(*) FROM promotion_log") == "3")
        #expect(!FileManager.default.fileExists(atPath: values + ".sentinel-tmp"))
    }

    /// The pin is checked inside the rollback's transaction: a promote by another process that lands
    /// while the rollback waits for the write lock (a CI job, a replica's applier, a promote without
    /// --gitops) makes the file's pin stale, and the rollback is refused rather than undo that
    /// promote (it checked before taking the lock, and rolled v4 back to v3 with v3 pinned).
    @Test func aRollbackRefusesAPinMadeStaleWhileItWaited() throws {
        let (h, values) = try Self.bootstrapped(promoting: "v1")
        defer { h.cleanUp() }
        #expect(try h.cli(["promote", "v2", "--gitops", values]).status == 0)
        let pinned = try String(contentsOfFile: values, encoding: .utf8)
        let lock = try SQLiteWriteLock(databasePath: h.dbPath)
        #expect(lock.isHeld)
        let rollback = Process()
        rollback.executableURL = URL(fileURLWithPath: CLIHarness.binary)
        rollback.arguments = ["rollback", "--gitops", values, "--db", h.dbPath]
        let stderr = Pipe()
        rollback.standardOutput = FileHandle.nullDevice
        rollback.standardError = stderr
        try rollback.run()
        Thread.sleep(forTimeInterval: 0.5)
        // What `promote v3` writes, by another process, while the rollback waits.
        try lock.commit("""
            UPDATE model_versions SET stage = 'registered' WHERE version = 2;
            UPDATE model_versions SET stage = 'production' WHERE version = 3;
            INSERT INTO promotions (model_id, from_version_id, to_version_id, action, promoted_at, promoted_by, reason)
            VALUES (1, (SELECT id FROM model_versions WHERE version = 2), (SELECT id FROM model_versions WHERE version = 3),
                    'promote', '2026-12-07T23:59:00.000Z', 'ci', 'another process');
            """)
        rollback.waitUntilExit()
        let said = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(rollback.terminationStatus == 1)
        #expect(said.contains("pins v2") && said.contains("v3"), "\(said)")
        #expect(try h.sqlite("SELECT version FROM version_summary WHERE stage = 'production'") == "v3")
        #expect(try String(contentsOfFile: values, encoding: .utf8) == pinned)
        #expect(try h.sqlite("SELECT count(*) FROM promotion_log") == "3")
    }

    /// `rollback --gitops` takes its target from this registry's history, so it refuses a file
    /// whose pin this registry did not make (say, staging's registry has moved on since).
    @Test func gitopsRollbackRefusesAFileThisRegistryDidNotPin() throws {
        let h = try CLIHarness()
        defer { h.cleanUp() }
        #expect(try h.cli(["bootstrap", "--models", CLIHarness.modelsDirectory.path]).status == 0)
        #expect(try h.cli(["promote", "v1"]).status == 0)
        #expect(try h.cli(["promote", "v3"]).status == 0)
        let values = h.directory.appendingPathComponent("values-prod.yaml").path
        try Self.valuesFile.write(toFile: values, atomically: true, encoding: .utf8)
        let database = h.snapshot().0
        let refused = try h.cli(["rollback", "--gitops", values])
        #expect(refused.status != 0)
        #expect(refused.stderr.split(separator: "\n").count == 1
                && refused.stderr.contains("pins v2 but fraud's active version in this registry is v3"), "\(refused.stderr)")
        #expect(h.snapshot().0 == database)
        #expect(try String(contentsOfFile: values, encoding: .utf8) == Self.valuesFile)

        // The label this registry made active, but another artifact's digest beside it.
        let v1 = try Self.artifactSHA256(h, version: 1), v3 = try Self.artifactSHA256(h, version: 3)
        let otherDigest = Self.valuesFile.replacingOccurrences(of: "  version: \"v2\"   # keep the quotes\n",
                                                               with: "  version: v3\n  sha256: \(v1)\n")
        try otherDigest.write(toFile: values, atomically: true, encoding: .utf8)
        let digestRefused = try h.cli(["rollback", "--gitops", values])
        #expect(digestRefused.status != 0)
        #expect(digestRefused.stderr.split(separator: "\n").count == 1
                && digestRefused.stderr.contains("pins v3 (sha256 \(v1)) but fraud's active version in this registry is v3 (sha256 \(v3))"),
                "\(digestRefused.stderr)")
        #expect(h.snapshot().0 == database)
        #expect(try String(contentsOfFile: values, encoding: .utf8) == otherDigest)
    }

    @Test func auditReadsSeveralReplicasTogether() throws {
        let h = try CLIHarness()
        defer { h.cleanUp() }
        let replicas = (0..<2).map { h.directory.appendingPathComponent("replica-\($0).db").path }
        let row = try String(contentsOfFile: h.model("fraud-xgboost", "golden.jsonl"), encoding: .utf8).split(separator: "\n")[0]
        for (index, path) in replicas.enumerated() {
            #expect(try h.cli(["bootstrap", "--models", CLIHarness.modelsDirectory.path], db: path).status == 0)
            #expect(try h.cli(["promote", "v3"], db: path).status == 0)
            // `score` writes audit rows as a replica's service would.
            var object = try JSONSerialization.jsonObject(with: Data(row.utf8)) as! [String: Any]
            object["request_id"] = "replica-\(index)"
            let line = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
            let scored = try h.cli(["score", "--input", "-", "--quiet"], db: path, stdin: line + "\n")
            #expect(scored.status == 0, "\(scored.stderr)")
        }
        let merged = try h.cli(["audit", "--include", replicas[1], "--json"], db: replicas[0])
        #expect(merged.status == 0, "\(merged.stderr)")
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(merged.stdout.utf8)) as? [[String: Any]])
        #expect(Set(entries.compactMap { $0["request_id"] as? String }) == ["replica-0", "replica-1"])
        #expect(Set(entries.compactMap { $0["registry"] as? String }) == Set(replicas))
        let limited = try h.cli(["audit", "--include", replicas[1], "--limit", "1", "--json"], db: replicas[0])
        #expect((try JSONSerialization.jsonObject(with: Data(limited.stdout.utf8)) as? [[String: Any]])?.count == 1)
        let missing = try h.cli(["audit", "--include", h.directory.appendingPathComponent("nope.db").path], db: replicas[0])
        #expect(missing.status != 0 && missing.stderr.contains("nope.db"))

        // A replica that has not registered the model yet holds none of its rows: the others'
        // are listed. Named by no file at all, the model is refused.
        let fresh = h.directory.appendingPathComponent("replica-new.db").path
        #expect(try h.cli(["init"], db: fresh).status == 0)
        let byModel = try h.cli(["audit", "--include", fresh, "--model", "fraud", "--json"], db: replicas[0])
        #expect(byModel.status == 0, "\(byModel.stderr)")
        #expect((try JSONSerialization.jsonObject(with: Data(byModel.stdout.utf8)) as? [[String: Any]])?.count == 1)
        let unknown = try h.cli(["audit", "--include", fresh, "--model", "chargeback"], db: replicas[0])
        #expect(unknown.status != 0 && unknown.stderr.contains("no model named 'chargeback', in any of the 2 registries"), "\(unknown.stderr)")
        // A file holding several models asks for one, and says which file it is.
        _ = try h.cli(["register", "--model", "aml", "--format", "logistic", "--artifact", h.model("fraud-logistic", "model.json")], db: fresh)
        _ = try h.cli(["register", "--model", "cards", "--format", "logistic", "--artifact", h.model("fraud-logistic", "model.json")], db: fresh)
        let ambiguous = try h.cli(["audit", "--include", fresh, "--version", "v1"], db: replicas[0])
        #expect(ambiguous.status != 0 && ambiguous.stderr.split(separator: "\n").count == 1
                && ambiguous.stderr.contains("in \(fresh): the registry holds several models"), "\(ambiguous.stderr)")
        // One file under a second name (a hard link) would list each row twice.
        let linked = h.directory.appendingPathComponent("replica-0-link.db").path
        #expect(link(replicas[0], linked) == 0)
        let twice = try h.cli(["audit", "--include", linked], db: replicas[0])
        #expect(twice.status != 0 && twice.stderr.contains("is the same file as"), "\(twice.stderr)")

        // Copies kept as evidence are read without a byte of them changing: one in rollback-journal
        // mode (VACUUM INTO writes those; opening it for writing switched it to WAL), and a snapshot
        // with its -wal file (closing a read-write connection folded the WAL into it).
        let vacuumed = h.directory.appendingPathComponent("evidence-vacuumed.db").path
        let snapshot = h.directory.appendingPathComponent("evidence-snapshot.db").path
        #expect(try CLIHarness.run("/usr/bin/sqlite3", [replicas[1], "VACUUM INTO '\(vacuumed)'"]).status == 0)
        let appendAndCopy = """
            PRAGMA wal_autocheckpoint = 0;
            INSERT INTO predictions (predicted_at, request_id, row_index, model_id, version_id, features, score, decision, latency_us)
            SELECT predicted_at, 'only-in-the-wal', row_index, model_id, version_id, features, score, decision, latency_us FROM predictions;
            """
        let copied = try CLIHarness.run("/usr/bin/sqlite3", [replicas[1], appendAndCopy,
                                                           ".shell cp '\(replicas[1])' '\(snapshot)' && cp '\(replicas[1])-wal' '\(snapshot)-wal'"])
        #expect(copied.status == 0, "\(copied.stderr)")
        let evidence = [vacuumed, snapshot, snapshot + "-wal"]
        let before = try evidence.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
        #expect(before[2].count > 32, "the snapshot's WAL holds no frame")
        let fromCopies = try h.cli(["audit", "--include", vacuumed, "--include", snapshot, "--json"], db: replicas[0])
        #expect(fromCopies.status == 0, "\(fromCopies.stderr)")
        let listed = try #require(try JSONSerialization.jsonObject(with: Data(fromCopies.stdout.utf8)) as? [[String: Any]])
        #expect(listed.filter { $0["request_id"] as? String == "only-in-the-wal" }.map { $0["registry"] as? String } == [snapshot])
        #expect(Set(listed.compactMap { $0["registry"] as? String }) == [replicas[0], vacuumed, snapshot])
        #expect(try evidence.map { try Data(contentsOf: URL(fileURLWithPath: $0)) } == before)
    }
}
