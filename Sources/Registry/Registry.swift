import Foundation
import Logging
import RegistrySchema

/// The model registry in one SQLite file: models, versions, metrics, promotions and the audit log.
///
/// A `Registry` owns one connection and, like it, is used by one task at a time. Every public
/// method that writes owns its transaction (`BEGIN IMMEDIATE`), so a failure leaves the database
/// exactly as it was.
public final class Registry {
    public enum Access: Sendable {
        case read
        case write
        /// Reads a file without writing a byte of it (a copy kept as evidence: `audit`, `check`):
        /// one with a `-wal` file is opened read-only, so closing does not fold the WAL into it
        /// (SQLite may leave a `-shm` file beside it).
        case readUntouched
    }

    public let path: String
    let db: Connection
    let logger: Logger
    /// The file this connection opened. A file deleted or renamed away stays open and writable here,
    /// so without a check its rows would go to a file no reader can find any more.
    public let openedFile: FileIdentity?

    /// Opens an initialised registry whose schema matches this binary.
    ///
    /// Throws `RegistryError.databaseNotFound` when there is no file, `.notADatabase`,
    /// `.notARegistry`, `.notInitialised`, `.schemaBehind`, `.schemaTooNew`, `.readOnly` (write
    /// access to a file that cannot be written), `.readerWouldLeaveWALFiles` or `.busy`.
    public static func open(path: String, access: Access, busyTimeoutMilliseconds: Int32 = 5_000,
                            durability: Connection.Durability = .powerLoss,
                            logger: Logger = Logger(label: "sentinel.registry")) throws -> Registry {
        guard FileManager.default.fileExists(atPath: path) else { throw RegistryError.databaseNotFound(path: path) }
        // Readers open read-write with query_only when they may, so that closing cleans up the WAL
        // files; a registry they cannot write (a read-only mount) is still readable.
        // A copy with its -wal file is opened read-only: closing a read-write connection folds the
        // WAL into the file. Without one, a read-write connection that only reads changes no byte
        // and, unlike a read-only one, removes the -wal and -shm files it made when it closes.
        let untouched = access == .readUntouched && FileManager.default.fileExists(atPath: path + "-wal")
        let readOnly = untouched || (access != .write && !FileManager.default.isWritableFile(atPath: path))
        let options = Connection.Options(mode: readOnly ? .readOnly : .readWrite,
                                         busyTimeoutMilliseconds: busyTimeoutMilliseconds, durability: durability,
                                         queryOnly: access != .write)
        // Look through a read-only connection first: opening for writing turns WAL on, which
        // rewrites the header of a file that then turns out not to be a registry (or not this one's).
        switch try status(ofFileAt: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds) {
        case .empty: throw RegistryError.notInitialised(path: path)
        case .current: break
        case .behind(let version):
            throw RegistryError.schemaBehind(path: path, databaseVersion: version, knownVersion: RegistrySchema.latestVersion)
        case .ahead(let version):
            throw RegistryError.schemaTooNew(path: path, databaseVersion: version, knownVersion: RegistrySchema.latestVersion)
        }
        return Registry(path: path, db: try connect(path: path, options: options), logger: logger)
    }

    /// The schema state of the file at `path`, read without writing a byte to it.
    private static func status(ofFileAt path: String, busyTimeoutMilliseconds: Int32) throws -> Migrator.Status {
        try refuseReaderThatWouldLeaveWALFiles(path)
        let reader = try connect(path: path, options: .init(mode: .readOnly, busyTimeoutMilliseconds: busyTimeoutMilliseconds))
        do {
            return try Migrator().status(of: reader)
        } catch {
            throw RegistryError.from(error, path: path, busyTimeout: busyTimeoutMilliseconds)
        }
    }

    /// Creates the registry at `path` if needed and applies every migration it lacks; running it
    /// on an up-to-date registry changes nothing. Returns the migrations applied.
    @discardableResult
    public static func initialise(path: String, upTo target: Int? = nil, busyTimeoutMilliseconds: Int32 = 5_000) throws -> [SchemaMigration] {
        // Look before switching anything on: another application's database, or one newer than this
        // binary, must be refused with its bytes untouched (opening for write would turn WAL on).
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > 0,
           case .ahead(let version) = try status(ofFileAt: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds) {
            throw RegistryError.schemaTooNew(path: path, databaseVersion: version, knownVersion: RegistrySchema.latestVersion)
        }
        let db = try connect(path: path, options: .init(mode: .readWriteCreate, busyTimeoutMilliseconds: busyTimeoutMilliseconds))
        do {
            return try Migrator().migrate(db, upTo: target)
        } catch {
            throw RegistryError.from(error, path: path, busyTimeout: busyTimeoutMilliseconds)
        }
    }

    /// Throws `.readerWouldLeaveWALFiles` when this process, not root and not the file's owner,
    /// cannot write the registry and no process has it open. SQLite makes the -wal and -shm files
    /// at the first read then, and a connection that cannot write the registry cannot remove them
    /// when it closes: they would stay, this user's, and the owner could not write the registry.
    /// (Root's are handed to the owner by SQLite; where the directory cannot be written, or the
    /// file is not in WAL mode, SQLite makes none.) Checked before the first connection, which is
    /// read-only, of every command.
    private static func refuseReaderThatWouldLeaveWALFiles(_ path: String) throws {
        guard geteuid() != 0, FileAccess.allows(R_OK, path), !FileAccess.allows(W_OK, path) else { return }
        let files = WALFiles(of: path)
        let directory = (files.database as NSString).deletingLastPathComponent
        var info = stat()
        guard !files.exist, stat(files.database, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_uid != geteuid(),
              FileAccess.allows(W_OK, directory.isEmpty ? "." : directory), files.databaseIsInWALMode else { return }
        throw RegistryError.readerWouldLeaveWALFiles(path: path, reader: geteuid(), owner: info.st_uid)
    }

    private static func connect(path: String, options: Connection.Options) throws -> Connection {
        // SQLite's name for a private in-memory database: `init` would report a registry made
        // where nothing is kept.
        if path == ":memory:" { throw RegistryError.cannotOpen(path: path, reason: "it names SQLite's in-memory database, which keeps nothing: name a file") }
        // A build of SQLite may read a name starting "file:" as a URI; here it is a file's name, as the
        // other commands' existence checks read it.
        let name = path.hasPrefix("file:") ? "./" + path : path
        if let reason = notARegularFile(path) { throw RegistryError.cannotOpen(path: path, reason: reason) }
        var info = stat()
        if !FileAccess.allows(R_OK, path), errno == EACCES, stat(path, &info) == 0 {
            throw RegistryError.cannotOpen(path: path, reason: "uid \(geteuid()) may not read it (it belongs to uid \(info.st_uid), mode 0\(String(info.st_mode & 0o777, radix: 8)))")
        }
        do {
            return try Connection(path: name, options: options)
        } catch let error where error.isCannotOpen {
            let directory = (path as NSString).deletingLastPathComponent
            throw RegistryError.cannotOpen(path: path, reason: FileManager.default.fileExists(atPath: directory.isEmpty ? "." : directory)
                ? "the file or its directory cannot be written" : "directory \(directory) does not exist")
        } catch {
            throw RegistryError.from(error, path: path, busyTimeout: options.busyTimeoutMilliseconds)
        }
    }

    /// Why `path` cannot hold a registry before SQLite tries it, or nil: a directory, a link to
    /// nothing, or anything but a regular file (opening a FIFO waited for a writer for ever). The
    /// desired-versions file is held to the same.
    public static func notARegularFile(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            var link = stat()
            guard lstat(path, &link) == 0, (link.st_mode & S_IFMT) == S_IFLNK else { return nil }
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?"
            return "it is a symbolic link to \(target), which does not exist"
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "it is a directory"
        default: return "it is not a regular file"
        }
    }

    init(path: String, db: Connection, logger: Logger) {
        self.path = path
        self.db = db
        self.logger = logger
        openedFile = FileIdentity(path: path)
    }

    /// Throws `.fileReplaced` when `path` no longer names the file this connection opened.
    public func checkFileIsStillAtPath() throws {
        guard let openedFile, FileIdentity(path: path) == openedFile else { throw RegistryError.fileReplaced(path: path) }
    }

    /// Runs `body` with every statement in it waiting at most `milliseconds` for another process's
    /// lock instead of the busy timeout the registry was opened with (0: not at all).
    public func waitingForLocksAtMost<T>(_ milliseconds: Int32, _ body: () throws -> T) rethrows -> T {
        try db.waitingForLocksAtMost(milliseconds, body)
    }

    /// Runs `body` in one IMMEDIATE transaction and puts SQLite failures in the registry's words.
    func write<T>(_ body: () throws -> T) throws -> T {
        try checkFileIsStillAtPath()
        do {
            return try db.transaction(.immediate, body)
        } catch {
            throw RegistryError.from(error, path: path, busyTimeout: db.busyTimeoutInEffect)
        }
    }

    /// Runs `body` in one read transaction, so that everything it reads is one snapshot.
    /// Reentrant: inside an open transaction it simply runs `body` in that one.
    func read<T>(_ body: () throws -> T) throws -> T {
        if db.isInTransaction { return try body() }
        try checkFileIsStillAtPath()
        do {
            return try db.transaction(.deferred, body)
        } catch {
            throw RegistryError.from(error, path: path, busyTimeout: db.busyTimeoutInEffect)
        }
    }
}

/// A file as the filesystem knows it (device and inode), whatever name it is reached by.
public struct FileIdentity: Hashable, Sendable {
    let device: UInt64
    let inode: UInt64

    /// The file `path` names now; nil when there is none.
    public init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}
