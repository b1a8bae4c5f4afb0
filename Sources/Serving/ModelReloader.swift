import Foundation
import Logging
import Registry
import ServiceLifecycle

/// Keeps `ActiveModels` equal to the registry's active versions, off the request path.
///
/// Every `interval` it reads the newest promotion id (one indexed lookup). When it changes (a
/// promote or rollback by any process), it loads each model's active version, checks its sha256,
/// self-tests it on its golden rows, and only then swaps it in. A version that fails stays out: the
/// previous one keeps serving, and the failure shows in the log, in /metrics and in /models.
public final class ModelReloader: Service, Sendable {
    let connection: RegistryConnection
    let interval: Duration
    let models: ActiveModels
    let metrics: ServingMetrics
    let logger: Logger

    public init(configuration: ServiceConfiguration, models: ActiveModels, metrics: ServingMetrics, logger: Logger) {
        connection = RegistryConnection(configuration, access: .read, logger: logger)
        interval = .milliseconds(configuration.reloadIntervalMilliseconds)
        self.models = models
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        let state = PollState()
        await runBlockingPoll(every: interval) { self.poll(state) }
    }

    /// What one poll leaves for the next. Used by one poll at a time (each is awaited).
    final class PollState: @unchecked Sendable {
        var lastPromotion: Int64 = -1
        /// Versions that failed to load or self-test, by id, with why (a version never changes).
        var failedVersions: [Int64: String] = [:]
        /// Four polls a second: a registry that stays unreadable is logged once, then every 10 s.
        var checkFailures = RepeatingFailureLog("registry check failed", level: .error)
    }

    func poll(_ state: PollState) {
        do {
            try connection.use { registry in
                let newest = try registry.latestPromotionID()
                models.recordDatabaseCheck(ok: true)
                state.checkFailures.succeeded(logger: logger)
                if newest != state.lastPromotion {
                    try reload(registry, failed: &state.failedVersions)
                    state.lastPromotion = newest
                }
            }
        } catch {
            models.recordDatabaseCheck(ok: false)
            state.checkFailures.failed("\(error)", logger: logger, now: DispatchTime.now().uptimeNanoseconds)
        }
    }

    /// Brings every model's serving version in line with the registry. Throws the registry's errors
    /// (then nothing is marked done, and the next poll tries again).
    func reload(_ registry: Registry, failed: inout [Int64: String]) throws {
        let snapshot = models.snapshot()
        for name in try registry.modelNames() {
            guard let active = try registry.activeVersion(model: name) else {
                if snapshot.versions[name] != nil {
                    models.remove(model: name)
                    metrics.unloaded(model: name)
                    logger.warning("model has no active version any more; not serving it", metadata: ["model.name": "\(name)"])
                }
                continue
            }
            if snapshot.versions[name]?.version.id == active.id {
                // Back on the version already serving (say, a rollback past a refused one).
                metrics.reloadFailing(model: name, false)
                models.clearFailure(model: name)
                continue
            }
            if let reason = failed[active.id] {
                // Made active again after a rollback cleared its failure (say, by a revert in Git):
                // still refused, and said so again.
                models.recordFailure(model: name, version: active.label, reason: reason)
                metrics.reloadFailing(model: name, true)
                logger.error("version refused before is active again; the previous one keeps serving", metadata: [
                    "model.name": "\(name)", "model.version": "\(active.label)",
                    "model.serving_version": "\(snapshot.versions[name]?.version.label.description ?? "none")",
                    "error": "\(reason)",
                ])
                continue
            }
            let started = ContinuousClock.now
            // Reading the version is the registry's business: if that fails, the caller retries on
            // the next poll. Only a version that does not load or self-test (its stored golden rows
            // unreadable included) is marked failed.
            let loadable = try registry.loadable(active)
            do {
                let loaded = try LoadedVersion(loadable)
                models.install(loaded)
                metrics.reloaded(model: name, version: active.label.description)
                logger.info("serving new version", metadata: [
                    "model.name": "\(name)", "model.version": "\(active.label)",
                    "model.previous_version": "\(snapshot.versions[name]?.version.label.description ?? "none")",
                    "model.load_time": "\(ContinuousClock.now - started)",
                    "model.golden_max_error": "\(loaded.goldenMaxError.map { "\($0)" } ?? "no golden rows")",
                ])
            } catch {
                failed[active.id] = "\(error)"
                models.recordFailure(model: name, version: active.label, reason: "\(error)")
                metrics.reloadFailed(model: name)
                logger.error("new version refused; the previous one keeps serving", metadata: [
                    "model.name": "\(name)", "model.version": "\(active.label)",
                    "model.serving_version": "\(snapshot.versions[name]?.version.label.description ?? "none")",
                    "error": "\(error)",
                ])
            }
        }
    }
}
