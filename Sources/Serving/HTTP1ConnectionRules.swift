import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// The rules of HTTP/1.1 about a connection's life and `Expect: 100-continue` that Hummingbird
/// leaves out. It sits below Hummingbird's HTTP-types codec, where the request's HTTP version is
/// still known:
///
/// - A request that asks for the connection to close (HTTP/1.0 without keep-alive, or `close`
///   among its `Connection` tokens, in any case) reaches Hummingbird (or `PredictChannelHandler`)
///   with exactly `Connection: close`, the one spelling both check before they close; its answer
///   says so. Otherwise the connection stayed open until the idle timeout.
/// - An answer that says `Connection: close` on its own (the shutdown drain's) is the
///   connection's last: once it is written, the sending side is shut (RFC 9112 §9.6), so a client
///   that reads to the end of the stream is not left waiting.
/// - `Expect: 100-continue` gets its interim 100 at once, or, behind requests not answered yet,
///   once the answer ahead of it is written: a 100 before those answers would be taken for theirs.
///   A client that waits for it would otherwise send the body only after its own timeout (curl:
///   1 s), and that wait would count as the request's latency in the answer, the histograms and its
///   audit row. A request whose declared body is over `maxBodyBytes` gets no 100: nothing reads
///   such a body (`PredictChannelHandler` refuses it on its head with a 413, and no route of the
///   router reads a body at all), and a 100 would have the client send it only to have it dropped.
///   As the client may then send its body or not, the connection ends with the final answer,
///   whatever it is (RFC 9110 §10.1.1): the request passes on as one that asked to close.
/// - An HTTP/1.1 request without `Host`, or any request with more than one, gets a 400 (RFC 9112
///   §3.2: a server MUST). Hummingbird's codec takes the first `Host` as the request's authority
///   and lets a request without one pass, so the service used to answer both. The request goes no
///   further: it is refused as a request the parser rejects is (`HostHeaderFault` reaches
///   `MalformedRequestAnswer` and Hummingbird as a parser error), after the answers to the requests
///   ahead of it, and nothing read after it is passed on, as the connection ends with its answer.
final class HTTP1ConnectionRules: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// For each request read and not answered yet, in order: whether it asked to close, and whether
    /// it is owed its 100 (Continue), held back behind the answers ahead of it.
    private var unanswered = CircularBuffer<(closeAsked: Bool, continueOwed: Bool)>()
    /// The answer being written said `Connection: close` when its request had not asked for it.
    private var shutOutputAfterThisAnswer = false
    /// The answer being written is the connection's last: nothing behind it is answered, so no 100.
    private var lastAnswerBeingWritten = false
    /// A request was refused for its `Host` header: what follows it on the connection is dropped.
    private var refusedHost = false
    /// The largest request body the service reads (`ServiceConfiguration.maxBodyBytes`).
    private let maxBodyBytes: Int

    init(maxBodyBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refusedHost else { return }
        guard case .head(var head) = unwrapInboundIn(data) else { return context.fireChannelRead(data) }
        // One pass over every request's headers, for both rules that read them.
        var hosts = 0
        var expectsContinue = false
        var declaredLength: String?
        for (name, value) in head.headers {
            if Self.isNamed(name, "host") {
                hosts += 1
            } else if Self.isNamed(name, "expect"), value.lowercased() == "100-continue" {
                expectsContinue = true
            } else if Self.isNamed(name, "content-length") {
                declaredLength = value
            }
        }
        if let fault = HostHeaderFault(hosts: hosts, version: head.version) {
            refusedHost = true
            // Its answer, the refusal, says `Connection: close` on its own: the sending side is shut
            // after it, as after the drain's.
            unanswered.append((closeAsked: false, continueOwed: false))
            return context.fireErrorCaught(fault)
        }
        // HTTP/1.0 clients do not know the interim answer (RFC 9110 §10.1.1).
        var continues = expectsContinue && (head.version.major, head.version.minor) >= (1, 1)
        // Read only then: the usual request does not pay for it.
        let refusedUnsent = continues && declaredLength.flatMap(ContentLength.bytes).map { $0 > maxBodyBytes } == true
        if refusedUnsent { continues = false }
        let close = !head.isKeepAlive || refusedUnsent
        if continues && unanswered.isEmpty { sendContinue(context: context) }
        unanswered.append((closeAsked: close, continueOwed: continues && !unanswered.isEmpty))
        // The usual request passes as it came; only one asking to close is rewritten.
        guard close else { return context.fireChannelRead(data) }
        head.headers.replaceOrAdd(name: "connection", value: "close")
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    private func sendContinue(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .continue))), promise: nil)
    }

    /// A header name compared with a lower-case one, in any case, without making a string.
    private static func isNamed(_ name: String, _ lowercased: String) -> Bool {
        name.utf8.elementsEqual(lowercased.utf8) { $0 | 0x20 == $1 }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The parser goes on with the bytes behind a refused request; its findings there would take
        // the place of the refusal's words in the connection's last answer.
        if refusedHost, error is HTTPParserError { return }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where head.status.code >= 200:
            let asked = unanswered.popFirst()?.closeAsked ?? false
            // Hummingbird (or `PredictChannelHandler`) shuts the connection after an answer to a
            // request that asked for it.
            shutOutputAfterThisAnswer = !asked && !head.isKeepAlive
            lastAnswerBeingWritten = asked || !head.isKeepAlive
            guard asked else { return context.write(data, promise: promise) }
            head.headers.replaceOrAdd(name: "connection", value: "close")
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end where shutOutputAfterThisAnswer:
            shutOutputAfterThisAnswer = false
            let written = context.eventLoop.makePromise(of: Void.self)
            if let promise { written.futureResult.cascade(to: promise) }
            context.write(data, promise: written)
            // Only the sending side: closing both would reset the connection if the client had sent
            // more, and a reset can discard this answer before the client reads it.
            let channel = context.channel
            written.futureResult.whenComplete { _ in channel.close(mode: .output, promise: nil) }
        case .end:
            context.write(data, promise: promise)
            // The next request's turn: its 100, if it was held back and will be answered.
            if !lastAnswerBeingWritten, unanswered.first?.continueOwed == true {
                unanswered[unanswered.startIndex].continueOwed = false
                sendContinue(context: context)
            }
        default:
            context.write(data, promise: promise)
        }
    }
}

/// What is wrong with a request's `Host` header fields, if anything (RFC 9112 §3.2).
struct HostHeaderFault: Error, CustomStringConvertible {
    /// How many `Host` fields the request has: none (HTTP/1.1) or more than one.
    let count: Int

    /// `hosts`: how many `Host` fields a request of `version` has.
    init?(hosts: Int, version: HTTPVersion) {
        // HTTP/1.0 predates `Host`: one is optional there, two are not.
        guard hosts > 1 || (hosts == 0 && (version.major, version.minor) >= (1, 1)) else { return nil }
        count = hosts
    }

    var description: String {
        count == 0
            ? "an HTTP/1.1 request must have a Host header"
            : "the request has \(count) Host headers; HTTP allows one"
    }
}

/// Hummingbird's HTTP/1.1 channel with two handlers placed where its configuration cannot reach:
/// `HTTP1ConnectionRules` below its HTTP-types codec, and the predictions' handler behind its
/// connection-state handler (the last before the router's requests are handed to a task).
struct SentinelHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = HTTP1Channel.Value

    let base: HTTP1Channel
    let maxBodyBytes: Int
    let predictions: @Sendable () -> any RemovableChannelHandler
    var responder: HTTPChannelHandler.Responder { base.responder }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            try pipeline.addHandler(HTTP1ConnectionRules(maxBodyBytes: maxBodyBytes),
                                    position: .before(pipeline.handler(type: HTTP1ToHTTPServerCodec.self)))
            try pipeline.addHandler(predictions(), position: .after(pipeline.handler(type: HTTPConnectionStateHandler.self)))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
