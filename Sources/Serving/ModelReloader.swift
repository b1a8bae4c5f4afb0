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
        /// Per model, the refused version last said to be active again: said once, not at every
        /// poll while another model's registry error has the poll retried.
        var announcedRefusals: [String: Int64] = [:]
        /// Four polls a second: a registry that stays unreadable is logged once, then every 10 s.
        var checkFailures = RepeatingFailureLog("registry check failed", level: .error)
    }

    func poll(_ state: PollState) {
        do {
            try connection.use { registry in
                let newest = try registry.latestPromotionID()
                models.recordDatabaseCheck()
                if newest != state.lastPromotion {
                    try reload(registry, state: state)
                    state.lastPromotion = newest
                } else {
                    // Nothing changed since a pass that went through every model: settled (again,
                    // after the desired-versions applier's first pass promoted nothing).
                    models.markSettled()
                }
                // Only a whole poll that worked ends a streak: one model's lasting error would
                // otherwise log a failure and its end at every poll.
                state.checkFailures.succeeded(logger: logger)
            }
        } catch {
            state.checkFailures.failed("\(error)", logger: logger, now: DispatchTime.now().uptimeNanoseconds)
        }
    }

    /// Brings every model's serving version in line with the registry. Throws the first of the
    /// registry's errors once every model has had its turn (then nothing is marked done, and the
    /// next poll tries again): one model's trouble does not hold back the others.
    func reload(_ registry: Registry, state: PollState) throws {
        let snapshot = models.snapshot()
        var firstError: Error?
        var locked = false
        for name in try registry.modelNames() {
            do {
                try reload(model: name, registry, snapshot: snapshot, state: state)
            } catch let error as RegistryError where error.isBusy {
                // Another writer's lock is no failure of the model's: the next poll, 250 ms on,
                // reads past it (a registry that stays locked makes the pod unready). Until then
                // the model is not known to be loaded, so the pass does not settle.
                locked = true
                firstError = firstError ?? error
            } catch {
                // Shown where a refusal is (503 rather than 404 while nothing of it serves, /models,
                // the failing gauge) until a later poll reads the model again.
                models.recordReadFailure(model: name, reason: "\(error)")
                metrics.reloadFailing(model: name, true)
                state.announcedRefusals[name] = nil
                firstError = firstError ?? error
            }
        }
        // Every model has had its turn: a name neither loaded nor refused now is unknown (404),
        // even while one model's lasting registry error has the poll retried.
        if !locked { models.markSettled() }
        if let firstError { throw firstError }
    }

    private func reload(model name: String, _ registry: Registry, snapshot: ActiveModels.Snapshot, state: PollState) throws {
        guard let active = try registry.activeVersion(model: name) else {
            guard snapshot.versions[name] != nil || snapshot.refused[name] != nil else { return }
            if snapshot.versions[name] != nil {
                metrics.unloaded(model: name)
                logger.warning("model has no active version any more; not serving it", metadata: ["model.name": "\(name)"])
            }
            // A refused version that is no longer active is history, as below.
            models.remove(model: name)
            forgetRefusal(of: name, state: state)
            return
        }
        if snapshot.versions[name]?.version.id == active.id {
            // Back on the version already serving (say, a rollback past a refused one).
            models.clearFailure(model: name)
            forgetRefusal(of: name, state: state)
            return
        }
        if let reason = state.failedVersions[active.id] {
            // Made active again after a rollback cleared its failure (say, by a revert in Git):
            // still refused, and said so again.
            models.recordFailure(model: name, version: active.label, reason: reason)
            metrics.reloadFailing(model: name, true)
            guard state.announcedRefusals.updateValue(active.id, forKey: name) != active.id else { return }
            logger.error("version refused before is active again; the previous one keeps serving", metadata: [
                "model.name": "\(name)", "model.version": "\(active.label)",
                "model.serving_version": "\(snapshot.versions[name]?.version.label.description ?? "none")",
                "error": "\(reason)",
            ])
            return
        }
        let started = ContinuousClock.now
        switch try load(active, from: registry) {
        case .success(let loaded):
            models.install(loaded)
            state.announcedRefusals[name] = nil
            metrics.reloaded(model: name, version: active.label.description)
            logger.info("serving new version", metadata: [
                "model.name": "\(name)", "model.version": "\(active.label)",
                "model.previous_version": "\(snapshot.versions[name]?.version.label.description ?? "none")",
                "model.load_time": "\(ContinuousClock.now - started)",
                "model.golden_max_error": "\(loaded.goldenMaxError.map { "\($0)" } ?? "no golden rows")",
            ])
        case .failure(let error):
            // Not a damaged page's: a registry restored from a good copy may read it again.
            if !(error is RegistryError) { state.failedVersions[active.id] = "\(error)" }
            models.recordFailure(model: name, version: active.label, reason: "\(error)")
            // A damaged version is read again at each poll another model's error has retried:
            // counted and logged once, not four times a second.
            guard state.announcedRefusals.updateValue(active.id, forKey: name) != active.id else { return }
            metrics.reloadFailed(model: name)
            logger.error("new version refused; the previous one keeps serving", metadata: [
                "model.name": "\(name)", "model.version": "\(active.label)",
                "model.serving_version": "\(snapshot.versions[name]?.version.label.description ?? "none")",
                "error": "\(error)",
            ])
        }
    }

    /// A refusal recorded for `name` is history: the version refused is not active any more.
    private func forgetRefusal(of name: String, state: PollState) {
        metrics.reloadFailing(model: name, false)
        state.announcedRefusals[name] = nil
    }

    /// `active` loaded and self-tested, or why it is refused: it does not load or self-test (its
    /// stored golden rows unreadable included), or its own stored pages are damaged (retried at
    /// every poll, it would hold up the poll and log at every one). Throws the registry's other
    /// errors (a lock, an I/O error): the next poll tries again.
    private func load(_ active: ModelVersion, from registry: Registry) throws -> Result<LoadedVersion, any Error> {
        let loadable: LoadableVersion
        do {
            loadable = try registry.loadable(active)
        } catch let error as RegistryError {
            guard case .damaged = error else { throw error }
            return .failure(error)
        }
        // A large model's load and self-test do not count as the registry not answering.
        models.recordLoading(true)
        defer { models.recordLoading(false) }
        return Result { try LoadedVersion(loadable) }
    }
}
