import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes
import NIOPosix
import Serving

/// The floor under Sentinel's request cost: the same HTTP stack (Hummingbird 2's pipeline on NIO's
/// event loops, run as `registry-cli serve` runs it) answering every `POST` with a constant reply
/// of Sentinel's size once its body has been read (and discarded), where Sentinel's
/// `PredictChannelHandler` answers `POST /predict`, without parsing, scoring, metrics or audit. bench/serve.sh drives it beside the service, so
/// the report shows what share of the bare stack's throughput scoring and auditing leave.
enum HTTPCeiling {
    static func run(arguments: [String]) async throws {
        guard arguments.count <= 1, let port = Int(arguments.first ?? "0") else { throw BenchError("usage: sentinel-bench http-ceiling [PORT]") }
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        let router = Router()
        router.get("/healthz") { _, _ in "ok" }
        let defaults = ServiceConfiguration(databasePath: "")
        let app = Application(
            router: router,
            // The service's own HTTP pipeline, idle timeout and body limit (ServiceConfiguration's defaults), so
            // its per-connection bookkeeping is in both.
            server: .sentinelHTTP1(idleTimeoutSeconds: defaults.idleTimeoutSeconds, maxBodyBytes: defaults.maxBodyBytes,
                                   predictions: { ConstantAnswer() }),
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "http-ceiling"),
            onServerRunning: { channel in
                FileHandle.standardOutput.write(Data("listening on http://127.0.0.1:\(channel.localAddress?.port ?? port)\n".utf8))
            })
        try await app.runService()
    }
}

/// Answers every `POST` with Sentinel's usual answer and the header fields Sentinel's answers carry
/// (Content-Type, Content-Length, Date and Server, appended in the same way), once its body has
/// been read; passes everything else to the router.
private final class ConstantAnswer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    private static let reply = ByteBuffer(string: """
        {"request_id":"00000000-0000-4000-8000-000000000000","model":"fraud","version":"v1","threshold":0.06,\
        "score":0.012345678901234567,"decision":"legit","latency_us":25}
        """)
    private var answering = false
    private var date = HTTPDateHeader()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            answering = head.method == .post
        case .body:
            break
        case .end:
            guard answering else { break }
            var fields = HTTPFields()
            fields.reserveCapacity(4)
            fields.append(HTTPField(name: .contentType, value: "application/json"))
            fields.append(HTTPField(name: .contentLength, value: String(Self.reply.readableBytes)))
            fields.append(HTTPField(name: .date, value: date.now()))
            fields.append(HTTPField(name: .server, value: "http-ceiling"))
            context.write(wrapOutboundOut(.head(HTTPResponse(status: .ok, headerFields: fields))), promise: nil)
            context.write(wrapOutboundOut(.body(Self.reply)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        if !answering { context.fireChannelRead(data) }
    }
}
