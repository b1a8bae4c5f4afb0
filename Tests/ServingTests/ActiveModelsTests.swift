import Foundation
import Registry
import Testing
@testable import Serving

/// What the reloader's bookkeeping tells requests and probes, on the real loaded model.
struct ActiveModelsTests {
    /// The refusal `resolve` throws, as "code: detail", or nil when it resolves.
    static func refusal(_ resolve: () throws -> LoadedVersion) -> String? {
        do {
            _ = try resolve()
            return nil
        } catch let error as APIError {
            return "\(error.code): \(error.detail)"
        } catch {
            return "not an APIError: \(error)"
        }
    }

    /// A pod is not ready until the reloader has been through every model once: with one model
    /// installed and a second still loading, it would be sent the second's traffic and answer 503.
    /// A request that names no model is not given the first one installed meanwhile either.
    @Test func notReadyNorGuessingBeforeTheFirstPassEnds() throws {
        let (_, loaded) = try PredictParserFuzzTests.snapshot()
        let models = ActiveModels()
        models.install(loaded)
        models.recordDatabaseCheck()
        #expect(!models.isReady(freshness: 60))
        #expect(Self.refusal { try models.snapshot().resolve(nil) } == "noActiveVersion: the active versions are still loading")
        #expect(try models.snapshot().resolve("fraud").version.id == loaded.version.id)
        models.markSettled()
        #expect(models.isReady(freshness: 60))
        #expect(try models.snapshot().resolve(nil).version.id == loaded.version.id)
    }

    /// With a desired-versions file, the versions it pins may not be active when the reloader first
    /// goes through the registry: not ready until the applier's first pass and a reloader pass
    /// after it (a pod pinning two models was ready with one loaded, the other answered 404).
    @Test func withADesiredVersionsFileReadyAfterTheApplierAndTheNextPass() throws {
        let (_, loaded) = try PredictParserFuzzTests.snapshot()
        let models = ActiveModels(awaitingDesiredVersions: true)
        models.install(loaded)
        models.recordDatabaseCheck()
        models.markSettled()
        #expect(!models.isReady(freshness: 60))
        models.desiredVersionsPassed()
        #expect(!models.isReady(freshness: 60))
        #expect(Self.refusal { try models.snapshot().resolve("aml") } == "noActiveVersion: the active versions are still loading")
        models.markSettled()
        #expect(models.isReady(freshness: 60))
        // Later passes of the applier change nothing here.
        models.desiredVersionsPassed()
        #expect(models.isReady(freshness: 60))
    }

    /// A second model that is active but refused here (or unreadable) still makes a request that
    /// names no model ambiguous: 400 model_required naming both, not an answer from the other one.
    @Test func aRefusedModelStillCountsAsActive() throws {
        let (_, loaded) = try PredictParserFuzzTests.snapshot()
        let models = ActiveModels()
        models.install(loaded)
        models.recordFailure(model: "aml", version: VersionLabel(2), reason: "its golden rows do not reproduce")
        models.markSettled()
        #expect(Self.refusal { try models.snapshot().resolve(nil) } == "modelRequired: several models are active (aml, fraud): name one in \"model\"")
        #expect(Self.refusal { try models.snapshot().resolve("aml") } == "noActiveVersion: aml's active version was refused here and no other serves: v2: its golden rows do not reproduce")
        models.remove(model: "aml")
        models.recordReadFailure(model: "aml", reason: "database is locked")
        #expect(Self.refusal { try models.snapshot().resolve("aml") } == "noActiveVersion: aml's active version was refused here and no other serves: its registry rows could not be read: database is locked")
        #expect(Self.refusal { try models.snapshot().resolve(nil) }?.hasPrefix("modelRequired: ") == true)
    }

    /// The same refusal recorded again (each poll while another model's error has them retried, or
    /// the version made active again) keeps the time it was first made, which /models shows.
    @Test func aRefusalKeepsTheTimeItWasFirstMade() throws {
        let models = ActiveModels()
        models.recordFailure(model: "fraud", version: VersionLabel(2), reason: "bad artifact")
        let first = try #require(models.status()["fraud"]?.lastFailureAt)
        Thread.sleep(forTimeInterval: 0.02)
        models.recordFailure(model: "fraud", version: VersionLabel(2), reason: "bad artifact")
        #expect(models.status()["fraud"]?.lastFailureAt == first)
        models.recordFailure(model: "fraud", version: VersionLabel(3), reason: "bad artifact")
        #expect(try #require(models.status()["fraud"]?.lastFailureAt) > first)
    }
}
