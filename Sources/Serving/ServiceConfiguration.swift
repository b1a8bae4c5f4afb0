import Registry

/// Everything the scoring service is told at start-up. `registry-cli serve` fills it from flags and
/// environment variables (documented there and in the README).
public struct ServiceConfiguration: Sendable {
    /// The `Server` header of every answer, the router's and `PredictChannelHandler`'s.
    static let serverName = "sentinel"

    public var databasePath: String
    public var host: String = "127.0.0.1"
    /// 0 asks the OS for a free port (tests); the bound port is reported by `onServerRunning`.
    public var port: Int = 8080
    /// How often the active versions are checked for a change. A promotion is served within this
    /// interval plus the new version's load and self-test.
    public var reloadIntervalMilliseconds: Int = 250
    /// Largest request body accepted (413 beyond).
    public var maxBodyBytes: Int = 1 << 20
    /// Largest `instances` array accepted in one batch request.
    public var maxBatchSize: Int = 1_000
    public var audit = AuditSettings()
    public var busyTimeoutMilliseconds: Int32 = 5_000
    /// A JSON file naming the version each model should serve (`{"fraud": "v3"}`), rendered from Git
    /// into a ConfigMap; when set, this replica promotes those versions in its own registry.
    public var desiredVersionsFile: String?
    public var desiredVersionsIntervalMilliseconds: Int = 1_000
    /// On SIGTERM, how long the service keeps answering, with `Connection: close` on every answer
    /// and `/readyz` at 503, before it stops taking connections (see `ShutdownDrain`); 0 stops at once.
    public var drainSeconds: Double = 0
    /// A connection on which no complete part of a request (its headers, a piece of its body)
    /// arrives for this long, between requests or in the middle of one, is closed, so that stalled
    /// clients cannot hold connections open for ever. Longer than the usual load balancer's keep-alive (60 s), so that
    /// the balancer, not the service, closes an idle connection and never sends on one just closed.
    public var idleTimeoutSeconds: Double = 75
    /// The registry file the audit writer opened at start-up (set by `buildApplication`). Every
    /// other connection of the process reads and writes that file only. Another file put at the
    /// path shares the -wal and -shm files, by name, with the one this process has open, and SQLite
    /// cannot tell them apart: reading it through them, or writing to it, would mix the two files'
    /// pages. So the process refuses it (`RegistryError.fileReplaced`) until a restart opens it;
    /// meanwhile the audit writer's checkpoint thread copies the old file's last frames into the
    /// old file and empties the WAL (see `AuditWriter.checkpointLoop`).
    public var registryFile: FileIdentity?

    public init(databasePath: String) {
        self.databasePath = databasePath
    }
}

/// How predictions reach the audit log.
public struct AuditSettings: Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        /// The default promise, "no answer without a record": a response leaves only after the
        /// transaction holding its record has committed.
        case sync
        /// Answer first, record right after. Faster, and a crash or a failed commit loses answered
        /// predictions (counted in `sentinel_audit_rows_failed_total` when the commit failed);
        /// every row so answered is counted in `sentinel_audit_async_responses_total`.
        case async
    }

    public var mode: Mode = .sync
    /// WAL `synchronous`: `.processCrash` (NORMAL) keeps every committed record through a crash or
    /// kill of the process; `.powerLoss` (FULL) also through power loss, at an fsync per commit.
    public var durability: Connection.Durability = .processCrash
    /// Rows waiting for the writer before new predictions are refused with 503.
    public var queueCapacity: Int = 20_000
    /// Most rows committed in one transaction.
    public var maxRowsPerTransaction: Int = 2_000
    /// WAL length, in pages, past which the writer finishes a checkpoint so that the WAL starts
    /// over (see `AuditWriter.checkpointLoop`): 4,096 pages, 16 MiB.
    public var walRestartFrames: Int = 4_096
    /// Rows older than this are pruned in the background; nil keeps everything.
    public var retentionDays: Int?

    public init() {}
}
