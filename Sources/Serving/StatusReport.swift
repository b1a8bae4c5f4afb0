import Registry

/// Everything the status page shows, gathered at one moment: the registry's models, versions and
/// promotion history, the audit log's last hour, and what this process serves and has counted.
public struct StatusReport: Sendable {
    /// One model as the registry and this process see it.
    public struct ModelStatus: Sendable {
        public let name: String
        /// Oldest first.
        public let versions: [ModelVersion]
        /// The version this process scores with: it lags a promotion by up to a reload, and stays
        /// on the old version when the new one fails to load.
        public let serving: ModelVersion?
        public let reload: ActiveModels.ReloadStatus?

        /// The registry's active (production) version.
        public var active: ModelVersion? { versions.first(where: \.isActive) }
    }

    /// Stored-form time.
    public let generatedAt: String
    public let models: [ModelStatus]
    /// Every model's promotions and rollbacks, oldest first.
    public let history: [Promotion]
    public let audit: AuditSummary
    public let live: LiveCounters
    /// How long the registry reads took (the audit summary most of it).
    public let readDuration: Duration

    /// Reads the registry's part from `registry` and joins this process's part to it. Blocks on
    /// SQLite: call it off the event loops.
    public static func read(from registry: Registry, window: AuditWindow, serving: ActiveModels.Snapshot,
                            reloads: [String: ActiveModels.ReloadStatus], live: LiveCounters) throws -> StatusReport {
        let started = ContinuousClock.now
        let generatedAt = Timestamp.now()
        let versions = try registry.versions()
        let history = try registry.history(model: nil)
        let audit = try registry.auditSummary(window: window)
        let readDuration = ContinuousClock.now - started
        let grouped = Dictionary(grouping: versions, by: \.model)
        let models = grouped.keys.sorted().map { name in
            ModelStatus(name: name, versions: grouped[name] ?? [], serving: serving.versions[name]?.version, reload: reloads[name])
        }
        return StatusReport(generatedAt: generatedAt, models: models, history: history, audit: audit, live: live, readDuration: readDuration)
    }
}
