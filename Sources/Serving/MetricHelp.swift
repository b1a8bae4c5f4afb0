/// The `# HELP` text of every metric family `/metrics` exposes, in one place. swift-metrics has no
/// field for it (the Prometheus factory registers every family with an empty help text), so the
/// exposition gets these lines added before each family's `# TYPE` line.
enum MetricHelp {
    static let text: [String: String] = [
        "sentinel_http_requests_total": "HTTP requests answered, by matched route pattern (NotFound: no route; malformed: not HTTP) and status.",
        "sentinel_http_request_duration_seconds": "Time the service spent answering a request, by route: for POST /predict from its headers being read to its answer (the audit commit included), for other routes from routing to the response.",
        "sentinel_predictions_total": "Transactions scored (batch rows counted one by one), by model, version and decision.",
        "sentinel_prediction_score": "Scores (probability of fraud) given, by model.",
        "sentinel_model_active_info": "1 for the version each model serves now, 0 for versions it served before.",
        "sentinel_model_reloads_total": "Loads of a newly active version, by model and result (success or failure).",
        "sentinel_model_reload_failing": "1 while the newest active version of a model failed to load or to reproduce its golden rows.",
        "sentinel_model_last_reload_timestamp_seconds": "Unix time of each model's last successful reload.",
        "sentinel_ready": "1 while /readyz answers 200: every model's active version has been loaded or refused (one at least loaded), the registry answered recently, the audit log takes records, and the server is not draining after SIGTERM.",
        "sentinel_audit_queue_depth": "Audit rows waiting for the writer.",
        "sentinel_audit_queue_capacity": "Audit rows that may wait before predictions are refused with 503.",
        "sentinel_audit_queue_bytes": "Bytes of request bodies the audit rows waiting for the writer hold.",
        "sentinel_audit_queue_capacity_bytes": "Bytes of request bodies that may wait before predictions are refused with 503 (2 KiB a row of the capacity).",
        "sentinel_audit_rows_written_total": "Audit rows committed to the registry.",
        "sentinel_audit_rows_refused_total": "Audit rows refused because the queue was full (their requests got 503).",
        "sentinel_audit_rows_failed_total": "Audit rows whose transaction failed (their requests got 503, or were lost in async mode).",
        "sentinel_audit_rows_pruned_total": "Audit rows deleted by the retention setting.",
        "sentinel_audit_async_responses_total": "Audit rows answered before they committed (audit mode async): a batch counts once per row.",
        "sentinel_audit_commit_rows": "Audit rows per group commit.",
        "sentinel_audit_commit_duration_seconds": "Time of one audit group commit.",
        "sentinel_audit_wal_restarts_total": "Catch-up checkpoints the audit writer ran so that the WAL file could start over.",
        "sentinel_audit_wal_frames": "Pages in the registry's WAL at the last background checkpoint; it grows without end while a reader's transaction holds checkpoints back.",
        "sentinel_desired_versions_in_sync": "1 while, for every model the desired-versions file names, that version is the active one in this replica's registry (promoted only once it loaded and passed its self-test).",
        "sentinel_desired_versions_applied_total": "Promotions made to match the desired-versions file, by model.",
        "sentinel_registry_volume_available_bytes": "Bytes the service can still write on the filesystem holding its registry.",
        "sentinel_registry_volume_size_bytes": "Size of the filesystem holding the registry.",
        "process_cpu_seconds_total": "User and system CPU time of the process, in seconds.",
        "process_virtual_memory_bytes": "Virtual memory size of the process.",
        "process_resident_memory_bytes": "Resident memory size of the process.",
        "process_open_fds": "Open file descriptors of the process.",
        "process_start_time_seconds": "Unix time the process started.",
    ]

    /// `exposition` with a `# HELP` line before each `# TYPE` line whose family has a text here.
    static func annotate(_ exposition: [UInt8]) -> [UInt8] {
        let typePrefix = Array("# TYPE ".utf8)
        var result: [UInt8] = []
        result.reserveCapacity(exposition.count + 4_096)
        var lineStart = 0
        while lineStart < exposition.count {
            let lineEnd = exposition[lineStart...].firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? exposition.count
            let line = exposition[lineStart..<lineEnd]
            if line.starts(with: typePrefix) {
                let nameStart = lineStart + typePrefix.count
                let nameEnd = exposition[nameStart..<lineEnd].firstIndex(of: UInt8(ascii: " ")) ?? lineEnd
                if let help = text[String(decoding: exposition[nameStart..<nameEnd], as: UTF8.self)] {
                    result.append(contentsOf: "# HELP ".utf8)
                    result.append(contentsOf: exposition[nameStart..<nameEnd])
                    result.append(UInt8(ascii: " "))
                    result.append(contentsOf: help.utf8)
                    result.append(UInt8(ascii: "\n"))
                }
            }
            result.append(contentsOf: line)
            lineStart = lineEnd
        }
        return result
    }
}
