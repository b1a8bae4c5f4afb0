import Foundation
import Metrics
import Prometheus
import Registry
import Synchronization

/// The service's metrics, made once and kept, in a Prometheus registry of this service's own (so
/// that several services in one test process do not share counters).
public final class ServingMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let startedAt = Date()
    /// The file whose filesystem's free space `/metrics` reports (nil: not reported).
    private let registryPath: String?

    let auditQueueDepth: Metrics.Gauge
    let auditQueueBytes: Metrics.Gauge
    let auditRowsWritten: Metrics.Counter
    let auditRowsRefused: Metrics.Counter
    let auditRowsFailed: Metrics.Counter
    let auditRowsPruned: Metrics.Counter
    let auditAsyncResponses: Metrics.Counter
    let auditCommitRows: Metrics.Recorder
    let auditCommitDuration: Metrics.Timer
    /// Catch-up checkpoints the writer ran so that the WAL could start over.
    let auditWALRestarts: Metrics.Counter
    let auditWALFrames: Metrics.Gauge

    private struct RequestKey: Hashable { let route: String; let status: Int }
    private struct PredictionKey: Hashable { let model: String; let version: String; let decision: String }
    private let requestCounters = Mutex<[RequestKey: Metrics.Counter]>([:])
    private let requestTimers = Mutex<[String: Metrics.Timer]>([:])
    private let predictionCounters = Mutex<[PredictionKey: Metrics.Counter]>([:])
    private let scoreRecorders = Mutex<[String: Metrics.Recorder]>([:])
    private let activeVersions = Mutex<[String: String]>([:])

    static let latencyBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2_500),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1),
    ]

    /// The statuses `/predict` answers with, made at 0 at start-up: a series that appears with its
    /// first increment is invisible to `rate()`, so the first burst of errors would not count.
    /// (500 no longer comes from `/predict`, whose errors are all the API's; its series stays, at 0,
    /// for the alerts and dashboards that name it.)
    static let predictStatuses = [200, 400, 404, 413, 415, 422, 500, 503]

    public init(registryPath: String? = nil) {
        self.registryPath = registryPath
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = [
            "sentinel_http_request_duration_seconds": Self.latencyBuckets,
            "sentinel_audit_commit_duration_seconds": Self.latencyBuckets,
        ]
        factory.valueHistogramBuckets = [
            "sentinel_prediction_score": [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1],
            "sentinel_audit_commit_rows": [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000],
        ]
        self.registry = registry
        self.factory = factory
        auditQueueDepth = Metrics.Gauge(label: "sentinel_audit_queue_depth", factory: factory)
        auditQueueBytes = Metrics.Gauge(label: "sentinel_audit_queue_bytes", factory: factory)
        auditRowsWritten = Metrics.Counter(label: "sentinel_audit_rows_written_total", factory: factory)
        auditRowsRefused = Metrics.Counter(label: "sentinel_audit_rows_refused_total", factory: factory)
        auditRowsFailed = Metrics.Counter(label: "sentinel_audit_rows_failed_total", factory: factory)
        auditRowsPruned = Metrics.Counter(label: "sentinel_audit_rows_pruned_total", factory: factory)
        auditAsyncResponses = Metrics.Counter(label: "sentinel_audit_async_responses_total", factory: factory)
        auditCommitRows = Metrics.Recorder(label: "sentinel_audit_commit_rows", factory: factory)
        auditCommitDuration = Metrics.Timer(label: "sentinel_audit_commit_duration_seconds", factory: factory)
        auditWALRestarts = Metrics.Counter(label: "sentinel_audit_wal_restarts_total", factory: factory)
        auditWALFrames = Metrics.Gauge(label: "sentinel_audit_wal_frames", factory: factory)
        auditQueueDepth.record(0)
        auditQueueBytes.record(0)
        for counter in [auditRowsWritten, auditRowsRefused, auditRowsFailed, auditRowsPruned, auditAsyncResponses, auditWALRestarts] {
            counter.increment(by: 0)
        }
        for status in Self.predictStatuses {
            requestCounter(route: "/predict", status: status).increment(by: 0)
        }
        ready(false)
    }

    /// 1 while `/readyz` answers 200: a version is loaded and the registry answers.
    func ready(_ isReady: Bool) {
        Metrics.Gauge(label: "sentinel_ready", factory: factory).record(isReady ? 1 : 0)
    }

    /// The audit queue's bounds, in rows and in bytes of the requests' bodies it holds, beside its
    /// depth in both: whichever is met first refuses predictions, so alerts speak in shares of each.
    func auditQueue(capacity: Int, capacityBytes: Int) {
        Metrics.Gauge(label: "sentinel_audit_queue_capacity", factory: factory).record(capacity)
        Metrics.Gauge(label: "sentinel_audit_queue_capacity_bytes", factory: factory).record(capacityBytes)
    }

    /// What the audit queue holds now, in rows and in bytes.
    func auditQueue(depth rows: Int, bytes: Int) {
        auditQueueDepth.record(rows)
        auditQueueBytes.record(bytes)
    }

    /// The metric kept for `key`, made on first use: label values are few, so each is made once.
    private func kept<Key: Hashable & Sendable, Metric: Sendable>(_ cache: borrowing Mutex<[Key: Metric]>, _ key: Key, make: () -> Metric) -> Metric {
        cache.withLock { metrics in
            if let metric = metrics[key] { return metric }
            let metric = make()
            metrics[key] = metric
            return metric
        }
    }

    private func requestCounter(route: String, status: Int) -> Metrics.Counter {
        kept(requestCounters, RequestKey(route: route, status: status)) {
            Metrics.Counter(label: "sentinel_http_requests_total", dimensions: [("route", route), ("status", "\(status)")], factory: factory)
        }
    }

    private func predictionCounter(model: String, version: String, decision: String) -> Metrics.Counter {
        kept(predictionCounters, PredictionKey(model: model, version: version, decision: decision)) {
            Metrics.Counter(label: "sentinel_predictions_total",
                            dimensions: [("model", model), ("version", version), ("decision", decision)], factory: factory)
        }
    }

    func request(route: String, status: Int, duration: Duration) {
        requestCounter(route: route, status: status).increment()
        kept(requestTimers, route) {
            Metrics.Timer(label: "sentinel_http_request_duration_seconds", dimensions: [("route", route)], factory: factory)
        }.record(duration: duration)
    }

    /// Counts a request refused before it reached a route, because it was not HTTP.
    func malformed(status: Int) {
        requestCounter(route: "malformed", status: status).increment()
    }

    /// Counts one request's predictions by decision and records their scores: each counter and the
    /// recorder looked up once per request, not once per row of a batch.
    func predictions(_ drafts: [AuditDraft], model: String, version: String) {
        let flagged = drafts.count { $0.decision == .fraud }
        for (decision, count) in [(Decision.fraud, flagged), (.legit, drafts.count - flagged)] where count > 0 {
            predictionCounter(model: model, version: version, decision: decision.rawValue).increment(by: Int64(count))
        }
        let scores = kept(scoreRecorders, model) {
            Metrics.Recorder(label: "sentinel_prediction_score", dimensions: [("model", model)], factory: factory)
        }
        for draft in drafts { scores.record(draft.score) }
    }

    /// Marks `version` as the one serving `model` (an info-style gauge: 1 for the active version, 0
    /// for the one it replaced), and counts the reload.
    func reloaded(model: String, version: String) {
        let previous = activeVersions.withLock { versions -> String? in
            defer { versions[model] = version }
            return versions[model]
        }
        if let previous, previous != version {
            Metrics.Gauge(label: "sentinel_model_active_info", dimensions: [("model", model), ("version", previous)], factory: factory).record(0)
        }
        Metrics.Gauge(label: "sentinel_model_active_info", dimensions: [("model", model), ("version", version)], factory: factory).record(1)
        Metrics.Counter(label: "sentinel_model_reloads_total", dimensions: [("model", model), ("result", "success")], factory: factory).increment()
        Metrics.Gauge(label: "sentinel_model_last_reload_timestamp_seconds", dimensions: [("model", model)], factory: factory)
            .record(Date().timeIntervalSince1970)
        // Make the failure series exist at 0, so that rate() and alerts see it before a first failure,
        // and both decisions of the new version, so that the first of each counts.
        Metrics.Counter(label: "sentinel_model_reloads_total", dimensions: [("model", model), ("result", "failure")], factory: factory).increment(by: 0)
        for decision in [Decision.fraud, .legit] {
            predictionCounter(model: model, version: version, decision: decision.rawValue).increment(by: 0)
        }
        reloadFailing(model: model, false)
    }

    /// 1 while the registry's active version of `model` is one this process refused (the previous
    /// version keeps serving): a state, unlike the failure counter, so an alert lasts as long as it.
    func reloadFailing(model: String, _ failing: Bool) {
        Metrics.Gauge(label: "sentinel_model_reload_failing", dimensions: [("model", model)], factory: factory).record(failing ? 1 : 0)
    }

    func reloadFailed(model: String) {
        Metrics.Counter(label: "sentinel_model_reloads_total", dimensions: [("model", model), ("result", "failure")], factory: factory).increment()
        reloadFailing(model: model, true)
    }

    /// 1 while this replica's registry holds the versions its desired-versions file names.
    func desiredVersions(inSync: Bool) {
        Metrics.Gauge(label: "sentinel_desired_versions_in_sync", factory: factory).record(inSync ? 1 : 0)
    }

    func desiredVersionApplied(model: String) {
        Metrics.Counter(label: "sentinel_desired_versions_applied_total", dimensions: [("model", model)], factory: factory).increment()
    }

    func unloaded(model: String) {
        guard let previous = activeVersions.withLock({ $0.removeValue(forKey: model) }) else { return }
        Metrics.Gauge(label: "sentinel_model_active_info", dimensions: [("model", model), ("version", previous)], factory: factory).record(0)
    }

    /// The Prometheus text exposition, with this process's CPU, memory, file descriptors and start
    /// time, and the free space beside the registry.
    public func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        buffer.append(contentsOf: Array(ProcessMetrics.read(startedAt: startedAt).utf8))
        if let registryPath { buffer.append(contentsOf: Array(RegistryVolumeMetrics.read(registryPath: registryPath).utf8)) }
        return MetricHelp.annotate(buffer)
    }
}

/// Process metrics in the names Prometheus client libraries use, read from /proc at scrape time.
enum ProcessMetrics {
    static func read(startedAt: Date) -> String {
        var text = ""
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")") {
            // Fields after the command name: state is field 3, utime 14 and stime 15 (1-based).
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]), ticks > 0 {
                text += "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total \((user + system) / ticks)\n"
            }
        }
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
            let pages = statm.split(separator: " ").compactMap { Double($0) }
            let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
            if pages.count > 1 {
                text += "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes \(pages[0] * pageSize)\n"
                text += "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes \(pages[1] * pageSize)\n"
            }
        }
        if let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            text += "# TYPE process_open_fds gauge\nprocess_open_fds \(descriptors.count)\n"
        }
        text += "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds \(startedAt.timeIntervalSince1970)\n"
        return text
    }
}

/// The size and free space of the filesystem holding the registry, read at scrape time: the audit
/// log grows by about 0.92 KB a prediction, and a full volume fails every audit commit (503s in
/// sync mode), so alerts watch the trend (SentinelRegistryVolumeFillingUp).
enum RegistryVolumeMetrics {
    static func read(registryPath: String) -> String {
        let directory = URL(fileURLWithPath: registryPath).deletingLastPathComponent().path
        var stats = statvfs()
        guard statvfs(directory, &stats) == 0 else { return "" }
        let blockSize = Double(stats.f_frsize)
        return """
            # TYPE sentinel_registry_volume_available_bytes gauge
            sentinel_registry_volume_available_bytes \(Double(stats.f_bavail) * blockSize)
            # TYPE sentinel_registry_volume_size_bytes gauge
            sentinel_registry_volume_size_bytes \(Double(stats.f_blocks) * blockSize)

            """
    }
}
