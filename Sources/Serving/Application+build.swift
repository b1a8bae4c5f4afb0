import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ModelRuntime
import Registry
import ServiceLifecycle

/// Builds the scoring service exactly as `registry-cli serve` runs it, so tests run the same app.
///
/// Fails at once (before listening) when the registry cannot be opened for reading and writing:
/// the audit writer opens its connection here, and refuses a missing, foreign, too-new or
/// read-only registry with the registry's own error.
/// `onServerRunning` receives the bound port (useful with port 0).
public func buildApplication(
    configuration: ServiceConfiguration,
    logger: Logger,
    drain: ShutdownDrain = ShutdownDrain(),
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let metrics = ServingMetrics(registryPath: configuration.databasePath)
    let models = ActiveModels(awaitingDesiredVersions: configuration.desiredVersionsFile != nil)
    let audit = try AuditWriter(databasePath: configuration.databasePath, settings: configuration.audit, metrics: metrics,
                                logger: logger, busyTimeoutMilliseconds: configuration.busyTimeoutMilliseconds)
    var pinned = configuration
    pinned.registryFile = audit.registryFile
    let configuration = pinned
    let reloader = ModelReloader(configuration: configuration, models: models, metrics: metrics, logger: logger)
    let desired = configuration.desiredVersionsFile.map {
        DesiredVersionsApplier(path: $0, configuration: configuration, models: models, metrics: metrics, logger: logger)
    }


    let predict = PredictController(models: models, audit: audit, metrics: metrics, configuration: configuration)
    let catalogue = ModelsController(connection: RegistryConnection(configuration, access: .read, logger: logger), models: models)
    let health = HealthController(models: models, audit: audit, drain: drain, freshnessSeconds: max(2, Double(configuration.reloadIntervalMilliseconds) / 1000 * 8))
    let status = StatusController(
        reader: StatusReader(connection: RegistryConnection(configuration, access: .read, logger: logger)),
        models: models, metrics: metrics)
    let routes = RouteTable([
        // Answered before the router, by `PredictChannelHandler`: listed for 405's `Allow`.
        .init(method: .post, path: "/predict", handler: nil),
        .init(method: .get, path: "/models", handler: catalogue.list),
        .init(method: .get, path: "/models/{name}", handler: catalogue.one),
        .init(method: .get, path: "/healthz", handler: health.alive),
        .init(method: .get, path: "/readyz", handler: health.ready),
        .init(method: .get, path: "/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            // Readiness as a series too, so alerts see what the probe sees (it changes only at scrape time).
            metrics.ready(health.isReady)
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
        },
        .init(method: .get, path: "/", handler: status.page),
        .init(method: .get, path: "/openapi.yaml") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "application/yaml"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.bytes)))
        },
    ])
    let router = Router(context: BasicRequestContext.self, options: .autoGenerateHeadEndpoints)
    router.add(middleware: ServiceMiddleware(metrics: metrics, routes: routes, drain: drain))
    routes.register(on: router)

    // Services stop in reverse order: the server finishes its requests first, then the reloader
    // (and the desired-versions applier), and the audit writer last, draining every record it accepted.
    return Application(
        router: router,
        server: .sentinelHTTP1(idleTimeoutSeconds: configuration.idleTimeoutSeconds, maxBodyBytes: configuration.maxBodyBytes,
                               refused: { metrics.malformed(status: $0) },
                               predictions: { PredictChannelHandler(controller: predict, drain: drain) }),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: ServiceConfiguration.serverName),
        services: [audit, reloader] + (desired.map { [$0] } ?? []),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger
    )
}

extension HTTPServerBuilder {
    /// HTTP/1.1 as the service runs it: the idle timeout, HTTP/1.1's connection rules
    /// (`HTTP1ConnectionRules`, which invites no body over `maxBodyBytes` with a 100), JSON refusals
    /// for requests that are not HTTP, each reported to `refused` with its status, and
    /// `predictions`, a handler made for each connection that
    /// answers `POST /predict` before the router (`PredictChannelHandler`). The benchmark's bare
    /// stack uses it too, with a handler answering a constant, so that both carry the same pipeline.
    public static func sentinelHTTP1(idleTimeoutSeconds: Double, maxBodyBytes: Int,
                                     refused: @escaping @Sendable (Int) -> Void = { _ in },
                                     predictions: @escaping @Sendable () -> any RemovableChannelHandler) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            SentinelHTTP1Channel(base: HTTP1Channel(responder: responder, configuration: .init(
                additionalChannelHandlers: [MalformedRequestAnswer(refused: refused)],
                idleTimeout: .nanoseconds(Int64(idleTimeoutSeconds * 1e9))
            )), maxBodyBytes: maxBodyBytes, predictions: predictions)
        }
    }
}

/// The OpenAPI 3 description of this API (Sources/Serving/openapi.yaml), carried in the binary.
public enum OpenAPIDocument {
    public static let bytes: [UInt8] = PackageResources.openapi_yaml
}

/// `GET /healthz` (the process answers) and `GET /readyz` (a version is loaded, the registry
/// answered recently, the audit log takes records, and the service is not draining to stop: a
/// replica that answers every prediction with 503 should get no traffic).
struct HealthController: Sendable {
    let models: ActiveModels
    let audit: AuditWriter
    let drain: ShutdownDrain
    let freshnessSeconds: Double

    func alive(_ request: Request, context: some RequestContext) async throws -> Response {
        Self.json(.ok, "{\"status\":\"ok\"}")
    }

    var isReady: Bool { notReadyReason() == nil }

    /// Why this replica should get no traffic now, or nil: /readyz's answer and the ready gauge.
    func notReadyReason() -> String? {
        if drain.isDraining { return "the service is shutting down (draining its connections)" }
        guard models.isReady(freshness: freshnessSeconds) else {
            let snapshot = models.snapshot()
            if !snapshot.settled { return "the active versions are still loading (\(snapshot.versions.count) loaded so far)" }
            return snapshot.versions.isEmpty ? "no model version is loaded yet" : "the registry has not answered in \(Int(freshnessSeconds)) s"
        }
        if let refusal = audit.refusal() { return "the audit log's last commit failed and none has succeeded since: \(refusal)" }
        return nil
    }

    func ready(_ request: Request, context: some RequestContext) async throws -> Response {
        if let reason = notReadyReason() {
            return Self.json(.serviceUnavailable, "{\"error\":\"not_ready\",\"detail\":\(JSONText.quoted(reason))}")
        }
        let serving = models.snapshot().versions
        let list = serving.keys.sorted().map { "\(JSONText.quoted($0)):\"\(serving[$0]!.version.label)\"" }.joined(separator: ",")
        return Self.json(.ok, "{\"status\":\"ready\",\"serving\":{\(list)}}")
    }

    static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
