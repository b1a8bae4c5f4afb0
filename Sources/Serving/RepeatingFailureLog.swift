import Logging

/// Logs a failure that repeats (every audit commit while the disk is full, every refusal while the
/// queue is full) on its first occurrence, then at most once per `interval` with how many happened
/// since, and once more when it stops: the log says what is wrong without flooding a log shipper.
/// Not thread-safe: each user keeps its own, on its own thread or under its own lock.
struct RepeatingFailureLog {
    let message: String
    let level: Logger.Level
    var intervalNanoseconds: UInt64 = 10_000_000_000

    private var failuresSinceLine = 0
    private var failuresInStreak = 0
    private var lastLine: UInt64?

    init(_ message: String, level: Logger.Level) {
        self.message = message
        self.level = level
    }

    mutating func failed(_ detail: String, logger: Logger, now: UInt64, metadata: Logger.Metadata = [:]) {
        failuresInStreak += 1
        failuresSinceLine += 1
        if let lastLine, now - lastLine < intervalNanoseconds { return }
        var metadata = metadata
        metadata["error"] = "\(detail)"
        if failuresSinceLine > 1 { metadata["failures.since_last_line"] = "\(failuresSinceLine)" }
        logger.log(level: level, "\(message)", metadata: metadata)
        lastLine = now
        failuresSinceLine = 0
    }

    mutating func succeeded(logger: Logger) {
        guard failuresInStreak > 0 else { return }
        logger.info("\(message): no longer failing", metadata: ["failures": "\(failuresInStreak)"])
        failuresInStreak = 0
        failuresSinceLine = 0
        lastLine = nil
    }
}
