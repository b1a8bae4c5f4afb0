import NIOPosix
import ServiceLifecycle

/// Runs `poll` every `interval` until graceful shutdown, each time on NIO's blocking thread pool.
///
/// The background services poll SQLite (and load models): work that blocks, and the event loops
/// that serve requests are also Swift concurrency's executor (see `registry-cli serve`), so it
/// must never run there. Polls do not overlap: each is awaited before the next sleep.
func runBlockingPoll(every interval: Duration, _ poll: @escaping @Sendable () -> Void) async {
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
        try? await NIOThreadPool.singleton.runIfActive(poll)
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
    }
}
