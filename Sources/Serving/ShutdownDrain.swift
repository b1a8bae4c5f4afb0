import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Whether the service has been told to stop and is draining: every answer then carries
/// `Connection: close` and `/readyz` answers 503, while requests are still served.
///
/// Why: a graceful shutdown closes each idle keep-alive connection at once, and a client that sent
/// its next request on one just then gets a reset or a broken pipe instead of an answer (all 16 of
/// 16 keep-alive clients lost one request that way in a SIGTERM under load here). During the
/// drain the clients are told to close their connections after the answer they are reading, so
/// that by the time the listener closes, none is left to race with.
public final class ShutdownDrain: Sendable {
    private let started = Atomic<Bool>(false)

    public init() {}

    public var isDraining: Bool { started.load(ordering: .relaxed) }

    func begin() { started.store(true, ordering: .relaxed) }
}

/// On SIGTERM, drains for `seconds` (see `ShutdownDrain`) and then returns, which the service group
/// takes as the signal for its graceful shutdown. Ends at once, without draining, when the group
/// shuts down for another reason (SIGINT, a failed service).
public struct DrainOnTerminate: Service {
    let drain: ShutdownDrain
    let seconds: Double
    let logger: Logger

    public init(drain: ShutdownDrain, seconds: Double, logger: Logger) {
        self.drain = drain
        self.seconds = seconds
        self.logger = logger
    }

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigterm)
        await cancelWhenGracefulShutdown {
            var received = signals.makeAsyncIterator()
            guard await received.next() != nil else { return }  // nil: the group stopped first
            drain.begin()
            logger.info("SIGTERM: draining connections before stopping", metadata: ["drain.seconds": "\(seconds)"])
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        }
    }
}
