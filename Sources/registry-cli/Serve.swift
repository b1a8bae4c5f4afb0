import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import Registry
import ServiceLifecycle
import Serving

extension RegistryCLI {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the scoring service: POST /predict, GET /models, /metrics, /healthz, /readyz, /openapi.yaml and the status page (/).",
            discussion: """
                Serves each model's active version, switches to a newly promoted one within about a second \
                (no restart, no failed request), and records every prediction in the audit log before \
                answering. Stops gracefully on SIGTERM or SIGINT: in-flight requests finish and the audit \
                queue is drained; with --drain-seconds, SIGTERM first drains keep-alive connections. \
                Environment: REGISTRY_DB, HOST, PORT, LOG_LEVEL, LOG_FORMAT, AUDIT_MODE, AUDIT_DURABILITY, \
                AUDIT_RETENTION_DAYS, DESIRED_VERSIONS_FILE, DRAIN_SECONDS, IDLE_TIMEOUT_SECONDS (flags win over the \
                environment).
                """)

        @OptionGroup var options: GlobalOptions

        @Option(help: ArgumentHelp("Address to listen on (default: $HOST, else 127.0.0.1; 0.0.0.0 in a container).", valueName: "address"))
        var host: String?

        @Option(parsing: .unconditional, help: ArgumentHelp("Port to listen on; 0 picks a free one (default: $PORT, else 8080).", valueName: "port"))
        var port: Int?

        @Option(help: ArgumentHelp("Log format: text or json (JSON lines for log shippers; default: $LOG_FORMAT, else text).", valueName: "format"))
        var logFormat: String?

        @Option(help: ArgumentHelp("How often to check for a new active version, in milliseconds.", valueName: "ms"))
        var reloadInterval: Int = 250

        @Option(help: ArgumentHelp("sync: answer only after the record commits (default); async: answer first, record right after (default: $AUDIT_MODE).", valueName: "mode"))
        var auditMode: String?

        @Option(help: ArgumentHelp("process-crash (WAL synchronous=NORMAL, default) or power-loss (FULL: fsync every commit) (default: $AUDIT_DURABILITY).", valueName: "level"))
        var auditDurability: String?

        @Option(help: ArgumentHelp("Rows waiting for the audit writer before predictions are refused with 503.", valueName: "rows"))
        var auditQueueCapacity: Int = 20_000

        @Option(help: ArgumentHelp("WAL length, in pages, past which the audit writer finishes a checkpoint so that the WAL file starts over (bounds the WAL under sustained load).", valueName: "pages"))
        var auditWALRestartPages: Int = 4_096

        @Option(help: ArgumentHelp("Delete audit rows older than this many days, in the background (default: $AUDIT_RETENTION_DAYS, else keep all).", valueName: "days"))
        var auditRetentionDays: Int?

        @Option(help: ArgumentHelp("""
            A JSON file naming the version each model should serve ({"fraud": "v3"}, or \
            {"fraud": {"version": "v3", "sha256": DIGEST}} to pin its artifact too), checked every second; \
            a different version is promoted in this registry (GitOps, see docs/deploy.md) (default: $DESIRED_VERSIONS_FILE).
            """, valueName: "path"))
        var desiredVersionsFile: String?

        @Option(parsing: .unconditional, help: ArgumentHelp("""
            On SIGTERM, keep answering for this long, with Connection: close on every answer and /readyz at 503, \
            so that keep-alive clients leave before the listener closes (default: $DRAIN_SECONDS, else 0: stop at once).
            """, valueName: "seconds"))
        var drainSeconds: Double?

        @Option(parsing: .unconditional, help: ArgumentHelp("""
            Close a connection on which no complete request part (headers, a piece of body) arrives for this long \
            (default: $IDLE_TIMEOUT_SECONDS, else 75: longer than a load balancer's usual 60-s keep-alive).
            """, valueName: "seconds"))
        var idleTimeout: Double?

        @Option(help: ArgumentHelp("Largest request body accepted, in bytes.", valueName: "bytes"))
        var maxBodyBytes: Int = 1 << 20

        @Option(help: ArgumentHelp("Largest number of instances in one batch request.", valueName: "count"))
        var maxBatchSize: Int = 1_000

        func run() async throws {
            // Swift concurrency's jobs (the router's routes, the background services) run on NIO's
            // event loops instead of a separate pool, so no request changes thread; predictions are
            // answered on the loop itself (`PredictChannelHandler`). The service's blocking work
            // (SQLite, model loads) runs on its own threads for that reason.
            NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
            let environment = ProcessInfo.processInfo.environment
            let format = logFormat ?? environment["LOG_FORMAT"] ?? "text"
            guard format == "text" || format == "json" else {
                throw ServeError.invalidValue("--log-format", expected: "text or json", given: "'\(format)'")
            }
            // A service logs its start, reloads and drain: info unless told otherwise.
            let levelName = options.logLevel ?? environment["LOG_LEVEL"] ?? "info"
            guard let level = Logger.Level(rawValue: levelName) else {
                // Only the environment's can be wrong here: the global options checked the flag's.
                throw ServeError.notParsable("LOG_LEVEL", text: levelName, kind: "a level")
            }
            LogSetup.bootstrapOnce(level: level, json: format == "json")
            let logger = Logger(label: "sentinel.serve")

            var configuration = ServiceConfiguration(databasePath: options.databasePath)
            configuration.host = host ?? environment["HOST"] ?? "127.0.0.1"
            let port = try port ?? Self.integer(environment, "PORT") ?? 8080
            guard (0...65_535).contains(port) else { throw ServeError.invalidValue("port", expected: "0-65535", given: "\(port)") }
            // Refused here, before the audit writer starts, rather than by bind(2) after it.
            let address: SocketAddress
            do {
                address = try SocketAddress.makeAddressResolvingHost(configuration.host, port: port)
            } catch {
                throw ServeError.cannotListen(address: "'\(configuration.host)'", reason: "not an IP address or a host name that resolves")
            }
            // A port in use, tried too: found by the server's own bind, it came after the first
            // model's load and the audit writer's stop had logged their lines.
            if port != 0, let reason = Self.bindRefusal(address) {
                throw ServeError.cannotListen(address: "\(configuration.host):\(port)", reason: reason)
            }
            configuration.port = port
            configuration.busyTimeoutMilliseconds = options.busyTimeout
            guard reloadInterval >= 10 else {
                throw ServeError.invalidValue("--reload-interval", expected: "at least 10 ms", given: "\(reloadInterval)")
            }
            configuration.reloadIntervalMilliseconds = reloadInterval
            let mode = auditMode ?? environment["AUDIT_MODE"] ?? "sync"
            guard let auditModeValue = AuditSettings.Mode(rawValue: mode) else {
                throw ServeError.invalidValue("audit mode", expected: "sync or async", given: "'\(mode)'")
            }
            configuration.audit.mode = auditModeValue
            switch auditDurability ?? environment["AUDIT_DURABILITY"] ?? "process-crash" {
            case "process-crash": configuration.audit.durability = .processCrash
            case "power-loss": configuration.audit.durability = .powerLoss
            case let other: throw ServeError.invalidValue("audit durability", expected: "process-crash or power-loss", given: "'\(other)'")
            }
            guard auditQueueCapacity >= 1 else {
                throw ServeError.invalidValue("--audit-queue-capacity", expected: "at least 1", given: "\(auditQueueCapacity)")
            }
            configuration.audit.queueCapacity = auditQueueCapacity
            guard auditWALRestartPages >= 1 else {
                throw ServeError.invalidValue("--audit-wal-restart-pages", expected: "at least 1", given: "\(auditWALRestartPages)")
            }
            configuration.audit.walRestartFrames = auditWALRestartPages
            if let days = try auditRetentionDays ?? Self.integer(environment, "AUDIT_RETENTION_DAYS") {
                guard days >= 1 else { throw ServeError.invalidValue("audit retention", expected: "at least 1 day", given: "\(days)") }
                configuration.audit.retentionDays = days
            }
            // The upper bound keeps the read budget (the body plus headers) from overflowing, and a
            // body NIO can hold in one buffer.
            guard (1_024...Self.maxBodyBytesLimit).contains(maxBodyBytes) else {
                throw ServeError.invalidValue("--max-body-bytes", expected: "1024 to \(Self.maxBodyBytesLimit)", given: "\(maxBodyBytes)")
            }
            guard maxBatchSize >= 1 else {
                throw ServeError.invalidValue("--max-batch-size", expected: "at least 1", given: "\(maxBatchSize)")
            }
            configuration.maxBodyBytes = maxBodyBytes
            configuration.maxBatchSize = maxBatchSize
            // A batch is queued whole or refused: one larger than the queue would get "try again"
            // (503) forever, even from an idle service.
            guard auditQueueCapacity >= maxBatchSize else {
                throw ServeError.queueSmallerThanBatch(queueCapacity: auditQueueCapacity, maxBatchSize: maxBatchSize)
            }
            if let file = desiredVersionsFile ?? environment["DESIRED_VERSIONS_FILE"], !file.isEmpty {
                configuration.desiredVersionsFile = file
            }
            if let seconds = try Self.seconds(drainSeconds, environment, "DRAIN_SECONDS", in: 0...300, "the drain") {
                configuration.drainSeconds = seconds
            }
            if let seconds = try Self.seconds(idleTimeout, environment, "IDLE_TIMEOUT_SECONDS", in: 0.1...86_400, "the idle timeout") {
                configuration.idleTimeoutSeconds = seconds
            }

            let host = configuration.host
            let drain = ShutdownDrain()
            let app = try buildApplication(configuration: configuration, logger: logger, drain: drain) { port in
                logger.info("listening", metadata: ["http.host": "\(host)", "http.port": "\(port)"])
                // A line on stdout for scripts and tests that start the service on port 0.
                FileHandle.standardOutput.write(Data("listening on http://\(host):\(port)\n".utf8))
            }
            // With a drain, SIGTERM goes to it, and the group stops gracefully when it is over;
            // SIGINT (an operator's Ctrl-C) stops at once either way.
            let draining = configuration.drainSeconds > 0
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: app)]
            if draining {
                services.append(.init(service: DrainOnTerminate(drain: drain, seconds: configuration.drainSeconds, logger: logger),
                                      successTerminationBehavior: .gracefullyShutdownGroup))
            }
            let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: draining ? [.sigint] : [.sigterm, .sigint],
                                                          logger: logger))
            do {
                try await group.run()
            } catch let error as IOError where error.description.hasPrefix("bind(") {
                // bind(2)'s failures (port in use, an address this machine does not have), in one line.
                throw ServeError.cannotListen(address: "\(host):\(port)", reason: String(cString: strerror(error.errnoCode)))
            }
        }

        /// Why bind(2) refuses `address` now (with SO_REUSEADDR, as the server binds), or nil. A
        /// socket that takes the port between this and the server's bind is still refused there.
        static func bindRefusal(_ address: SocketAddress) -> String? {
            #if canImport(Glibc)
            let stream = Int32(SOCK_STREAM.rawValue)
            #else
            let stream = SOCK_STREAM
            #endif
            let descriptor = socket(address.protocol.rawValue, stream, 0)
            guard descriptor >= 0 else { return nil }
            defer { close(descriptor) }
            var on: Int32 = 1
            _ = setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
            // bind(2)'s errno, taken at once.
            let code: Int32? = address.withSockAddr { bind(descriptor, $0, socklen_t($1)) == 0 ? nil : errno }
            return code.map { String(cString: strerror($0)) }
        }

        /// A duration in seconds from its flag, else its environment variable, refused outside `range`.
        static func seconds(_ flag: Double?, _ environment: [String: String], _ name: String,
                            in range: ClosedRange<Double>, _ what: String) throws -> Double? {
            guard let seconds = try flag ?? number(environment, name) else { return nil }
            guard seconds.isFinite, range.contains(seconds) else {
                let bound = { (value: Double) in value.rounded() == value ? "\(Int(value))" : "\(value)" }
                throw ServeError.invalidValue(what, expected: "\(bound(range.lowerBound)) to \(bound(range.upperBound)) seconds", given: "\(seconds)")
            }
            return seconds
        }

        /// An environment variable that must hold a whole number when it is set at all.
        static func integer(_ environment: [String: String], _ name: String) throws -> Int? {
            try parsed(environment, name, as: "a whole number")
        }

        /// An environment variable that must hold a number when it is set at all.
        static func number(_ environment: [String: String], _ name: String) throws -> Double? {
            try parsed(environment, name, as: "a number")
        }

        static let maxBodyBytesLimit = 1 << 30

        private static func parsed<Value: LosslessStringConvertible>(_ environment: [String: String], _ name: String,
                                                                      as kind: String) throws -> Value? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            guard let value = Value(text) else { throw ServeError.notParsable(name, text: text, kind: kind) }
            return value
        }
    }
}

/// Why `serve` does not start, each naming the setting at fault (its flag or environment variable,
/// or what it sets when either gives it) or the address.
enum ServeError: Error, CustomStringConvertible {
    /// A setting's value outside what it accepts.
    case invalidValue(_ setting: String, expected: String, given: String)
    /// A flag or environment variable whose text is not the kind of value it holds.
    case notParsable(_ setting: String, text: String, kind: String)
    /// A batch is queued whole, so a queue smaller than the largest batch would refuse it forever.
    case queueSmallerThanBatch(queueCapacity: Int, maxBatchSize: Int)
    /// The address cannot be listened on.
    case cannotListen(address: String, reason: String)

    var description: String {
        switch self {
        case .invalidValue(let setting, let expected, let given): "\(setting) must be \(expected), not \(given)"
        case .notParsable(let setting, let text, let kind): "\(setting) '\(text)' is not \(kind)"
        case .queueSmallerThanBatch(let capacity, let batch):
            "--audit-queue-capacity (\(capacity)) must be at least --max-batch-size (\(batch))"
        case .cannotListen(let address, let reason): "cannot listen on \(address): \(reason)"
        }
    }
}
