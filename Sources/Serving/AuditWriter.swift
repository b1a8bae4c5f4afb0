import Foundation
import Logging
import ModelRuntime
import NIOCore
import NIOPosix
import Registry
import ServiceLifecycle
import Synchronization

/// One scored row on its way to the audit log. Formatting (timestamp text, features JSON) happens
/// on the writer's thread, not on the request path.
public struct AuditDraft: Sendable {
    public var unixMilliseconds: Int64
    public var requestID: String
    public var rowIndex: Int
    public var versionID: Int64
    public var featureJSON: FeatureJSON
    /// What the writer copies the row's numbers from: the request body, shared rather than copied
    /// (see `PredictController.keptForAudit`).
    public var body: ByteBuffer
    public var spans: [ValueSpan]
    public var score: Double
    public var decision: Decision
    public var latencyMicroseconds: Int
}

/// Why a prediction could not be recorded (the request then gets a 503, never an unrecorded score).
public enum AuditError: Error, CustomStringConvertible, Sendable {
    case queueFull(capacity: Int)
    /// The requests waiting hold this many bytes of bodies (see `AuditWriter.bytesPerQueuedRow`).
    case queueBytesFull(bytes: Int)
    case writeFailed(String)
    case closed

    public var description: String {
        switch self {
        case .queueFull(let capacity): return "the audit log is \(capacity) rows behind; try again shortly"
        case .queueBytesFull(let bytes): return "the audit log is \((bytes + 1_023) / 1_024) KiB of requests behind; try again shortly"
        case .writeFailed(let reason): return "the audit log could not be written: \(reason)"
        case .closed: return "the service is shutting down"
        }
    }
}

/// What a request waiting for its rows' commit is told: success, or why they were not recorded.
typealias AuditCommitted = @Sendable (Result<Void, Error>) -> Void

/// The only writer of the audit table: requests hand their rows to a bounded queue, and one thread
/// commits whatever has gathered in a single transaction (group commit), then tells the requests
/// waiting on those rows, each on its connection's event loop.
///
/// The cadence is natural batching: while one transaction commits, the next requests queue up, so
/// the commit rate follows the load without a timer, and up to `maxRowsPerTransaction` rows share a
/// commit; below `smallBatchRows` the writer yields the CPU once first, so that loops with requests
/// to score add theirs. SQLite runs on a dedicated thread because a commit (and a WAL checkpoint's
/// fsync) blocks, and the event loops, which answer predictions and run Swift's tasks, are only as
/// many as cores.
public final class AuditWriter: Service, @unchecked Sendable {
    private struct Pending {
        let drafts: [AuditDraft]
        /// Told of the commit on its connection's event loop (sync mode); nil in async mode.
        let waiting: (committed: AuditCommitted, eventLoop: any EventLoop)?
        /// When it was queued (uptime, ns): its wait for the write lock counts from here.
        let queuedAt: UInt64
        /// The body its rows keep (shared by a batch's rows): what it holds in the queue.
        let bytes: Int
    }

    // Everything below `condition` is guarded by it.
    private let condition = MonotonicCondition()
    private var queue: [Pending] = []
    private var queuedRows = 0
    private var queuedBytes = 0
    /// Bytes of bodies the queue may hold (`bytesPerQueuedRow` a row of its capacity).
    private let queueByteLimit: Int
    private var closed = false
    private var started = false
    /// The writer has committed its last row.
    private var finished = false
    /// The checkpoint thread has run its last checkpoint: shutdown is complete.
    private var checkpointsStopped = false
    /// The checkpoint thread asks the writer to finish a checkpoint (see `checkpointLoop`).
    private var catchUpWanted = false
    private var finishWaiters: [CheckedContinuation<Void, Never>] = []
    /// The checkpoint thread's pause between rounds; the writer signals it once it has finished.
    /// A semaphore, whose timeout runs on the monotonic clock: an NSCondition's deadline is a
    /// wall-clock time, and a clock stepped back (NTP, a restored VM) stretched a 200 ms pause by the step,
    /// with no checkpoint, and the WAL growing at the commit rate, meanwhile.
    private let checkpointPause = DispatchSemaphore(value: 0)

    /// Used only by the writer thread once started.
    private let registry: Registry
    /// The writer's rows since `prediction_minutes` was last brought up to date, counted per minute
    /// as they are committed (writer thread only).
    private var minuteCounts: PendingAuditMinutes
    /// When the next fold is due (uptime, ns): at once at start and while a catch-up goes on, a
    /// second after a fold, a few seconds after a failed one (writer thread only).
    private var nextFold: UInt64 = 0
    /// Rows of the current catch-up read back so far, for its log line.
    private var minuteRowsReadBack = 0
    /// Rows pruned since the last log line about it, and when that line was: with a round a
    /// second, a line a round would flood the log.
    private var prunedUnlogged = 0
    private var lastPruneLog: UInt64 = 0
    /// Used only by the checkpoint thread: WAL checkpoints (and their fsyncs) happen there, beside
    /// the commits rather than inside them.
    private let checkpointer: Registry
    private let settings: AuditSettings
    /// `--busy-timeout`: the longest a queued row waits for another process's write lock.
    private let busyTimeoutMilliseconds: Int32
    private let metrics: ServingMetrics
    private let logger: Logger
    // One each per thread that fails repeatedly (see RepeatingFailureLog); the queue's under `condition`.
    private var commitFailures = RepeatingFailureLog("audit commit failed", level: .error)
    private var catchUpFailures = RepeatingFailureLog("WAL checkpoint failed", level: .warning)
    private var checkpointFailures = RepeatingFailureLog("WAL checkpoint failed", level: .warning)
    private var checkpointsHeldBack = RepeatingFailureLog("WAL checkpoints held back", level: .warning)
    /// Retried every 5 s (folds) or every round (pruning) while a lock lasts: a line each 10 s at most.
    private var foldFailures = RepeatingFailureLog("per-minute audit counts not brought up to date; trying again in 5 s", level: .warning)
    private var pruneFailures = RepeatingFailureLog("audit pruning failed", level: .error)
    /// Consecutive rounds that found the WAL past its restart length and could not copy all of it.
    private var heldBackRounds = 0
    private var queueFullRefusals = RepeatingFailureLog("audit queue full: predictions refused with 503", level: .warning)
    /// The last failed commit, when no commit has succeeded since: read by /readyz.
    private let lastFailedCommit = Mutex<(uptimeNanoseconds: UInt64, reason: String)?>(nil)
    /// The writer's own copy of whether `lastFailedCommit` is set, so a success costs no lock.
    private var lastCommitFailed = false
    /// How long after a failed commit /readyz answers 503, unless a commit succeeds first: long
    /// enough for a probe to see it, short enough that traffic returns to test the registry again.
    static let unreadyAfterFailureNanoseconds: UInt64 = 15_000_000_000

    /// The file the writer opened: the one its rows go to.
    public var registryFile: FileIdentity? { registry.openedFile }

    /// Opens the writer's own connection. Throws the registry's errors for a database it cannot write.
    public init(databasePath: String, settings: AuditSettings, metrics: ServingMetrics, logger: Logger, busyTimeoutMilliseconds: Int32) throws {
        registry = try Registry.open(path: databasePath, access: .write, busyTimeoutMilliseconds: busyTimeoutMilliseconds,
                                     durability: settings.durability, logger: logger)
        try registry.disableAutomaticCheckpoints()
        // Above what the WAL reaches between two restarts, so that the usual cycle never cuts it.
        let restartBytes = settings.walRestartFrames.multipliedReportingOverflow(by: 2 * 4_096)
        try registry.limitWALFile(bytes: restartBytes.overflow ? Int.max : max(256 << 20, restartBytes.partialValue))
        minuteCounts = try registry.pendingAuditMinutes()
        checkpointer = try Registry.open(path: databasePath, access: .write, busyTimeoutMilliseconds: busyTimeoutMilliseconds,
                                         durability: settings.durability, logger: logger)
        guard checkpointer.openedFile == registry.openedFile else { throw RegistryError.fileReplaced(path: databasePath) }
        self.settings = settings
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        self.metrics = metrics
        queueByteLimit = settings.queueCapacity * Self.bytesPerQueuedRow
        metrics.auditQueue(capacity: settings.queueCapacity, capacityBytes: queueByteLimit)
        self.logger = logger
    }

    /// Why the audit log is not taking records now (its last commit failed, less than
    /// `unreadyAfterFailureNanoseconds` ago, and none has succeeded since); nil when it is.
    public func refusal() -> String? {
        guard let failure = lastFailedCommit.withLock({ $0 }) else { return nil }
        guard DispatchTime.now().uptimeNanoseconds - failure.uptimeNanoseconds < Self.unreadyAfterFailureNanoseconds else { return nil }
        return failure.reason
    }

    /// Queues the rows of a request answered on `eventLoop` (`PredictChannelHandler`, sync mode):
    /// `committed` is called on that loop once they are committed, or with the reason they are not:
    /// one wake-up per loop per commit, and the answer is written where its connection lives.
    /// Returns the refusal (`.queueFull`, `.queueBytesFull`, `.closed`) when they are not even queued; `committed` is
    /// then not called.
    func submit(_ drafts: [AuditDraft], on eventLoop: any EventLoop, committed: @escaping AuditCommitted) -> AuditError? {
        enqueue(drafts, waiting: (committed, eventLoop))
    }

    /// Queues the rows of an async-mode request: nobody waits for their commit. Returns the refusal
    /// when they are not queued.
    func submitWithoutWaiting(_ drafts: [AuditDraft]) -> AuditError? {
        enqueue(drafts, waiting: nil)
    }

    private func enqueue(_ drafts: [AuditDraft], waiting: (committed: AuditCommitted, eventLoop: any EventLoop)?) -> AuditError? {
        let bytes = drafts.first?.body.readableBytes ?? 0
        condition.lock()
        defer { condition.unlock() }
        if closed { return .closed }
        let refusal: AuditError? = queuedRows + drafts.count > settings.queueCapacity ? .queueFull(capacity: settings.queueCapacity)
            : queuedBytes + bytes > queueByteLimit && !queue.isEmpty ? .queueBytesFull(bytes: queuedBytes) : nil
        if let refusal {
            metrics.auditRowsRefused.increment(by: Int64(drafts.count))
            queueFullRefusals.failed("\(queuedRows) rows (\(queuedBytes) bytes) waiting, capacity \(settings.queueCapacity) rows (\(queueByteLimit) bytes)",
                                     logger: logger, now: DispatchTime.now().uptimeNanoseconds)
            return refusal
        }
        queueFullRefusals.succeeded(logger: logger)
        queue.append(Pending(drafts: drafts, waiting: waiting,
                             queuedAt: DispatchTime.now().uptimeNanoseconds, bytes: bytes))
        queuedRows += drafts.count
        queuedBytes += bytes
        metrics.auditQueue(depth: queuedRows, bytes: queuedBytes)
        condition.signal()
        return nil
    }

    /// Starts the writer thread (idempotent). `run()` calls it; tests may call it directly.
    public func start() {
        condition.lock()
        defer { condition.unlock() }
        guard !started else { return }
        started = true
        Thread { [self] in
            Self.nameCurrentThread("audit-writer")
            self.writeLoop()
        }.start()
        Thread { [self] in
            Self.nameCurrentThread("audit-checkpoint")
            self.checkpointLoop()
        }.start()
    }

    /// Names the calling thread for `top -H`, `perf` and /proc (at most 15 bytes). Foundation's
    /// `Thread.name` does not reach the kernel on Linux (so the threads showed the name of the event
    /// loop that started them), and Glibc's module leaves out `pthread_setname_np`; the kernel takes
    /// the name written to the thread's own `comm`. Best effort: elsewhere it is just not named.
    private static func nameCurrentThread(_ name: String) {
        try? Data(name.utf8).write(to: URL(fileURLWithPath: "/proc/thread-self/comm"))
    }

    /// Checkpoints the WAL every 200 ms until the writer has finished, then once more, truncating,
    /// so that a stopped service leaves every record in the database file itself (a copy of
    /// registry.db alone then holds them all) and an empty WAL. Once another file is at the path,
    /// it empties the WAL into this one and stops (the WAL, found by name, is then the other's).
    ///
    /// SQLite starts the WAL file over only once a checkpoint has copied every frame in it, and a
    /// checkpoint running beside a busy writer never catches up: under sustained load the WAL grew
    /// without end (400 MB in 12 s at 6,000 predictions/s). So when a round leaves the WAL longer
    /// than `AuditSettings.walRestartFrames`, more rounds copy what the writer appended during the
    /// last, and then the writer itself checkpoints the few frames left between two of its commits
    /// (`catchUpCheckpoint`); its next transaction reuses the WAL from the start. Each round here
    /// leaves what it copied on disk (`Registry.checkpoint`), so the catch-up's fsyncs flush only
    /// what came after the last round. One more round was enough for single predictions (catch-ups
    /// under 3 ms), but batches append faster than one round copies: a first round copied 6,000-12,000
    /// frames in 72-125 ms while the writer appended 1,600-4,500, a second copied those in 20-75 ms,
    /// and the catch-up, during which no commit runs, still took 12-88 ms; after more rounds, 4-26 ms
    /// (bench/README.md).
    private func checkpointLoop() {
        var walHandedOver = false
        while !pausedUntilTheNextRound() {
            do {
                if (try? checkpointer.checkFileIsStillAtPath()) == nil {
                    // Another file is at the path, and the -wal there, shared by name, still holds
                    // this file's last frames: were the process to die, the next one would read
                    // them as the new file's pages. Copied into this file and emptied, once; after
                    // that the WAL is the new file's business.
                    if !walHandedOver {
                        let result = try checkpointer.checkpoint(truncate: true)
                        walHandedOver = !result.busy && result.walFrames == 0
                    }
                    continue
                }
                // This file is back at the path (renamed away and back): the WAL is its own again.
                walHandedOver = false
                var result = try checkpointer.checkpoint()
                // A round that could not run (-1 frames) says nothing of the WAL's length.
                if !result.busy { metrics.auditWALFrames.record(result.walFrames) }
                noteHeldBack(result)
                if result.walFrames >= settings.walRestartFrames {
                    // Each round copies what was appended during the one before, a shorter time:
                    // stop once that was little (or negative: SQLite started the WAL over between
                    // two rounds), or when a reader keeps frames from being copied.
                    var rounds = 1
                    var appended: Int
                    repeat {
                        let before = result.walFrames
                        result = try checkpointer.checkpoint()
                        appended = result.walFrames - before
                        rounds += 1
                    } while appended > Self.catchUpFrames && result.checkpointedFrames == result.walFrames
                        && rounds < Self.maxCheckpointRounds
                    condition.lock()
                    catchUpWanted = true
                    condition.unlock()
                }
                checkpointFailures.succeeded(logger: logger)
            } catch {
                checkpointFailures.failed("\(error)", logger: logger, now: DispatchTime.now().uptimeNanoseconds)
            }
        }
        do {
            if !walHandedOver {
                let result = try checkpointer.checkpoint(truncate: true)
                if result.busy || result.walFrames != 0 {
                    // Not an error of SQLite's: a reader's transaction outlasted the busy timeout.
                    logger.warning("final WAL checkpoint did not complete: a reader held the WAL; its last records are in the registry's -wal file, which the next open reads (copy both files, or checkpoint once the reader is gone)",
                                   metadata: ["audit.wal_frames": "\(result.walFrames)"])
                }
            }
        } catch {
            logger.warning("final WAL checkpoint failed", metadata: ["error": "\(error)"])
        }
        condition.lock()
        checkpointsStopped = true
        let waiters = finishWaiters
        finishWaiters.removeAll()
        condition.unlock()
        for waiter in waiters { waiter.resume() }
    }

    /// Waits out the 200 ms before the next round; returns true instead, at once or when woken, once
    /// the writer has finished. The writer's signal stays counted until it is taken, so it cannot
    /// fall between the read of `finished` and the wait.
    private func pausedUntilTheNextRound() -> Bool {
        if writerFinished() { return true }
        _ = checkpointPause.wait(timeout: .now() + .milliseconds(200))
        return writerFinished()
    }

    /// A reader's snapshot (an open `sqlite3` shell's transaction, a long export) stops every
    /// checkpoint at its start, without an error: the WAL then grows by each commit until the reader
    /// ends (14 GB an hour at 1,000 predictions/s) and the disk fills. Said once it lasts
    /// `heldBackRoundsBeforeWarning` rounds, then every 10 s, until a round copies everything again.
    private func noteHeldBack(_ result: Registry.CheckpointResult) {
        // A round that could not run says nothing either way.
        guard !result.busy else { return }
        guard result.walFrames >= settings.walRestartFrames, result.checkpointedFrames < result.walFrames else {
            heldBackRounds = 0
            checkpointsHeldBack.succeeded(logger: logger)
            return
        }
        heldBackRounds += 1
        guard heldBackRounds >= Self.heldBackRoundsBeforeWarning else { return }
        checkpointsHeldBack.failed("a reader's transaction keeps the WAL from starting over: \(result.walFrames) frames in it, \(result.checkpointedFrames) copied (an open sqlite3 shell? end its transaction)",
                                   logger: logger, now: DispatchTime.now().uptimeNanoseconds)
    }

    /// 5 s of 200-ms rounds: a report or an export that reads for longer is worth a line.
    static let heldBackRoundsBeforeWarning = 25

    /// The rounds stop once one found at most this many frames (4 MiB of 4-KiB pages) appended during
    /// the one before: below it the fsyncs every round pays, not the copying, set the catch-up's
    /// length (256 frames gave no shorter catch-ups under batches).
    static let catchUpFrames = 1_024
    /// On a disk whose fsync is slow against the writer's rate the rounds never get below
    /// `catchUpFrames`: this bounds the fsyncs a 200-ms cycle adds, and how long a stopping service's
    /// last checkpoint waits behind them.
    static let maxCheckpointRounds = 6

    private func writerFinished() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        return finished
    }

    /// On the writer's thread, between commits: copies what the background checkpoint left, so that
    /// the WAL can start over. Here, because no commit may run beside it; holding the writer from
    /// the checkpoint thread instead added a hand-over on a busy scheduler.
    private func catchUpCheckpoint() {
        do {
            // Only a checkpoint that copied every frame lets the next commit start the WAL over.
            if try registry.checkpoint().copiedEverything { metrics.auditWALRestarts.increment() }
            catchUpFailures.succeeded(logger: logger)
        } catch {
            catchUpFailures.failed("\(error)", logger: logger, now: DispatchTime.now().uptimeNanoseconds)
        }
    }

    /// Runs until graceful shutdown, then drains the queue: every row accepted before is committed
    /// before this returns.
    public func run() async throws {
        start()
        try? await gracefulShutdown()
        await drainAndStop()
    }

    /// Refuses new rows, commits the ones queued, and waits for the threads to finish (the last
    /// checkpoint included).
    public func drainAndStop() async {
        guard close() else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            waitForFinish(continuation)
        }
    }

    /// Marks the queue closed; returns whether a running thread still has to finish.
    private func close() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        closed = true
        condition.signal()
        return started && !checkpointsStopped
    }

    private func waitForFinish(_ continuation: CheckedContinuation<Void, Never>) {
        condition.lock()
        if checkpointsStopped {
            condition.unlock()
            continuation.resume()
        } else {
            finishWaiters.append(continuation)
            condition.unlock()
        }
    }

    /// The queue's bodies are bounded too, at this many bytes a row of its capacity (40 MiB at the
    /// default 20,000 rows): a row keeps its request's body until it is written, up to 8 times its
    /// numbers plus 4 KiB (`PredictController.keptForAudit`), so a queue of rows whose numbers are
    /// written with 100 characters each held ≈ 560 MB behind a writer kept from committing. The
    /// example rows' bodies are ≈ 700 bytes: the row count is met first. One request is always
    /// taken into an empty queue, whatever its size (`--max-body-bytes` bounds it).
    static let bytesPerQueuedRow = 2_048

    /// Below this many queued rows the writer lets other threads run once before committing.
    static let smallBatchRows = 16

    private func writeLoop() {
        var nextPrune: UInt64 = 0
        while true {
            condition.lock()
            while queue.isEmpty && !closed {
                // Wake when the next fold of the minute counts is due (which also counts rows other
                // processes appended while this one idles); retention pruning needs one a minute.
                let now = DispatchTime.now().uptimeNanoseconds
                condition.wait(nanoseconds: nextFold > now ? nextFold - now : 0)
                if queue.isEmpty && !closed { break }
            }
            if queuedRows < Self.smallBatchRows && !closed {
                // A few rows would pay a whole commit's fixed cost (locks, the WAL pages of every
                // B-tree's last leaf, page 1) between them: give the CPU once to whoever is ready
                // to run (an event loop with requests to score) and take what they queue too.
                // With nothing else ready, sched_yield returns at once and no core idles.
                condition.unlock()
                sched_yield()
                condition.lock()
            }
            if queue.isEmpty && closed {
                condition.unlock()
                foldMinuteCounts()
                condition.lock()
                finished = true
                condition.unlock()
                logger.info("audit writer drained and stopped")
                // The checkpoint thread runs the last checkpoint, then releases the waiters.
                checkpointPause.signal()
                return
            }
            // Taken off the front at once: one at a time, a full queue (20,000 entries) shifted its
            // rest for each, under the lock every request takes to enqueue.
            var taken = 0
            var rows = 0
            var bytes = 0
            for next in queue {
                guard rows == 0 || rows + next.drafts.count <= settings.maxRowsPerTransaction else { break }
                taken += 1
                rows += next.drafts.count
                bytes += next.bytes
            }
            let batch = Array(queue.prefix(taken))
            queue.removeFirst(taken)
            queuedRows -= rows
            queuedBytes -= bytes
            metrics.auditQueue(depth: queuedRows, bytes: queuedBytes)
            let catchUp = catchUpWanted
            catchUpWanted = false
            condition.unlock()

            if !batch.isEmpty { commit(batch, rows: rows) }
            if catchUp { catchUpCheckpoint() }
            if DispatchTime.now().uptimeNanoseconds >= nextFold { foldMinuteCounts() }
            if let days = settings.retentionDays, DispatchTime.now().uptimeNanoseconds >= nextPrune {
                let behind = prune(olderThanDays: days)
                nextPrune = DispatchTime.now().uptimeNanoseconds + (behind ? Self.pruneCatchUpInterval : Self.pruneInterval)
            }
        }
    }

    private func commit(_ batch: [Pending], rows: Int) {
        let started = DispatchTime.now().uptimeNanoseconds
        var records: [AuditRecord] = []
        records.reserveCapacity(rows)
        // Rows of one batch mostly share their millisecond: format each distinct one once.
        var lastMillisecond: Int64 = -1
        var lastTime = ""
        for pending in batch {
            for draft in pending.drafts {
                let features = draft.body.withUnsafeReadableBytes { draft.featureJSON.object(body: $0, spans: draft.spans) }
                if draft.unixMilliseconds != lastMillisecond {
                    lastMillisecond = draft.unixMilliseconds
                    lastTime = Timestamp.format(unixMilliseconds: lastMillisecond)
                }
                records.append(AuditRecord(
                    predictedAt: lastTime, requestID: draft.requestID,
                    rowIndex: draft.rowIndex, versionID: draft.versionID, featuresJSON: features, score: draft.score,
                    decision: draft.decision, latencyMicroseconds: draft.latencyMicroseconds))
            }
        }
        do {
            let lastID = try registry.waitingForLocksAtMost(lockWait(since: batch[0].queuedAt, now: started)) {
                try registry.appendAudit(records)
            }
            minuteCounts.add(records, lastID: lastID)
            metrics.auditRowsWritten.increment(by: Int64(rows))
            metrics.auditCommitRows.record(rows)
            metrics.auditCommitDuration.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started))
            // Before the answers go: a client that got its 200 and then asked /readyz was told the
            // audit log's last commit had failed (seen in the test suite on a busy machine).
            if lastCommitFailed {
                lastCommitFailed = false
                lastFailedCommit.withLock { $0 = nil }
                commitFailures.succeeded(logger: logger)
            }
            Self.resume(batch, with: .success(()))
        } catch {
            let now = DispatchTime.now().uptimeNanoseconds
            commitFailures.failed("\(error)", logger: logger, now: now, metadata: ["audit.rows": "\(rows)"])
            lastCommitFailed = true
            lastFailedCommit.withLock { $0 = (now, "\(error)") }
            var failed = batch
            var reason = "\(error)"
            if case RegistryError.busy = error {
                // The commit waited out its oldest row's time; rows queued later wait the rest of theirs.
                var waiting: [Pending] = []
                failed = []
                for pending in batch {
                    if lockWait(since: pending.queuedAt, now: now) > Self.lockWaitSlackMilliseconds { waiting.append(pending) } else { failed.append(pending) }
                }
                requeue(waiting)
                // What each refused row waited, counted from its queueing, not this commit's share.
                reason = "\(RegistryError.busy(path: registry.path, timeoutMilliseconds: busyTimeoutMilliseconds))"
            }
            metrics.auditRowsFailed.increment(by: Int64(failed.reduce(0) { $0 + $1.drafts.count }))
            Self.resume(failed, with: .failure(AuditError.writeFailed(reason)))
        }
    }

    /// A row with at most this much of its lock wait left is refused rather than tried again:
    /// waits are counted in whole milliseconds, and another round for a few would be noise.
    static let lockWaitSlackMilliseconds: Int32 = 10

    /// Puts rows back at the head of the queue, in their order, after a commit that failed behind
    /// another process's lock.
    private func requeue(_ pending: [Pending]) {
        guard !pending.isEmpty else { return }
        condition.lock()
        defer { condition.unlock() }
        queue.insert(contentsOf: pending, at: 0)
        queuedRows += pending.reduce(0) { $0 + $1.drafts.count }
        queuedBytes += pending.reduce(0) { $0 + $1.bytes }
        metrics.auditQueue(depth: queuedRows, bytes: queuedBytes)
    }

    /// What is left of the busy timeout for the oldest row in the queue, or all of it when the queue
    /// is empty: the writer's own upkeep (the minute counts, pruning) must not hold queued rows
    /// behind another process's lock past their time.
    private func lockWaitForQueuedRows() -> Int32 {
        condition.lock()
        let oldest = queue.first?.queuedAt
        condition.unlock()
        guard let oldest else { return busyTimeoutMilliseconds }
        return lockWait(since: oldest, now: DispatchTime.now().uptimeNanoseconds)
    }

    /// What is left of the busy timeout for rows queued at `queuedAt` (the batch's oldest). Counted
    /// from the queueing, not from this commit: rows queued behind a commit that waited out the whole
    /// timeout for another process's lock would otherwise wait a second timeout before their 503.
    private func lockWait(since queuedAt: UInt64, now: UInt64) -> Int32 {
        let waitedMilliseconds = now > queuedAt ? (now - queuedAt) / 1_000_000 : 0
        return busyTimeoutMilliseconds - Int32(clamping: waitedMilliseconds)
    }

    /// Tells the waiting requests, each on its own event loop: one task per loop per commit,
    /// rather than one wake-up per request.
    private static func resume(_ batch: [Pending], with result: Result<Void, Error>) {
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, waiting: [AuditCommitted])] = [:]
        for pending in batch {
            guard let (committed, loop) = pending.waiting else { continue }
            byLoop[ObjectIdentifier(loop), default: (loop, [])].waiting.append(committed)
        }
        for (loop, waiting) in byLoop.values {
            loop.execute { for committed in waiting { committed(result) } }
        }
    }

    /// Audit rows a fold reads back from the table at most, with the queue empty (≈ 7 ms, the next
    /// step at once) and with predictions waiting (≈ 2 ms, the next step 100 ms later).
    static let idleReadBackRows = 2_000
    static let busyReadBackRows = 500

    /// Brings `prediction_minutes` up to date with what has been committed, so that the status page
    /// reads a minute's counts instead of its rows. Once a second: a few upserts of the counts kept
    /// here, or, when another process appended meanwhile (or at start, or after an upgrade: possibly
    /// a billion rows), a read-back of the rows in steps: large ones while no request waits for the
    /// writer, so that a catch-up uses the slack between commits, and small ones between commits
    /// while requests do, which hold up at most the requests arriving during one. The counts kept
    /// here wait for the rows read back before them (`Registry.foldAuditMinutes`), so a writer that
    /// is never idle catches up after one killed mid-load. A failure leaves the rows uncounted, not
    /// lost: readers count them directly until a later fold, tried again after a pause rather than
    /// at once, succeeds.
    private func foldMinuteCounts() {
        condition.lock()
        let idle = queue.isEmpty
        condition.unlock()
        let now = DispatchTime.now().uptimeNanoseconds
        do {
            // Busy, a few rows a step: rows nobody counted (a killed writer's last ones) are then read
            // back between commits, and a writer that is never idle catches up too.
            let fold = try registry.waitingForLocksAtMost(lockWaitForQueuedRows()) {
                try registry.foldAuditMinutes(&minuteCounts, maxReadBack: idle ? Self.idleReadBackRows : Self.busyReadBackRows)
            }
            // Behind: at once while idle, else shortly, in case the writer has caught its breath.
            nextFold = now + (!fold.remaining ? 1_000_000_000 : idle ? 0 : 100_000_000)
            if fold.readBack { minuteRowsReadBack += fold.rows }
            // Once per catch-up, not per step: an upgraded registry may take thousands of steps.
            if !fold.remaining && minuteRowsReadBack > 0 {
                logger.info("audit rows counted per minute from the table", metadata: ["audit.rows": "\(minuteRowsReadBack)"])
                minuteRowsReadBack = 0
            }
            foldFailures.succeeded(logger: logger)
        } catch {
            nextFold = now + 5_000_000_000
            foldFailures.failed("\(error)", logger: logger, now: now)
        }
    }

    /// Retention's pace: a second between rounds once a round has removed every row past the cutoff
    /// (a round with nothing to remove is one index probe); while rows are left (a round stops at
    /// the first prediction queued behind it), a batch every 100 ms between commits, up to 10,000
    /// rows a second. With a round a minute, a busy service pruned one batch a minute, and its table
    /// grew without end past ≈ 170 predictions/s.
    static let pruneInterval: UInt64 = 1_000_000_000
    static let pruneCatchUpInterval: UInt64 = 100_000_000
    static let pruneLogInterval: UInt64 = 60_000_000_000
    /// Rows a prune batch removes in one transaction: ≈ 10 ms of the writer's time (three indexes).
    static let pruneBatchRows = 1_000

    /// Removes rows older than the retention, a batch at a time until none is left or a prediction
    /// is queued; returns whether rows past the cutoff may remain.
    private func prune(olderThanDays days: Int) -> Bool {
        let cutoff = Timestamp.format(Date().addingTimeInterval(-Double(days) * 86_400))
        defer { logPruned(cutoff: cutoff) }
        do {
            while true {
                let removed = try registry.waitingForLocksAtMost(lockWaitForQueuedRows()) {
                    try registry.pruneAudit(olderThan: cutoff, limit: Self.pruneBatchRows)
                }
                // Counted as each batch commits: a later batch's failure does not undo this one.
                if removed > 0 {
                    metrics.auditRowsPruned.increment(by: Int64(removed))
                    prunedUnlogged += removed
                }
                pruneFailures.succeeded(logger: logger)
                if removed < Self.pruneBatchRows { return false }
                // Let queued predictions through between prune batches; the next round follows shortly.
                condition.lock()
                let waiting = !queue.isEmpty
                condition.unlock()
                if waiting { return true }
            }
        } catch {
            pruneFailures.failed("\(error)", logger: logger, now: DispatchTime.now().uptimeNanoseconds)
            return false
        }
    }

    private func logPruned(cutoff: String) {
        let now = DispatchTime.now().uptimeNanoseconds
        guard prunedUnlogged > 0, now >= lastPruneLog + Self.pruneLogInterval else { return }
        logger.info("pruned audit rows", metadata: ["audit.rows": "\(prunedUnlogged)", "audit.cutoff": "\(cutoff)"])
        prunedUnlogged = 0
        lastPruneLog = now
    }
}
