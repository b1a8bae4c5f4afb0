import Foundation
import Hummingbird
import NIOCore
import NIOPosix
import Serving

/// The floor under Sentinel's request cost: the same HTTP stack (Hummingbird 2 on NIO's event
/// loops, run as `registry-cli serve` runs it) answering `POST /predict` with a constant reply of
/// Sentinel's size after collecting the body, without parsing, scoring, metrics or audit.
/// bench/serve.sh drives it beside the service, so the report shows what share of the bare
/// stack's throughput scoring and auditing leave.
enum HTTPCeiling {
    static func run(arguments: [String]) async throws {
        guard arguments.count <= 1, let port = Int(arguments.first ?? "0") else { throw BenchError("usage: sentinel-bench http-ceiling [PORT]") }
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        let reply = ByteBuffer(string: """
            {"request_id":"00000000-0000-4000-8000-000000000000","model":"fraud","version":"v1","threshold":0.06,\
            "score":0.012345678901234567,"decision":"legit","latency_us":25}
            """)
        let router = Router()
        router.post("/predict") { request, _ -> Response in
            _ = try await request.body.collect(upTo: 1 << 20)
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: reply))
        }
        router.get("/healthz") { _, _ in "ok" }
        let app = Application(
            router: router,
            // The service's own HTTP pipeline and idle timeout (ServiceConfiguration's default), so
            // its per-connection bookkeeping is in both.
            server: .sentinelHTTP1(idleTimeoutSeconds: ServiceConfiguration(databasePath: "").idleTimeoutSeconds),
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "http-ceiling"),
            onServerRunning: { channel in
                FileHandle.standardOutput.write(Data("listening on http://127.0.0.1:\(channel.localAddress?.port ?? port)\n".utf8))
            })
        try await app.runService()
    }
}
