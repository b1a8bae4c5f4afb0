import Foundation
import ModelRuntime

/// Everything the registry refuses, each naming the thing at fault. The CLI prints `description`
/// as its one line on stderr.
public enum RegistryError: Error, CustomStringConvertible, Equatable {
    // The database file.
    case databaseNotFound(path: String)
    case notADatabase(path: String)
    case notARegistry(path: String)
    case notInitialised(path: String)
    case schemaTooNew(path: String, databaseVersion: Int, knownVersion: Int)
    case schemaBehind(path: String, databaseVersion: Int, knownVersion: Int)
    case migrationMismatch(number: Int, recorded: String, known: String)
    case readOnly(path: String)
    /// SQLite's -wal or -shm file beside the registry belongs to another user and cannot be written
    /// by this one: SQLite then opens the registry read-only.
    /// (`database`: the registry's path with links resolved, where SQLite keeps the files.)
    case walFilesNotWritable(path: String, database: String, owner: UInt32)
    /// A process that cannot write the registry, running as another user than its owner, would make
    /// its -wal and -shm files (no process has it open) and could not remove them.
    case readerWouldLeaveWALFiles(path: String, reader: UInt32, owner: UInt32)
    case busy(path: String, timeoutMilliseconds: Int32)
    /// SQLite found a damaged page while reading (SQLITE_CORRUPT).
    case damaged(path: String, detail: String)
    /// SQLite could not grow the file: its disk (or the page limit) is full.
    case diskFull(path: String)
    /// The operating system failed a read or write of the file (or of its WAL).
    case ioError(path: String, detail: String)
    case cannotOpen(path: String, reason: String)
    // Models and versions.
    case invalidModelName(String)
    case modelNotFound(String)
    case modelRequired(available: [String])
    case noModels
    case invalidVersionLabel(String)
    case versionNotFound(model: String, version: String)
    case versionArchived(model: String, version: String)
    case versionActive(model: String, version: String)
    case alreadyActive(model: String, version: String)
    case nothingToRollBack(model: String)
    /// The version a rollback would return to has been archived since it was active.
    case rollbackTargetArchived(model: String, version: String)
    case noActiveVersion(model: String)
    // Registration input.
    /// A file the command was given (artifact, metrics, golden rows, input) that cannot be read.
    case fileUnreadable(what: String, path: String, reason: String)
    /// The registry file was deleted, renamed or replaced while this process had it open.
    case fileReplaced(path: String)
    case artifactEmpty(path: String)
    case artifactRejected(format: ModelFormat, reason: String)
    case unknownFormat(String)
    case invalidMetric(String)
    case metricsFileInvalid(path: String, reason: String)
    case duplicateMetric(String)
    case invalidThreshold(String)
    case goldenUnreadable(reason: String)
    case goldenMismatch(row: Int, expected: Double, actual: Double)
    // Audit queries.
    case invalidTime(String)
    case invalidLimit(Int)
    /// Anything SQLite reported that has no more specific case.
    case database(String)

    /// Another writer held the lock past the busy timeout: worth another try, no fault of the data.
    public var isBusy: Bool { if case .busy = self { true } else { false } }

    public var description: String {
        switch self {
        case .databaseNotFound(let path):
            return "no registry database at \(path) (run 'registry-cli init' first)"
        case .notADatabase(let path):
            return "\(path) is not an SQLite database"
        case .notARegistry(let path):
            return "\(path) is an SQLite database but not a Sentinel registry (it has tables and no schema_migrations)"
        case .notInitialised(let path):
            return "registry \(path) is not initialised (run 'registry-cli init')"
        case .schemaTooNew(let path, let databaseVersion, let knownVersion):
            return "registry \(path) has schema version \(databaseVersion), newer than this registry-cli knows (\(knownVersion)); use a newer registry-cli"
        case .schemaBehind(let path, let databaseVersion, let knownVersion):
            return "registry \(path) has schema version \(databaseVersion), older than this registry-cli's \(knownVersion) (run 'registry-cli init' to upgrade it)"
        case .migrationMismatch(let number, let recorded, let known):
            return "migration \(number) was recorded as \(recorded) but this registry-cli ships \(known)"
        case .readOnly(let path):
            return "registry \(path) cannot be written (read-only file or directory)"
        case .walFilesNotWritable(let path, let database, let owner):
            return "registry \(path) cannot be written: its -wal and -shm files belong to uid \(owner) (made by a reader running as that user while no process had the registry open); as root, run: chown --reference=\"\(database)\" \"\(database)-wal\" \"\(database)-shm\""
        case .readerWouldLeaveWALFiles(let path, let reader, let owner):
            return "registry \(path) is not writable by uid \(reader) and no process has it open: reading it would leave -wal and -shm files beside it that its owner (uid \(owner)) could not write; read it as uid \(owner) or root, while the service runs, or from a copy of your own"
        case .busy(let path, let timeout):
            return "registry \(path) is locked by another process (waited \(timeout) ms)"
        case .damaged(let path, let detail):
            return "registry \(path) is damaged (\(detail)): 'registry-cli check' lists what is wrong"
        case .diskFull(let path):
            return "registry \(path) cannot grow: no space left (its disk, the temporary directory, or SQLite's page limit)"
        case .ioError(let path, let detail):
            return "registry \(path) could not be read or written (\(detail))"
        case .cannotOpen(let path, let reason):
            return "cannot open registry \(path): \(reason)"
        case .invalidModelName(let name):
            return "invalid model name '\(name)': use 1-128 letters, digits, '.', '_' or '-', not '.' or '..' alone"
        case .modelNotFound(let name):
            return "no model named '\(name)'"
        case .modelRequired(let available):
            return "the registry holds several models (\(available.joined(separator: ", "))): name one with --model"
        case .noModels:
            return "the registry holds no models yet (register one first)"
        case .invalidVersionLabel(let label):
            return "invalid version '\(label)': expected v1, v2, ..."
        case .versionNotFound(let model, let version):
            return "model '\(model)' has no version \(version)"
        case .versionArchived(let model, let version):
            return "\(model) \(version) is archived and cannot be promoted"
        case .versionActive(let model, let version):
            return "\(model) \(version) is the active version; promote another before archiving it"
        case .alreadyActive(let model, let version):
            return "\(model) \(version) is already the active version"
        case .nothingToRollBack(let model):
            return "model '\(model)' has no earlier active version to roll back to"
        case .rollbackTargetArchived(let model, let version):
            return "cannot roll back \(model) to \(version): it has been archived since; promote the version wanted instead"
        case .noActiveVersion(let model):
            return "model '\(model)' has no active version (promote one first)"
        case .fileReplaced(let path):
            return "registry \(path) was deleted, renamed or replaced while open: its rows would go to a file nobody reads; restart the service on the registry that should be used"
        case .fileUnreadable(let what, let path, let reason):
            return "cannot read \(what) \(path): \(reason)"
        case .artifactEmpty(let path):
            return "artifact \(path) is empty"
        case .artifactRejected(let format, let reason):
            return "\(format.rawValue) artifact rejected: \(reason)"
        case .unknownFormat(let format):
            return "unknown format '\(format)' (expected one of: \(ModelFormat.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .invalidMetric(let text):
            return "invalid metric '\(text)': expected NAME=NUMBER"
        case .metricsFileInvalid(let path, let reason):
            return "metrics file \(path) \(reason)"
        case .duplicateMetric(let name):
            return "metric '\(name)' is given twice"
        case .invalidThreshold(let text):
            return "invalid threshold '\(text)': expected a number from 0 to 1 (any finite number for a model that outputs raw scores)"
        case .goldenUnreadable(let reason):
            return "golden rows unusable: \(reason)"
        case .goldenMismatch(let row, let expected, let actual):
            return "golden row \(row): the model scores \(actual), the training library said \(expected)"
        case .invalidTime(let text):
            return "invalid time '\(text)': expected 2026-11-29, or 2026-11-29T08:30:00 with an optional fraction and Z or an offset such as +01:00"
        case .invalidLimit(let limit):
            return "invalid limit \(limit): expected 1 to \(AuditQuery.maxLimit) (for more, query the prediction_log view with sqlite3)"
        case .database(let message):
            return "database error: \(message)"
        }
    }
}

extension RegistryError {
    /// Turns a SQLite failure on the database at `path` into the registry's own words.
    static func from(_ error: Error, path: String, busyTimeout: Int32) -> Error {
        guard let sqlite = error as? SQLiteError else { return error }
        if sqlite.isNotADatabase { return RegistryError.notADatabase(path: path) }
        if sqlite.isBusy { return RegistryError.busy(path: path, timeoutMilliseconds: busyTimeout) }
        if sqlite.isReadOnly {
            // The registry itself writable: what SQLite could not write is a -wal or -shm file,
            // another user's. (A user who may not write the registry is told that, whoever owns them.)
            let files = WALFiles(of: path)
            var info = stat()
            if FileAccess.allows(W_OK, path), stat(files.database, &info) == 0, let owner = files.foreignOwner(registryOwner: info.st_uid) {
                return RegistryError.walFilesNotWritable(path: path, database: files.database, owner: owner)
            }
            return RegistryError.readOnly(path: path)
        }
        if sqlite.isCorrupt { return RegistryError.damaged(path: path, detail: sqlite.message) }
        if sqlite.isFull { return RegistryError.diskFull(path: path) }
        if sqlite.isIOError { return RegistryError.ioError(path: path, detail: "\(sqlite.message), extended code \(sqlite.extendedCode)") }
        return RegistryError.database(sqlite.description)
    }
}
