import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Answers `POST /predict` where its request is read: on its connection's event loop, in the
/// channel pipeline, in front of Hummingbird's router. Every other request passes on to the router.
///
/// Why not a route: Hummingbird hands each request to a task through an async sequence and takes
/// the answer back through another. On two cores that hand-off cost more than parsing, scoring
/// and recording a prediction together: Hummingbird answering a constant did 17,000–22,000
/// requests/s where NIO's own HTTP/1 pipeline answering the same constant did 42,000–57,000
/// (bench/README.md). Predictions are the service's whole load, so they skip it; the rare routes
/// keep the router.
///
/// It sits behind Hummingbird's `HTTPConnectionStateHandler`, so the idle timeout and a graceful
/// shutdown see these requests too, and in front of `MalformedRequestAnswer` and
/// `HTTP1ConnectionRules` on the way out, so its answers get the same treatment as the router's.
/// Answers leave in the order their requests came (pipelining): a prediction behind a request the
/// router has not answered yet waits for that answer, and requests behind a prediction waiting for
/// its audit commit wait for it. Reading goes on while the requests held stay under `readBudget`
/// (so a request held half-sent is read to its end), and stops past it.
final class PredictChannelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum State {
        /// Between requests.
        case idle
        /// This request is the router's: its parts pass on. `closing`: it asked for the connection
        /// to close, so the router answers nothing after it.
        case passing(closing: Bool)
        /// A prediction's body is being read.
        case reading(Reading)
        /// A prediction answered before its body ended (refused): the rest of the body is dropped.
        case discarding
        /// A prediction scored, waiting for its rows' commit.
        case answering
        /// The connection's last answer is written: nothing more is read from it.
        case closed
    }

    private struct Reading {
        /// Uptime (ns) when its head was read.
        let started: UInt64
        /// The request asked for the connection to close (`HTTP1ConnectionRules` spells it so).
        let closing: Bool
        var body: ByteBuffer?
    }

    /// What arrived while answers were outstanding, in order.
    private enum Held {
        /// With the uptime (ns) a head arrived at (0 for other parts): a prediction's latency counts
        /// from its head's arrival, the wait behind the requests ahead of it included.
        case part(HTTPRequestPart, arrived: UInt64)
        case error(any Error)
        case event(Any)
    }

    private let controller: PredictController
    private let drain: ShutdownDrain
    private var state = State.idle
    private var held = CircularBuffer<Held>()
    /// Requests passed to the router whose answers have not ended yet.
    private var routerUnanswered = 0
    /// A read was asked for while requests were held, or answers waited unsent (see `read`).
    private var readDeferred = false
    /// Bytes of the held requests (see `weight(of:)`): reading stops past `readBudget`.
    private var heldBytes = 0
    /// The last answer's write, once the connection is to end after it.
    private var lastAnswer: EventLoopFuture<Void>?
    /// The connection's end is arranged (see `closeAfterLastAnswer`).
    private var closeScheduled = false
    /// An error is held: after the HTTP parser's first, every read is another, with its bytes.
    private var errorHeld = false
    /// A request was read behind the router's last answer, which is still to be written: the
    /// connection ends once it is.
    private var closeAfterRouterAnswer = false
    private var date = HTTPDateHeader()

    init(controller: PredictController, drain: ShutdownDrain) {
        self.controller = controller
        self.drain = drain
    }

    /// Requests are held while a prediction waits for its commit, or while a prediction waits for
    /// the router's answers ahead of it: then everything behind it waits too.
    private var holding: Bool {
        if case .answering = state { return true }
        return !held.isEmpty
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if holding { return hold(part) }
        take(part, context: context)
    }

    private func hold(_ part: HTTPRequestPart, arrived: UInt64? = nil) {
        heldBytes += Self.weight(of: part)
        let stamp: UInt64 = if let arrived { arrived } else if case .head = part { DispatchTime.now().uptimeNanoseconds } else { 0 }
        held.append(.part(part, arrived: stamp))
    }

    /// What a held part counts for against the read budget: about the bytes it holds. (A flat 512
    /// for a head let a client that stopped reading answers park 2,000 heads of 80 KB each, the
    /// most the HTTP parser takes, on one connection.)
    /// A body chunk or an end counts 64 bytes more, what holding it costs: a chunked body in 1-byte
    /// chunks otherwise held tens of times its count.
    private static func weight(of part: HTTPRequestPart) -> Int {
        switch part {
        case .head(let head): 512 + (head.path?.utf8.count ?? 0) + (head.authority?.utf8.count ?? 0) + weight(of: head.headerFields)
        case .body(let chunk): 64 + chunk.readableBytes
        case .end(let trailers): 64 + (trailers.map(weight(of:)) ?? 0)
        }
    }

    private static func weight(of fields: HTTPFields) -> Int {
        fields.reduce(0) { $0 + $1.name.rawName.utf8.count + $1.value.utf8.count + 4 }
    }

    /// `arrived`: when a held part arrived (nil: now).
    private func take(_ part: HTTPRequestPart, context: ChannelHandlerContext, arrived: UInt64? = nil) {
        switch (state, part) {
        case (.idle, .head(let head)) where Self.isPrediction(head):
            // Its answer would overtake the router's to the requests ahead of it.
            guard routerUnanswered == 0 else { return hold(part, arrived: arrived) }
            begin(head, context: context, arrived: arrived)
        case (.idle, .head(let head)):
            routerUnanswered += 1
            state = .passing(closing: Self.saysClose(head.headerFields))
            context.fireChannelRead(wrapInboundOut(part))
        case (.passing(let closing), _):
            // Behind a request that asked to close, Hummingbird reads no more (RFC 9112 §9.6), and
            // neither does this handler: a prediction there would get no answer, so no record.
            if case .end = part { state = closing ? .closed : .idle }
            context.fireChannelRead(wrapInboundOut(part))
        case (.idle, _):
            context.fireChannelRead(wrapInboundOut(part))
        case (.reading(var reading), .body(var chunk)):
            state = .idle  // set again below: `reading` stays uniquely referenced while its body grows
            if reading.body == nil {
                reading.body = chunk
            } else {
                reading.body!.writeBuffer(&chunk)
            }
            if reading.body!.readableBytes > controller.configuration.maxBodyBytes {
                return refuse(controller.bodyTooLarge, started: reading.started, closing: reading.closing, bodyEnded: false, context: context)
            }
            state = .reading(reading)
        case (.reading(let reading), .end):
            finish(reading, context: context)
        case (.reading, .head):
            // The codec never sends a head before the last request's end.
            state = .idle
            take(part, context: context)
        case (.discarding, .end):
            state = .idle
        case (.closed, .head):
            // Read behind the connection's last answer (the drain's, say): it will have none, and
            // Hummingbird's connection-state handler, which counted it, would keep the connection
            // (and a graceful shutdown) waiting for it. The connection ends once that answer is out.
            if routerUnanswered > 0 {
                closeAfterRouterAnswer = true
            } else {
                closeAfterLastAnswer(context: context)
            }
        case (.discarding, _), (.closed, _), (.answering, _):
            break
        }
    }

    private func begin(_ head: HTTPRequest, context: ChannelHandlerContext, arrived: UInt64?) {
        let started = arrived ?? DispatchTime.now().uptimeNanoseconds
        let closing = Self.saysClose(head.headerFields)
        if let refusal = controller.refusal(for: head) {
            return refuse(refusal, started: started, closing: closing, bodyEnded: false, context: context)
        }
        state = .reading(Reading(started: started, closing: closing, body: nil))
    }

    private func finish(_ reading: Reading, context: ChannelHandlerContext) {
        let scored: PredictController.Scored
        do {
            scored = try controller.score(reading.body ?? ByteBuffer(), started: reading.started)
        } catch {
            return refuse(error, started: reading.started, closing: reading.closing, bodyEnded: true, context: context)
        }
        guard controller.configuration.audit.mode == .sync else {
            if let refusal = controller.audit.submitWithoutWaiting(scored.drafts) {
                return refuse(PredictController.notRecorded(refusal), started: reading.started, closing: reading.closing,
                              bodyEnded: true, context: context)
            }
            return answered(scored, reading: reading, context: context)
        }
        // "No answer without a record": the answer waits for the commit.
        state = .answering
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        let refusal = controller.audit.submit(scored.drafts, on: context.eventLoop) { result in
            let (handler, context) = bound.value
            switch result {
            case .success:
                handler.answered(scored, reading: reading, context: context)
            case .failure(let error):
                handler.refuse(PredictController.notRecorded(error), started: reading.started, closing: reading.closing,
                               bodyEnded: true, context: context)
            }
            handler.releaseHeld(context: context)
        }
        if let refusal {
            state = .idle
            refuse(PredictController.notRecorded(refusal), started: reading.started, closing: reading.closing, bodyEnded: true, context: context)
        }
    }

    private func answered(_ scored: PredictController.Scored, reading: Reading, context: ChannelHandlerContext) {
        controller.recorded(scored)
        state = .idle
        send(.ok, body: scored.answer, retry: false, started: reading.started, closing: reading.closing, context: context)
    }

    /// Answers with the API's JSON refusal. A request refused before its body ended has the rest
    /// of its body dropped, as the router's requests do.
    private func refuse(_ error: APIError, started: UInt64, closing: Bool, bodyEnded: Bool, context: ChannelHandlerContext) {
        state = bodyEnded ? .idle : .discarding
        send(error.status, body: ByteBuffer(string: error.body), retry: error.asksToRetry, started: started, closing: closing, context: context)
    }

    /// Writes an answer, counts it as the router counts its own, and ends the connection after it
    /// when its request asked for that or the service is draining to stop.
    private func send(_ status: HTTPResponse.Status, body: ByteBuffer, retry: Bool, started: UInt64, closing: Bool,
                       context: ChannelHandlerContext) {
        // Appended, not assigned: each is new, and assigning searches the fields for its name.
        var fields = HTTPFields()
        fields.reserveCapacity(6)
        fields.append(HTTPField(name: .contentType, value: "application/json"))
        fields.append(HTTPField(name: .contentLength, value: String(body.readableBytes)))
        fields.append(HTTPField(name: .date, value: date.now()))
        fields.append(HTTPField(name: .server, value: ServiceConfiguration.serverName))
        if retry { fields.append(HTTPField(name: .retryAfter, value: "1")) }
        let draining = drain.isDraining
        // `HTTP1ConnectionRules` shuts the connection after an answer that says so on its own.
        if draining { fields.append(HTTPField(name: .connection, value: "close")) }
        context.write(wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        let written = (closing || draining) ? context.eventLoop.makePromise(of: Void.self) : nil
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        controller.metrics.request(route: "/predict", status: status.code,
                                   duration: .nanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started)))
        if let written {
            lastAnswer = written.futureResult
            state = .closed
            // What the router does after a request that asked to close: shut the sending side and
            // let the client close (closing both could reset the answer away).
            if closing { context.close(mode: .output, promise: nil) }
        }
    }

    private func releaseHeld(context: ChannelHandlerContext) {
        // The router's side of the pipeline hands on what it was given at a read's end.
        let released = !held.isEmpty
        defer { if released { context.fireChannelReadComplete() } }
        while let next = held.first {
            if case .answering = state { return }
            if case .part(.head(let head), _) = next, case .idle = state, Self.isPrediction(head), routerUnanswered > 0 { return }
            held.removeFirst()
            switch next {
            case .part(let part, let arrived):
                heldBytes -= Self.weight(of: part)
                take(part, context: context, arrived: arrived)
            case .error(let error):
                errorHeld = false
                caught(error, context: context)
            case .event(let event): triggered(event, context: context)
            }
        }
        resumeReading(context: context)
    }

    /// Reads once a read is wanted (asked for now, or held back before) and neither the held
    /// requests nor unsent answers hold it back.
    private func resumeReading(context: ChannelHandlerContext) {
        if readDeferred, heldBytes <= readBudget, context.channel.isWritable {
            readDeferred = false
            context.read()
        }
    }

    /// Reading goes on while the held requests are under this many bytes: a client pipelining
    /// without end is then held back by TCP, not by this handler's memory. Under it, a request
    /// held half-read is read to its end (unless its client is not reading its answers, below):
    /// Hummingbird's idle timer closes a connection whose request has stopped arriving, even with
    /// an earlier prediction waiting for its commit.
    /// (Stopping for any held request, or for a prediction alone waiting, would also take the
    /// socket out of epoll and put it back for every request.)
    private var readBudget: Int { controller.configuration.maxBodyBytes + 32 * 1_024 }

    /// Also held back while the connection's answers wait unsent past NIO's high-water mark: a
    /// client that pipelines requests and never reads its answers is then held back by TCP too.
    /// Without it, every request it sent was read and refused, and the answers (250 bytes for a
    /// 40-byte request) piled up in memory without end; the idle timer never fired, as requests
    /// kept arriving. (Hummingbird's own routes get this from NIOAsyncChannel, but predictions are
    /// answered before they reach it.)
    func read(context: ChannelHandlerContext) {
        readDeferred = true
        resumeReading(context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        context.fireChannelWritabilityChanged()
        resumeReading(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // The connection is gone (Hummingbird's connection-state handler does not pass
        // `channelInactive` on): requests held behind a prediction waiting for its commit will
        // get no answer, so they are neither scored nor recorded.
        state = .closed
        held.removeAll()
        heldBytes = 0
        errorHeld = false
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // Only the router's answers pass here (this handler's own start below it).
        let part = unwrapOutboundIn(data)
        guard routerUnanswered > 0 else {
            // Its answer to a request that broke HTTP was to no request passed on.
            context.write(data, promise: promise)
            if case .end = part, !held.isEmpty { releaseHeld(context: context) }
            return
        }
        switch part {
        case .head(let head):
            if Self.saysClose(head.headerFields) {
                // The drain's: `HTTP1ConnectionRules` ends the connection after it, so nothing read
                // behind it may be scored (recorded, never answered).
                switch state {
                case .idle: state = .closed
                case .passing: state = .passing(closing: true)
                default: break
                }
            }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            routerUnanswered -= 1
            guard routerUnanswered == 0, nothingAnsweredAfterRouter else {
                context.write(data, promise: promise)
                if routerUnanswered == 0, !held.isEmpty { releaseHeld(context: context) }
                return
            }
            // The connection's last answer (its request's body may still be arriving): once it is
            // written, the connection ends if anything was read behind it (held, or met in
            // `.closed`), which gets no answer.
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.cascade(to: promise)
            lastAnswer = written.futureResult
            context.write(data, promise: written)
            if closeAfterRouterAnswer || !held.isEmpty {
                closeAfterRouterAnswer = false
                held.removeAll()
                heldBytes = 0
                errorHeld = false
                closeAfterLastAnswer(context: context)
            }
        }
    }

    /// The router's request being read, or the last one read, ends the connection.
    private var nothingAnsweredAfterRouter: Bool {
        switch state {
        case .closed, .passing(closing: true): true
        default: false
        }
    }

    /// Ends the connection once its last answer is written (at once without one), or after the
    /// idle timeout if it never is: a client that reads nothing more keeps it unwritten, and the
    /// requests it sends behind it, which get no answer, kept Hummingbird's idle timer waiting.
    /// Arranged once, however many requests arrive behind the answer.
    private func closeAfterLastAnswer(context: ChannelHandlerContext) {
        guard !closeScheduled else { return }
        closeScheduled = true
        let channel = context.channel
        (lastAnswer ?? context.eventLoop.makeSucceededVoidFuture()).whenComplete { _ in channel.close(promise: nil) }
        let timeout = controller.configuration.idleTimeoutSeconds
        let backstop = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout * 1_000_000_000))) { channel.close(promise: nil) }
        // Not kept for the timeout by every connection that ends as asked (one request each, say).
        channel.closeFuture.whenComplete { _ in backstop.cancel() }
    }

    /// `Connection: close` exactly: how `HTTP1ConnectionRules` passes a request's wish to close on, and
    /// how the service's answers (the drain's) say it.
    private static func saysClose(_ fields: HTTPFields) -> Bool {
        fields.combined(.connection) == "close"
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if holding {
            // The first is answered in its turn and ends the connection; the parser's later ones,
            // one a read, each with the bytes read, would be held without end behind a commit.
            guard !errorHeld else { return }
            errorHeld = true
            return held.append(.error(error))
        }
        caught(error, context: context)
    }

    private func caught(_ error: any Error, context: ChannelHandlerContext) {
        if case .reading(let reading) = state, let parserError = error as? HTTPParserError {
            // The body's framing broke (a chunk size that is not hexadecimal, the connection ended
            // early): the client's doing. The router then closes the connection, as after any
            // parser error; its own 400 is dropped by `MalformedRequestAnswer` as a second answer.
            refuse(APIError(parserError: parserError), started: reading.started, closing: reading.closing, bodyEnded: false,
                   context: context)
            state = .closed
        }
        context.fireErrorCaught(error)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if holding { return held.append(.event(event)) }
        triggered(event, context: context)
    }

    private func triggered(_ event: Any, context: ChannelHandlerContext) {
        if case .reading(let reading) = state, let event = event as? ChannelEvent, event == .inputClosed {
            refuse(APIError(.invalidRequest, "the request body ended before it was complete"), started: reading.started,
                   closing: reading.closing, bodyEnded: false, context: context)
            state = .closed
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// `POST /predict` as the router matches it: empty segments (`//`, a trailing `/`) and the
    /// query do not count.
    static func isPrediction(_ head: HTTPRequest) -> Bool {
        guard head.method == .post, let path = head.path else { return false }
        if path == "/predict" { return true }
        return RouteTable.segments(path.prefix { $0 != "?" }) == ["predict"]
    }
}
