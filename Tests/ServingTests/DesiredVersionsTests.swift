import Foundation
import Testing
import TestSupport

/// GitOps on one replica: the service applies the version its desired-versions file names to its
/// own registry and hot-reloads it; a file naming something it cannot serve (unknown, or failing its
/// self-test) changes nothing.
@Suite(.serialized)
struct DesiredVersionsTests {
    @Test func servesTheVersionTheFileNames() async throws {
        let h = try ServiceHarness()
        let bundle = ServiceHarness.models.path
        let bootstrap = try h.cli(["bootstrap", "--models", bundle])
        #expect(bootstrap.status == 0, "\(bootstrap.stderr)")
        let desired = h.directory.appendingPathComponent("desired-versions.json").path
        try #"{"fraud": "v3"}"#.write(toFile: desired, atomically: true, encoding: .utf8)

        // No version is active yet: the file's is promoted at start, and the service becomes ready.
        try await h.start(["--desired-versions-file", desired])
        let golden = try GoldenRequests("fraud-xgboost", limit: 1)
        let first = try await h.post("/predict", body: golden.bodies[0])
        #expect(first.status == 200)
        #expect(first.json?["version"] as? String == "v3")

        // A commit in Git changes the mounted file; the kubelet swaps it by rename, as here.
        try #"{"fraud": "v1"}"#.write(toFile: desired, atomically: true, encoding: .utf8)
        let changed = Date()
        var switchedAfter: TimeInterval?
        while Date().timeIntervalSince(changed) < 10 {
            let reply = try await h.post("/predict", body: golden.bodies[0])
            #expect(reply.status == 200)
            if reply.json?["version"] as? String == "v1" { switchedAfter = Date().timeIntervalSince(changed); break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let seconds = try #require(switchedAfter, "the service never served v1")
        // The file is read every second and the registry every 250 ms; the rest is slack for a
        // busy shared machine.
        #expect(seconds < 5, "took \(seconds) s")
        #expect(try h.sqlite("SELECT promoted_by || ' ' || to_version FROM promotion_log ORDER BY id DESC LIMIT 1") == "gitops v1")
        #expect(try h.sqlite("SELECT version FROM version_summary WHERE stage = 'production'") == "v1")

        // A version this replica does not hold: v1 keeps serving, and /metrics says out of sync.
        try #"{"fraud": "v9"}"#.write(toFile: desired, atomically: true, encoding: .utf8)
        try await Task.sleep(for: .milliseconds(2_500))
        let after = try await h.post("/predict", body: golden.bodies[0])
        #expect(after.status == 200 && after.json?["version"] as? String == "v1")
        let metrics = try await h.get("/metrics").body
        #expect(metrics.contains("sentinel_desired_versions_in_sync 0"))
        #expect(metrics.contains("sentinel_desired_versions_applied_total{model=\"fraud\"} 2"))
        var log = try String(contentsOfFile: h.logPath, encoding: .utf8)
        #expect(log.contains("no version v9"))

        // A version that fails its self-test here is not promoted either: the registry keeps v1
        // active, so a restarted process serves v1 too rather than nothing.
        _ = try h.sqlite(HandEdit.fixedVersionColumns("UPDATE model_versions SET golden_rows = 'not json' WHERE version = 2;"))
        try #"{"fraud": "v2"}"#.write(toFile: desired, atomically: true, encoding: .utf8)
        try await Task.sleep(for: .milliseconds(2_500))
        #expect(try await h.post("/predict", body: golden.bodies[0]).json?["version"] as? String == "v1")
        #expect(try h.sqlite("SELECT version FROM version_summary WHERE stage = 'production'") == "v1")
        #expect(try await h.get("/metrics").body.contains("sentinel_desired_versions_in_sync 0"))
        log = try String(contentsOfFile: h.logPath, encoding: .utf8)
        #expect(log.contains("fraud v2 is not promoted: it does not load here"), "\(log)")

        // Two models' problems at once: each is said, not only the first by name (a model "aml"
        // this registry lacks hid fraud's refusal).
        try #"{"aml": "v1", "fraud": "v2"}"#.write(toFile: desired, atomically: true, encoding: .utf8)
        try await Task.sleep(for: .milliseconds(2_500))
        log = try String(contentsOfFile: h.logPath, encoding: .utf8)
        let both = log.split(separator: "\n").last { $0.contains("2 pins not applied") }
        #expect(both?.contains("aml") == true && both?.contains("fraud v2 is not promoted") == true, "\(log)")

        // A FIFO where the file should be would hold the poll (and shutdown behind it) for ever.
        try FileManager.default.removeItem(atPath: desired)
        #expect(mkfifo(desired, 0o600) == 0)
        try await Task.sleep(for: .milliseconds(2_500))
        log = try String(contentsOfFile: h.logPath, encoding: .utf8)
        #expect(log.contains("it is not a regular file"), "\(log)")
        #expect(try await h.post("/predict", body: golden.bodies[0]).json?["version"] as? String == "v1")
        #expect(try await h.stop() == 0)
    }

    /// A registry file replaced at its path under a running service is not written by it: the
    /// applier reopened the path and promoted the pinned version in the new file, through -wal
    /// and -shm files it shares by name with the one the service has open.
    @Test func aRegistryReplacedAtItsPathIsNotPromotedIn() async throws {
        let h = try ServiceHarness()
        let copy = h.directory.appendingPathComponent("copy.db").path
        #expect(try h.cli(["bootstrap", "--models", ServiceHarness.models.path]).status == 0)
        #expect(try h.cli(["promote", "v1"]).status == 0)
        try FileManager.default.moveItem(atPath: h.dbPath, toPath: copy)
        #expect(try h.cli(["bootstrap", "--models", ServiceHarness.models.path]).status == 0)
        let desired = h.directory.appendingPathComponent("desired-versions.json").path
        try #"{"fraud": "v2"}"#.write(toFile: desired, atomically: true, encoding: .utf8)
        try await h.start(["--desired-versions-file", desired])
        defer { h.killIfRunning() }
        let golden = try GoldenRequests("fraud-xgboost", limit: 1)
        #expect(try await h.post("/predict", body: golden.bodies[0]).json?["version"] as? String == "v2")

        #expect(rename(copy, h.dbPath) == 0)
        var metrics = try await h.get("/metrics").body
        for _ in 0..<100 where !metrics.contains("sentinel_desired_versions_in_sync 0") {
            try await Task.sleep(for: .milliseconds(100))
            metrics = try await h.get("/metrics").body
        }
        // Two more polls of the file (one a second) find the same.
        try await Task.sleep(for: .milliseconds(2_000))
        metrics = try await h.get("/metrics").body
        #expect(metrics.contains("sentinel_desired_versions_applied_total{model=\"fraud\"} 1")
                && metrics.contains("sentinel_desired_versions_in_sync 0"), "\(metrics)")
        let log = try String(contentsOfFile: h.logPath, encoding: .utf8)
        #expect(log.contains("desired versions not applied") && log.contains("was deleted, renamed or replaced while open"), "\(log)")
        _ = try await h.stop()
        #expect(try h.sqlite("SELECT group_concat(to_version) FROM promotion_log") == "v1")
    }

    /// A pin with the artifact's digest: a replica whose vN is another artifact (its registry
    /// registered another bundle, or in another order) refuses it rather than serve it under that
    /// name, and says so; so does one whose active version is the label but not the artifact.
    @Test func aPinnedDigestMustMatchTheReplicasArtifact() async throws {
        let h = try ServiceHarness()
        #expect(try h.cli(["bootstrap", "--models", ServiceHarness.models.path]).status == 0)
        func sha256(_ version: Int) throws -> String {
            try h.sqlite("SELECT artifact_sha256 FROM model_versions WHERE version = \(version)")
        }
        func pin(_ version: String, _ digest: String) throws {
            try #"{"fraud": {"version": "\#(version)", "sha256": "\#(digest)"}}"#
                .write(toFile: desired, atomically: true, encoding: .utf8)
        }
        func settle() async throws -> (version: String?, inSync: Bool, log: String) {
            try await Task.sleep(for: .milliseconds(2_500))
            let reply = try await h.post("/predict", body: golden.bodies[0])
            let metrics = try await h.get("/metrics").body
            return (reply.json?["version"] as? String, Self.inSync(metrics),
                    try String(contentsOfFile: h.logPath, encoding: .utf8))
        }
        let desired = h.directory.appendingPathComponent("desired-versions.json").path
        let golden = try GoldenRequests("fraud-xgboost", limit: 1)
        try pin("v3", sha256(3))
        try await h.start(["--desired-versions-file", desired])
        #expect(try await h.post("/predict", body: golden.bodies[0]).json?["version"] as? String == "v3")
        #expect(Self.inSync(try await h.get("/metrics").body))

        // v1 pinned with v2's digest: not promoted, v3 keeps serving and stays active.
        try pin("v1", sha256(2))
        var state = try await settle()
        #expect(state.version == "v3" && !state.inSync)
        #expect(try h.sqlite("SELECT version FROM version_summary WHERE stage = 'production'") == "v3")
        #expect(state.log.contains("fraud v1 here is artifact sha256 \(try sha256(1)), not the pinned \(try sha256(2))"), "\(state.log)")

        // The active label with another digest: nothing to promote, but not in sync either.
        try pin("v3", sha256(1))
        state = try await settle()
        #expect(state.version == "v3" && !state.inSync)
        #expect(state.log.contains("fraud v3 here is artifact sha256 \(try sha256(3)), not the pinned \(try sha256(1))"), "\(state.log)")

        // Another artifact that is archived too: the digest, which says the labels differ, is named.
        #expect(try h.cli(["archive", "v2"]).status == 0)
        try pin("v2", sha256(1))
        state = try await settle()
        #expect(state.version == "v3" && !state.inSync)
        #expect(state.log.contains("fraud v2 here is artifact sha256 \(try sha256(2)), not the pinned \(try sha256(1))"), "\(state.log)")

        // A digest that is not one is a malformed file.
        try pin("v1", "ABC")
        state = try await settle()
        #expect(state.version == "v3" && !state.inSync)
        #expect(state.log.contains("the sha256 of fraud must be 64 lower-case hexadecimal digits"), "\(state.log)")

        // The right digest: promoted and served.
        try pin("v1", sha256(1))
        state = try await settle()
        #expect(state.version == "v1" && state.inSync)
        #expect(try h.sqlite("SELECT promoted_by || ' ' || to_version FROM promotion_log ORDER BY id DESC LIMIT 1") == "gitops v1")
        #expect(try await h.stop() == 0)
    }

    /// The gauge's sample (not its HELP text, which mentions "1").
    static func inSync(_ metrics: String) -> Bool {
        metrics.split(separator: "\n").contains { $0.hasPrefix("sentinel_desired_versions_in_sync ") && Double($0.split(separator: " ")[1]) == 1 }
    }
}
