import ArgumentParser
import Foundation
import Logging
import Registry

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Registry database file (default: $REGISTRY_DB, else ./registry.db).", valueName: "path"))
    var db: String?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("How long to wait for another process's lock before giving up, in milliseconds.", valueName: "ms"))
    var busyTimeout: Int32 = 5_000

    @Option(name: .long, help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error, critical (default: warning; for serve, $LOG_LEVEL, else info).", valueName: "level"))
    var logLevel: String?

    @Option(name: .long, help: ArgumentHelp("Who is acting, recorded with registrations and promotions (default: $REGISTRY_ACTOR, else $USER, else $LOGNAME, else unknown).", valueName: "name"))
    var actor: String?

    var databasePath: String {
        db ?? ProcessInfo.processInfo.environment["REGISTRY_DB"] ?? "./registry.db"
    }

    /// Who is acting, for the registry's records: `--actor`, else the first of `$REGISTRY_ACTOR`,
    /// `$USER` and `$LOGNAME` that is set and not empty, held to `--actor`'s rule (a line break in
    /// one would forge a row of `history`).
    func recordedActor() throws -> String {
        if let actor { return actor }
        let environment = ProcessInfo.processInfo.environment
        for name in ["REGISTRY_ACTOR", "USER", "LOGNAME"] {
            guard let value = environment[name], !value.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            try RecordedText.check(value, option: "$" + name)
            return value
        }
        return "unknown"
    }

    func validate() throws {
        guard busyTimeout >= 0 else { throw ValidationError("--busy-timeout must be 0 or more") }
        if db?.isEmpty == true { throw ValidationError("--db must not be empty") }
        if ProcessInfo.processInfo.environment["REGISTRY_DB"]?.isEmpty == true, db == nil {
            throw ValidationError("REGISTRY_DB is set but empty: set it to the registry's path, or unset it for ./registry.db")
        }
        // SQLite opened "x.db/" as x.db, where every later existence check looked for a directory.
        if databasePath.hasSuffix("/") { throw ValidationError("the registry path \(databasePath) ends with '/': name a file") }
        if let logLevel, Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level '\(logLevel)' is not a level") }
        try RecordedText.check(actor, option: "--actor")
    }

    func logger() -> Logger {
        LogSetup.bootstrapOnce(level: logLevel.flatMap { Logger.Level(rawValue: $0) } ?? .warning)
        return Logger(label: "sentinel.cli")
    }

    func openRegistry(_ access: Registry.Access) throws -> Registry {
        try Registry.open(path: databasePath, access: access, busyTimeoutMilliseconds: busyTimeout, logger: logger())
    }
}

/// Logging is bootstrapped once per process, to stderr, so stdout stays clean for results.
enum LogSetup {
    private static let done = LockedFlag()

    static func bootstrapOnce(level: Logger.Level, json: Bool = false) {
        guard done.setIfUnset() else { return }
        LoggingSystem.bootstrap { label in
            if json { return JSONLogHandler(label: label, logLevel: level) }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    /// Sets the flag; returns true only for the caller that set it.
    func setIfUnset() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if value { return false }
        value = true
        return true
    }
}
