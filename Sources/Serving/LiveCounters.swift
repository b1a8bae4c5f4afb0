/// What this process has counted since it started, for the status page: the same numbers `/metrics`
/// exposes, read back from that exposition when the page is asked for, so that scoring pays
/// nothing extra for the page.
public struct LiveCounters: Sendable, Equatable {
    /// Predictions one version made in this process.
    public struct VersionCount: Sendable, Equatable {
        public let model: String
        public let version: String
        public var predictions: Int
        public var flagged: Int
    }

    /// By model, then version.
    public private(set) var predictions: [VersionCount] = []
    /// HTTP responses by status class (`2xx`, `4xx`, `5xx`), every route.
    public private(set) var responsesByClass: [String: Int] = [:]
    public private(set) var auditQueueDepth = 0
    public private(set) var auditRowsWritten = 0
    public private(set) var auditRowsRefused = 0
    public private(set) var auditRowsFailed = 0
    public private(set) var residentBytes: Double?
    /// Unix seconds.
    public private(set) var processStartTime: Double?

    /// Nothing counted (a process that is not serving, such as the benchmark).
    public init() {}

    /// Reads the counters out of Prometheus text (`ServingMetrics.exposition()`). Lines it does not
    /// need, or cannot read, are skipped: the page shows what it found.
    public init(exposition: [UInt8]) {
        var byVersion: [String: VersionCount] = [:]
        for line in exposition.split(separator: UInt8(ascii: "\n")) where line.first != UInt8(ascii: "#") {
            guard let sample = Sample(line) else { continue }
            switch sample.name {
            case "sentinel_predictions_total":
                guard let model = sample.labels["model"], let version = sample.labels["version"] else { continue }
                let key = model + " " + version
                var count = byVersion[key] ?? VersionCount(model: model, version: version, predictions: 0, flagged: 0)
                count.predictions += Int(sample.value)
                if sample.labels["decision"] == "fraud" { count.flagged += Int(sample.value) }
                byVersion[key] = count
            case "sentinel_http_requests_total":
                guard let status = sample.labels["status"], let first = status.first else { continue }
                responsesByClass["\(first)xx", default: 0] += Int(sample.value)
            case "sentinel_audit_queue_depth": auditQueueDepth = Int(sample.value)
            case "sentinel_audit_rows_written_total": auditRowsWritten = Int(sample.value)
            case "sentinel_audit_rows_refused_total": auditRowsRefused = Int(sample.value)
            case "sentinel_audit_rows_failed_total": auditRowsFailed = Int(sample.value)
            case "process_resident_memory_bytes": residentBytes = sample.value
            case "process_start_time_seconds": processStartTime = sample.value
            default: continue
            }
        }
        predictions = byVersion.values.sorted {
            ($0.model, $0.version.count, $0.version) < ($1.model, $1.version.count, $1.version)
        }
    }

    /// One line of the exposition: `name{label="value",...} 12`. Label values here are model names,
    /// versions, routes and statuses, none holding a quote or comma, so a plain split reads them.
    private struct Sample {
        let name: String
        let labels: [String: String]
        let value: Double

        init?(_ line: ArraySlice<UInt8>) {
            let text = String(decoding: line, as: UTF8.self)
            guard let space = text.lastIndex(of: " "), let value = Double(text[text.index(after: space)...]), value.isFinite else { return nil }
            let series = text[..<space]
            guard let open = series.firstIndex(of: "{") else {
                name = String(series)
                labels = [:]
                self.value = value
                return
            }
            name = String(series[..<open])
            var labels: [String: String] = [:]
            for pair in series[series.index(after: open)...].dropLast().split(separator: ",") {
                guard let equals = pair.firstIndex(of: "=") else { continue }
                labels[String(pair[..<equals])] = String(pair[pair.index(after: equals)...].strippingQuotes())
            }
            self.labels = labels
            self.value = value
        }
    }
}

private extension Substring {
    /// The label value between its quotes.
    func strippingQuotes() -> Substring {
        var text = self
        if text.first == "\"" { text = text.dropFirst() }
        if text.last == "\"" { text = text.dropLast() }
        return text
    }
}
