import Hummingbird
import Logging
import Registry

/// The status page's reads, on their own registry connection.
final class StatusReader: Sendable {
    let connection: RegistryConnection
    private let gate = SingleFlight<StatusReport>()

    init(connection: RegistryConnection) {
        self.connection = connection
    }

    /// The report for the last hour, with this process's serving state and counters as of now.
    ///
    /// One report is made at a time, and requests that arrive meanwhile share it: the blocking pool
    /// has as many threads as cores, and the reloader polls on it too (its answers keep /readyz
    /// green), so a burst of page loads must not take every thread.
    func report(models: ActiveModels, metrics: ServingMetrics) async throws -> StatusReport {
        try await gate.run {
            try await self.connection.onBlockingPool { registry in
                // The exposition reads /proc: blocking too, so it is taken here rather than on the loop.
                try StatusReport.read(from: registry, window: .lastHour(), serving: models.snapshot(), reloads: models.status(),
                                      live: LiveCounters(exposition: metrics.exposition()))
            }
        }
    }
}

/// Runs one piece of work at a time; callers that arrive while it runs get its result (or error)
/// instead of starting another.
actor SingleFlight<Value: Sendable> {
    private var running: Task<Value, Error>?

    func run(_ work: @escaping @Sendable () async throws -> Value) async throws -> Value {
        if let running { return try await running.value }
        let task = Task { try await work() }
        running = task
        defer { running = nil }
        return try await task.value
    }
}

/// `GET /`: the status page, for people (`/models` and `/metrics` are the machine-readable forms).
struct StatusController: Sendable {
    let reader: StatusReader
    let models: ActiveModels
    let metrics: ServingMetrics

    /// The page fetches nothing and runs no script; the policy says so to the browser, which then
    /// refuses (and reports) anything else.
    static let contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    func page(_ request: Request, context: some RequestContext) async throws -> Response {
        let started = ContinuousClock.now
        do {
            let report = try await reader.report(models: models, metrics: metrics)
            return Self.html(.ok, StatusPage(report: report, started: started).render())
        } catch {
            context.logger.error("status page: the registry cannot be read", metadata: ["error": "\(error)"])
            return Self.html(.serviceUnavailable, StatusPage.unavailable(reason: "\(error)"))
        }
    }

    static func html(_ status: HTTPResponse.Status, _ text: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
