import Foundation
import Testing

/// Runs the built `registry-cli` binary and the system `sqlite3` shell against temporary files.
struct CLIHarness {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let modelsDirectory = repositoryRoot.appendingPathComponent("models")

    /// The binary next to the test bundle (`swift build` puts both in the same folder), or $REGISTRY_CLI.
    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["REGISTRY_CLI"] { return path }
        let buildDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var candidate = buildDirectory.appendingPathComponent("registry-cli").path
        if !FileManager.default.fileExists(atPath: candidate) {
            // Under xctest the first argument is the runner; fall back to the debug build folder.
            candidate = repositoryRoot.appendingPathComponent(".build/debug/registry-cli").path
        }
        return candidate
    }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        var lastLine: String { stdout.split(separator: "\n").last.map(String.init) ?? "" }
    }

    let directory: URL
    var dbPath: String { directory.appendingPathComponent("registry.db").path }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sentinel-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "registry-cli not built at \(Self.binary): run `swift build` first")
    }

    func cleanUp() { try? FileManager.default.removeItem(at: directory) }

    /// Runs registry-cli with `--db` pointing at this harness's database (unless `db` is given).
    @discardableResult
    func cli(_ arguments: [String], db: String? = nil, stdin: String? = nil, environment: [String: String] = [:]) throws -> Result {
        try Self.run(Self.binary, arguments + ["--db", db ?? dbPath], stdin: stdin, environment: environment)
    }

    static func run(_ executable: String, _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["REGISTRY_ACTOR"] = "cli-test"
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        // Drain both pipes before waiting so a large output cannot block the child.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Runs SQL through the system sqlite3 shell.
    func sqlite(_ sql: String, db: String? = nil) throws -> String {
        let result = try Self.run("/usr/bin/sqlite3", [db ?? dbPath, sql])
        #expect(result.status == 0, "sqlite3 failed: \(result.stderr)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func model(_ name: String, _ file: String) -> String { Self.modelsDirectory.appendingPathComponent(name).appendingPathComponent(file).path }

    /// Registers one of the example models from models/NAME under `model`.
    @discardableResult
    func registerExample(_ example: String, as model: String = "fraud", extra: [String] = []) throws -> Result {
        let format: String
        let artifact: String
        if FileManager.default.fileExists(atPath: self.model(example, "model.txt")) {
            (format, artifact) = ("lightgbm-text", self.model(example, "model.txt"))
        } else if example.contains("logistic") {
            (format, artifact) = ("logistic", self.model(example, "model.json"))
        } else {
            (format, artifact) = ("xgboost-json", self.model(example, "model.json"))
        }
        return try cli(["register", "--model", model, "--format", format, "--artifact", artifact,
                        "--golden", self.model(example, "golden.jsonl"), "--metrics-file", self.model(example, "metrics.json")] + extra)
    }

    /// A new registry whose only version, `example` registered as v1, is active.
    func initWithPromoted(_ example: String) throws {
        #expect(try cli(["init"]).status == 0)
        try registerExample(example)
        #expect(try cli(["promote", "v1"]).status == 0)
    }

    /// The database file's bytes and whether a WAL file lies beside it.
    func snapshot(_ path: String? = nil) -> (Data?, Bool) {
        let path = path ?? dbPath
        return (FileManager.default.contents(atPath: path), FileManager.default.fileExists(atPath: path + "-wal"))
    }
}
