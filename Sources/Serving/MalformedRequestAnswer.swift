import Foundation
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Gives a request that is not valid HTTP/1.1 the API's JSON refusal instead of an empty 400.
///
/// When NIO's parser rejects a request line or its headers, Hummingbird answers by itself, with a
/// 400 that has no body and `Connection: close`, and offers no hook for it. This handler sits
/// between the HTTP codec and Hummingbird: it notes the parser's error as it passes on its way up,
/// then fills in the body of that one answer on its way down. A request `HTTP1ConnectionRules`
/// refuses for its `Host` fields (`HostHeaderFault`) takes the same way, as a parser error.
///
/// The error can pass before the answers to requests that came ahead of it on the connection
/// (pipelined) are written, so the answer filled in is told by its place: Hummingbird writes the
/// parser's 400 when every request read so far has been answered, so it is an answer with no
/// request head behind it. An error in the middle of a body reaches the handler reading it
/// (`PredictChannelHandler`), which answers that request as usual; if it had answered without
/// reading the body (a 415), or the router had (a GET), Hummingbird's 400 would be a second answer
/// to one request, which a pipelining client would take for the next one's: it is dropped (the
/// connection is shut after it all the same).
final class MalformedRequestAnswer: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let refused: @Sendable (Int) -> Void
    /// The refusal for the parser's error (or `HTTP1ConnectionRules`' Host fault) that passed up,
    /// and whether it counts: one for a request cut off by its client closing the connection is
    /// received by nobody.
    private var refusal: (answer: APIError, counted: Bool)?
    private var pendingBody: ByteBuffer?
    /// Request heads read less answer heads written on this connection: the parser's 400 is written
    /// with none outstanding.
    private var unanswered = 0
    /// The last request's head was read and its end not yet.
    private var readingBody = false
    /// Dropping the parts of a second answer to an answered request.
    private var dropping = false

    /// `refused` hears of each refusal, with its status (the service counts them in /metrics).
    init(refused: @escaping @Sendable (Int) -> Void) {
        self.refused = refused
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: unanswered += 1; readingBody = true
        case .end: readingBody = false
        case .body: break
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? HTTPParserError {
            refusal = (APIError(parserError: error), counted: error != .invalidEOFState)
        } else if let fault = error as? HostHeaderFault {
            refusal = (APIError(.malformedHTTP, fault.description), counted: true)
            // Hummingbird answers a parser error, and only that, with its 400 and the connection's
            // end; this handler fills that answer in as for any other. Which parser error is fired
            // does not matter (the answer's words are the fault's); this one is in the headers.
            return context.fireErrorCaught(HTTPParserError.invalidHeaderToken)
        }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let part = unwrapOutboundIn(data)
        if dropping {
            // Hummingbird shuts the connection after this answer, as after any parser error.
            if case .end = part { dropping = false }
            promise?.succeed()
            return
        }
        guard case .head(var head) = part else {
            if case .end = part, let body = pendingBody {
                context.write(wrapOutboundOut(.body(body)), promise: nil)
                pendingBody = nil
            }
            return context.write(data, promise: promise)
        }
        let noRequestBehind = unanswered == 0
        if head.status.kind != .informational { unanswered -= 1 }
        // Every answer but the parser's passes as it came.
        guard case let (refusal, counted)? = refusal, noRequestBehind, head.status == .badRequest else {
            return context.write(data, promise: promise)
        }
        self.refusal = nil
        if readingBody {
            // The request whose body broke was answered already.
            dropping = true
            promise?.succeed()
            return
        }
        let body = ByteBuffer(string: refusal.body)
        head.status = refusal.status
        head.headerFields[.contentType] = "application/json"
        head.headerFields[.contentLength] = String(body.readableBytes)
        // Hummingbird's own 400 has neither (kept if a later one adds them); every other answer of
        // the service has both, and RFC 9110 §6.6.1 asks an origin server with a clock for a Date.
        if head.headerFields[.date] == nil { head.headerFields[.date] = HTTPDateHeader.format(time(nil)) }
        if head.headerFields[.server] == nil { head.headerFields[.server] = ServiceConfiguration.serverName }
        pendingBody = body
        guard counted else { return context.write(wrapOutboundOut(.head(head)), promise: promise) }
        // Counted once written: behind an answer that ended the connection, it never leaves.
        let written = context.eventLoop.makePromise(of: Void.self)
        let refused = self.refused, status = refusal.status.code
        written.futureResult.whenSuccess { refused(status) }
        if let promise { written.futureResult.cascade(to: promise) }
        context.write(wrapOutboundOut(.head(head)), promise: written)
    }
}
