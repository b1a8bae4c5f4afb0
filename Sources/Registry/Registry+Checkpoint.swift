extension Registry {
    static let disableAutoCheckpoint = "PRAGMA wal_autocheckpoint = 0"
    static let passiveCheckpoint = "PRAGMA wal_checkpoint(PASSIVE)"
    static let truncateCheckpoint = "PRAGMA wal_checkpoint(TRUNCATE)"

    /// Stops this connection from checkpointing the WAL when it commits. The audit writer does this
    /// so that a checkpoint's fsync never stalls a group commit; `checkpoint(truncate:)` from another
    /// connection does the work in the background instead.
    public func disableAutomaticCheckpoints() throws {
        do { try db.execute(Self.disableAutoCheckpoint) } catch { throw RegistryError.from(error, path: path, busyTimeout: db.options.busyTimeoutMilliseconds) }
    }

    /// Copies committed WAL content into the database file. PASSIVE runs alongside writers and
    /// never blocks them; TRUNCATE (at shutdown) also empties the WAL file.
    /// "PASSIVE: Checkpoint as many frames as possible without waiting for any database readers or
    /// writers to finish" (https://sqlite.org/pragma.html#pragma_wal_checkpoint).
    public func checkpoint(truncate: Bool = false) throws {
        do { try db.execute(truncate ? Self.truncateCheckpoint : Self.passiveCheckpoint) } catch {
            throw RegistryError.from(error, path: path, busyTimeout: db.options.busyTimeoutMilliseconds)
        }
    }
}
