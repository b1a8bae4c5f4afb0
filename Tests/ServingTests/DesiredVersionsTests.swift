import Foundation
import Testing

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
        _ = try h.sqlite("UPDATE model_versions SET golden_rows = 'not json' WHERE version = 2")
        try #"{"fraud": "v2"}"#.write(toFile: desired, atomically: true, encoding: .utf8)
        try await Task.sleep(for: .milliseconds(2_500))
        #expect(try await h.post("/predict", body: golden.bodies[0]).json?["version"] as? String == "v1")
        #expect(try h.sqlite("SELECT version FROM version_summary WHERE stage = 'production'") == "v1")
        #expect(try await h.get("/metrics").body.contains("sentinel_desired_versions_in_sync 0"))
        log = try String(contentsOfFile: h.logPath, encoding: .utf8)
        #expect(log.contains("fraud v2 is not promoted: it does not load here"), "\(log)")
        #expect(try await h.stop() == 0)
    }
}
