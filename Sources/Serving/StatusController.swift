import Hummingbird
import Logging
import NIOPosix
import Registry
import Synchronization

/// The status page's reads: one read-only registry connection, kept between requests, always used on
/// NIO's blocking pool. The event loops are also Swift concurrency's executor (see `registry-cli
/// serve`), so SQLite must never run on them.
final class StatusReader: Sendable {
    let path: String
    let busyTimeoutMilliseconds: Int32
    let logger: Logger
    private let connection = Mutex<Registry?>(nil)
    private let gate = SingleFlight<StatusReport>()

    init(path: String, busyTimeoutMilliseconds: Int32, logger: Logger) {
        self.path = path
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        self.logger = logger
    }

    /// The report for the last hour, with this process's serving state and counters as of now.
    ///
    /// One report is made at a time, and requests that arrive meanwhile share it: the blocking pool
    /// has as many threads as cores, and the reloader polls on it too (its answers keep /readyz
    /// green), so a burst of page loads must not take every thread.
    func report(models: ActiveModels, metrics: ServingMetrics) async throws -> StatusReport {
        try await gate.run { try await self.read(models: models, metrics: metrics) }
    }

    private func read(models: ActiveModels, metrics: ServingMetrics) async throws -> StatusReport {
        try await NIOThreadPool.singleton.runIfActive {
            // The exposition reads /proc: blocking too, so it is taken here rather than on the loop.
            let live = LiveCounters(exposition: metrics.exposition())
            return try self.connection.withLock { registry in
                do {
                    if registry == nil {
                        registry = try Registry.open(path: self.path, access: .read, busyTimeoutMilliseconds: self.busyTimeoutMilliseconds, logger: self.logger)
                    }
                    return try StatusReport.read(from: registry!, window: .lastHour(), serving: models.snapshot(),
                                                 reloads: models.status(), live: live)
                } catch {
                    // A broken connection is not kept: the next request opens a fresh one.
                    registry = nil
                    throw error
                }
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
