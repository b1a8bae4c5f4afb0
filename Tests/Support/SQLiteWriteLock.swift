import Foundation

/// Another process holding a registry's write lock, as an operator's `sqlite3` shell would: the
/// shell runs `BEGIN IMMEDIATE` and keeps the transaction open until `release()`. With `reading`,
/// the shell holds a read transaction instead (`BEGIN` and a `SELECT`), as a long report would.
public final class SQLiteWriteLock {
    private let shell = Process()
    private let commands = Pipe()
    /// What the shell printed once it held the lock ("locked"), or before it gave up.
    public let confirmation: String

    /// Starts the shell and returns once it holds the lock, or once it has exited without it
    /// (`-bail`: a failed BEGIN ends it before it prints).
    public init(databasePath: String, reading: Bool = false) throws {
        shell.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        shell.arguments = ["-bail", databasePath]
        let output = Pipe()
        shell.standardInput = commands
        shell.standardOutput = output
        try shell.run()
        let begin = reading ? "BEGIN;\nSELECT count(*) > -1 FROM predictions;" : "BEGIN IMMEDIATE;"
        commands.fileHandleForWriting.write(Data("\(begin)\nSELECT 'locked';\n".utf8))
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("locked") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
        }
        confirmation = String(decoding: seen, as: UTF8.self)
    }

    public var isHeld: Bool { confirmation.hasSuffix("locked\n") }

    /// Runs `sql` in the held transaction, commits it, and waits for the shell to exit: another
    /// process's change landing while a command waited for the lock.
    public func commit(_ sql: String) throws {
        commands.fileHandleForWriting.write(Data("\(sql)\nCOMMIT;\n.quit\n".utf8))
        try commands.fileHandleForWriting.close()
        shell.waitUntilExit()
    }

    /// Ends the transaction (it wrote nothing) and waits for the shell to exit.
    public func release() throws {
        commands.fileHandleForWriting.write(Data("ROLLBACK;\n.quit\n".utf8))
        try commands.fileHandleForWriting.close()
        shell.waitUntilExit()
    }

    deinit { if shell.isRunning { shell.terminate() } }
}
