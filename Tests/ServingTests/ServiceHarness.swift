import AsyncHTTPClient
import Foundation
import Hummingbird
import Testing

/// A registry on a temporary file and the real `registry-cli serve` process on a free loopback port.
final class ServiceHarness: @unchecked Sendable {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let models = repositoryRoot.appendingPathComponent("models")

    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["REGISTRY_CLI"] { return path }
        let next = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("registry-cli").path
        return FileManager.default.fileExists(atPath: next) ? next : repositoryRoot.appendingPathComponent(".build/debug/registry-cli").path
    }

    let directory: URL
    var dbPath: String { directory.appendingPathComponent("registry.db").path }
    private(set) var server: Process?
    private(set) var port = 0
    var logPath: String { directory.appendingPathComponent("serve.log").path }
    var baseURL: String { "http://127.0.0.1:\(port)" }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sentinel-serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit {
        killIfRunning()
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: Registry set-up through the CLI

    @discardableResult
    func cli(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments + ["--db", dbPath, "--actor", "serving-test"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    /// A new registry holding the XGBoost example as v1 of "fraud", promoted: what most tests serve.
    func initWithXGBoostPromoted() throws {
        #expect(try cli(["init"]).status == 0)
        try register("fraud-xgboost")
        #expect(try cli(["promote", "v1"]).status == 0)
    }

    /// Registers models/EXAMPLE as a new version of `model`, with its golden rows and threshold.
    func register(_ example: String, as model: String = "fraud") throws {
        let folder = Self.models.appendingPathComponent(example)
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("meta.json"))) as! [String: Any]
        let result = try cli(["register", "--model", model, "--format", meta["format"] as! String,
                              "--artifact", folder.appendingPathComponent(meta["artifact"] as! String).path,
                              "--golden", folder.appendingPathComponent("golden.jsonl").path,
                              "--threshold", "\(meta["threshold"] as! Double)"])
        #expect(result.status == 0, "register \(example): \(result.stderr)")
    }

    func sqlite(_ sql: String, db: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = [db ?? dbPath, sql]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `prediction_minutes` as the sqlite3 shell lists it, and the same counts grouped from the
    /// audit rows themselves: equal once every row is counted.
    func minuteCountsAndTheirRows() throws -> (counted: String, grouped: String) {
        let counted = try sqlite("""
            SELECT group_concat(minute || ' ' || version_id || ' ' || latency_from_us || ' ' || predictions || ' ' || flagged, ';')
            FROM (SELECT * FROM prediction_minutes ORDER BY 1, 2, 3)
            """)
        let grouped = try sqlite("""
            SELECT group_concat(minute || ' ' || version_id || ' ' || bucket || ' ' || n || ' ' || fraud, ';')
            FROM (SELECT substr(predicted_at, 1, 16) AS minute, version_id,
                         (SELECT max(from_us) FROM latency_buckets WHERE from_us <= latency_us) AS bucket,
                         count(*) AS n, sum(decision = 'fraud') AS fraud
                  FROM predictions GROUP BY 1, 2, 3 ORDER BY 1, 2, 3)
            """)
        return (counted, grouped)
    }

    // MARK: The server process

    /// Starts `registry-cli serve --port 0` and waits until it reports its port.
    func start(_ extra: [String] = [], waitForReady: Bool = true) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["serve", "--db", dbPath, "--host", "127.0.0.1", "--port", "0", "--reload-interval", "100"] + extra
        let stdoutPath = directory.appendingPathComponent("serve.out").path
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: logPath)
        try process.run()
        server = process
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let text = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening on http://") }),
               let value = line.split(separator: ":").last.flatMap({ Int($0) }) {
                port = value
                break
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        guard port != 0 else {
            throw HarnessError("server did not start: \((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")")
        }
        if waitForReady { try await waitUntilReady() }
    }

    func waitUntilReady(timeout: TimeInterval = 20) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let response = try? await get("/readyz"), response.status == 200 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw HarnessError("server never became ready")
    }

    /// Ends the server at once if it still runs: every test's cleanup, on any way out of it. (A
    /// detached `Task { await stop() }` in a `defer` kept the harness alive and could lose the race
    /// with the test process's exit: a failed fresh-clone CI run left a server running after it.)
    func killIfRunning() {
        if let server, server.isRunning { kill(server.processIdentifier, SIGKILL) }
    }

    /// Sends `signal` to the server and waits for it to exit; returns its exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: TimeInterval = 30) async throws -> Int32 {
        guard let server else { return 0 }
        kill(server.processIdentifier, signal)
        return try await waitForExit(timeout: timeout)
    }

    /// Waits for the server to exit by itself (killing it after `timeout`); returns its exit status.
    func waitForExit(timeout: TimeInterval = 30) async throws -> Int32 {
        guard let server else { return 0 }
        let deadline = Date().addingTimeInterval(timeout)
        while server.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        guard !server.isRunning else {
            kill(server.processIdentifier, SIGKILL)
            throw HarnessError("server did not stop within \(timeout) s")
        }
        return server.terminationStatus
    }

    // MARK: HTTP

    struct Reply: Sendable {
        let status: Int
        let body: String
        let contentType: String?
        var allow: String? = nil
        var connection: String? = nil
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] }
    }

    func get(_ path: String) async throws -> Reply {
        try await send(HTTPClientRequest(url: baseURL + path))
    }

    func post(_ path: String, body: String, contentType: String? = "application/json", timeout: Int64 = 30) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        if let contentType { request.headers.add(name: "content-type", value: contentType) }
        request.body = .bytes(ByteBuffer(string: body))
        return try await send(request, timeout: timeout)
    }

    func post(_ path: String, body: String, headers: [(String, String)]) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: body))
        return try await send(request)
    }

    func post(_ path: String, bytes: [UInt8]) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: bytes))
        return try await send(request)
    }

    func send(_ method: String, _ path: String) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .init(rawValue: method)
        return try await send(request)
    }

    private func send(_ request: HTTPClientRequest, timeout: Int64 = 30) async throws -> Reply {
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(timeout))
        let body = try await response.body.collect(upTo: 16 << 20)
        return Reply(status: Int(response.status.code), body: String(buffer: body), contentType: response.headers.first(name: "content-type"),
                     allow: response.headers.first(name: "allow"), connection: response.headers.first(name: "connection"))
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Golden rows of an example model, as request bodies with the library's score.
struct GoldenRequests {
    let bodies: [String]
    let features: [String]
    let scores: [Double]

    init(_ example: String, limit: Int = 200) throws {
        let text = try String(contentsOf: ServiceHarness.models.appendingPathComponent(example).appendingPathComponent("golden.jsonl"), encoding: .utf8)
        var bodies: [String] = [], features: [String] = [], scores: [Double] = []
        for line in text.split(separator: "\n").prefix(limit) {
            // Cut the features object out of the line as written, so values reach the server unchanged.
            let raw = String(line)
            let start = raw.range(of: "\"features\":")!.upperBound
            let end = raw.range(of: ",\"score\":", options: .backwards)!.lowerBound
            let object = String(raw[start..<end])
            features.append(object)
            bodies.append("{\"features\":\(object)}")
            // JSONDecoder, not JSONSerialization: the latter misrounds some decimals on Linux.
            struct Golden: Decodable { let score: Double }
            scores.append(try JSONDecoder().decode(Golden.self, from: Data(raw.utf8)).score)
        }
        self.bodies = bodies
        self.features = features
        self.scores = scores
    }
}
