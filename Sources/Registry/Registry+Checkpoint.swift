extension Registry {
    static let disableAutoCheckpoint = "PRAGMA wal_autocheckpoint = 0"
    static let passiveCheckpoint = "PRAGMA wal_checkpoint(PASSIVE)"
    static let truncateCheckpoint = "PRAGMA wal_checkpoint(TRUNCATE)"
    static func walFileLimit(bytes: Int) -> String { "PRAGMA journal_size_limit = \(bytes)" }

    /// What a checkpoint found: whether it could not run (another checkpoint held its lock, or a
    /// TRUNCATE waited out the busy timeout behind a reader), the WAL's length in frames (pages) and
    /// how many of them are now in the database file (both -1 when it could not run at all).
    public struct CheckpointResult: Sendable, Equatable {
        public var busy: Bool
        public var walFrames: Int
        public var checkpointedFrames: Int

        /// Every frame is in the database file, so the next commit starts the WAL over.
        public var copiedEverything: Bool { !busy && walFrames > 0 && checkpointedFrames == walFrames }
    }

    /// Once the WAL starts over, its file is cut back to `bytes` if it grew past them (a reader that
    /// held the checkpoints back for an hour leaves gigabytes otherwise, until the next restart).
    public func limitWALFile(bytes: Int) throws {
        try setPragma(Self.walFileLimit(bytes: bytes))
    }

    /// Stops this connection from checkpointing the WAL when it commits. The audit writer does this
    /// so that a checkpoint's fsync never stalls a group commit; `checkpoint(truncate:)` from another
    /// connection does the work in the background instead.
    public func disableAutomaticCheckpoints() throws {
        try setPragma(Self.disableAutoCheckpoint)
    }

    /// Runs one of this connection's settings, its failure in the registry's words.
    private func setPragma(_ sql: String) throws {
        do { try db.execute(sql) } catch { throw RegistryError.from(error, path: path, busyTimeout: db.busyTimeoutInEffect) }
    }

    /// Copies committed WAL content into the database file. PASSIVE runs alongside writers and
    /// never blocks them; TRUNCATE (at shutdown) also empties the WAL file.
    /// "PASSIVE: Checkpoint as many frames as possible without waiting for any database readers or
    /// writers to finish" (https://sqlite.org/pragma.html#pragma_wal_checkpoint).
    ///
    /// SQLite syncs the database file only when a checkpoint leaves no frame behind in the WAL as it
    /// is when the copy ends. Beside a busy writer that never happens, even when the pragma answers
    /// "all frames checkpointed": its counts describe the WAL as it was when the checkpoint began.
    /// So every PASSIVE checkpoint that copied anything syncs here what it copied (a no-op when
    /// SQLite already did): otherwise those pages all wait for the one checkpoint that completes,
    /// the audit writer's, and its fsync grows with the WAL (14-28 ms at a 16 MiB WAL, 30-130 ms at
    /// 64-256 MiB; 2-5 ms with this sync).
    @discardableResult
    public func checkpoint(truncate: Bool = false) throws -> CheckpointResult {
        do {
            // The pragma answers one row: busy flag, frames in the WAL, frames checkpointed.
            let rows = try db.cached(truncate ? Self.truncateCheckpoint : Self.passiveCheckpoint).rows { row in
                CheckpointResult(busy: row.int(0) != 0, walFrames: row.int(1), checkpointedFrames: row.int(2))
            }
            let result = rows.first ?? CheckpointResult(busy: false, walFrames: 0, checkpointedFrames: 0)
            if !truncate, result.checkpointedFrames > 0 {
                try db.syncDatabaseFile()
            }
            return result
        } catch {
            throw RegistryError.from(error, path: path, busyTimeout: db.busyTimeoutInEffect)
        }
    }
}
