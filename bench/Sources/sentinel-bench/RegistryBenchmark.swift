import Foundation
import ModelRuntime
import Logging
import Registry

/// Registry costs a user feels, each beside the sqlite3 shell doing the bare storage work:
/// registering a 10 MB artifact, and `list` / `show` on a registry of 1,000 versions.
struct RegistryBenchmark {
    let workDirectory: URL
    let cli: String
    let models: URL
    static let repetitions = 7

    init(arguments: [String]) throws {
        guard arguments.count == 3 else { throw BenchError("usage: sentinel-bench registry WORKDIR REGISTRY_CLI MODELS_DIR") }
        workDirectory = URL(fileURLWithPath: arguments[0])
        cli = arguments[1]
        models = URL(fileURLWithPath: arguments[2])
    }

    func run() throws {
        try? FileManager.default.removeItem(at: workDirectory)
        try FileManager.default.createDirectory(at: workDirectory, withIntermediateDirectories: true)
        let artifact = try makeLargeArtifact(targetBytes: 10 * 1024 * 1024)
        let artifactSize = (try FileManager.default.attributesOfItem(atPath: artifact.path)[.size] as? Int) ?? 0

        // 1. Register a 10 MB artifact: registry-cli (parse, validate, sha256, insert) vs sqlite3 readfile().
        let registerDB = workDirectory.appendingPathComponent("register.db").path
        try Registry.initialise(path: registerDB)
        let register = try median {
            try runProcess(cli, ["register", "--db", registerDB, "--model", "big", "--format", "xgboost-json", "--artifact", artifact.path])
        }
        let peerDB = workDirectory.appendingPathComponent("peer.db").path
        try runProcess("/usr/bin/sqlite3", [peerDB, "PRAGMA journal_mode=WAL; CREATE TABLE blobs (data BLOB)"])
        let peerInsert = try median {
            try runProcess("/usr/bin/sqlite3", [peerDB, "PRAGMA synchronous=FULL; INSERT INTO blobs VALUES (readfile('\(artifact.path)'))"])
        }

        // 2. A registry of 1,000 versions (the logistic example, registered through the library).
        let manyDB = workDirectory.appendingPathComponent("many.db").path
        try Registry.initialise(path: manyDB)
        let registry = try Registry.open(path: manyDB, access: .write)
        let logistic = [UInt8](try Data(contentsOf: models.appendingPathComponent("fraud-logistic/model.json")))
        let fillStart = now()
        for index in 0..<1_000 {
            try registry.register(Registration(model: "fraud", format: .logistic, artifact: logistic,
                                               metrics: ["roc_auc": 0.8 + Double(index) / 10_000, "pr_auc": 0.17],
                                               threshold: 0.1, description: "bench version \(index + 1)", createdBy: "bench"))
        }
        let fillSeconds = Double(now() - fillStart) / 1e9
        try registry.promote(VersionLabel(1_000), model: "fraud", reason: "bench", by: "bench")

        let list = try median { try runProcess(cli, ["list", "--db", manyDB]) }
        let listJSON = try median { try runProcess(cli, ["list", "--db", manyDB, "--json"]) }
        let show = try median { try runProcess(cli, ["show", "v500", "--db", manyDB]) }
        let peerList = try median { try runProcess("/usr/bin/sqlite3", [manyDB, "SELECT * FROM version_summary ORDER BY model, version"]) }
        let peerShow = try median {
            try runProcess("/usr/bin/sqlite3", [manyDB, "SELECT * FROM version_summary WHERE model = 'fraud' AND version = 'v500'"])
        }
        let noop = try median { try runProcess(cli, ["--help"]) }

        func ms(_ seconds: Double) -> String { String(format: "%8.1f ms", seconds * 1000) }
        func ratio(_ a: Double, _ b: Double) -> String { String(format: "%6.2fx", a / b) }
        print("Registry benchmark (median of \(Self.repetitions) runs, whole processes, \(ProcessInfo.processInfo.activeProcessorCount) cores)")
        print("")
        print("| operation | registry-cli | sqlite3 shell peer | ratio |")
        print("|---|---|---|---|")
        print("| register \(String(format: "%.1f", Double(artifactSize) / 1_048_576)) MB XGBoost artifact (parse + validate + sha256 + insert) | \(ms(register)) | \(ms(peerInsert)) (readfile insert) | \(ratio(register, peerInsert)) |")
        print("| list, 1,000 versions (table) | \(ms(list)) | \(ms(peerList)) (SELECT * FROM version_summary) | \(ratio(list, peerList)) |")
        print("| list --json, 1,000 versions | \(ms(listJSON)) | \(ms(peerList)) | \(ratio(listJSON, peerList)) |")
        print("| show v500 of 1,000 versions | \(ms(show)) | \(ms(peerShow)) | \(ratio(show, peerShow)) |")
        print("| registry-cli --help (process start-up floor) | \(ms(noop)) | | |")
        print("")
        print(String(format: "In-process: 1,000 registrations of the logistic model in %.2f s (%.0f registrations/s, each its own FULL-synchronous transaction).", fillSeconds, 1_000 / fillSeconds))
    }

    /// A valid XGBoost model of about `targetBytes`: the example model's trees repeated.
    private func makeLargeArtifact(targetBytes: Int) throws -> URL {
        let source = models.appendingPathComponent("fraud-xgboost/model.json")
        let sourceSize = (try FileManager.default.attributesOfItem(atPath: source.path)[.size] as? Int) ?? 1
        let copies = max(1, Int((Double(targetBytes) / Double(sourceSize)).rounded(.up)))
        var document = try JSONSerialization.jsonObject(with: Data(contentsOf: source)) as! [String: Any]
        var learner = document["learner"] as! [String: Any]
        var booster = learner["gradient_booster"] as! [String: Any]
        var model = booster["model"] as! [String: Any]
        let trees = model["trees"] as! [[String: Any]]
        var all: [[String: Any]] = []
        for copy in 0..<copies {
            for (index, var tree) in trees.enumerated() {
                tree["id"] = copy * trees.count + index
                all.append(tree)
            }
        }
        model["trees"] = all
        model["tree_info"] = [Int](repeating: 0, count: all.count)
        model["iteration_indptr"] = Array(0...all.count)
        var params = model["gbtree_model_param"] as! [String: Any]
        params["num_trees"] = "\(all.count)"
        model["gbtree_model_param"] = params
        booster["model"] = model
        learner["gradient_booster"] = booster
        document["learner"] = learner
        let url = workDirectory.appendingPathComponent("xgboost-\(all.count)-trees.json")
        try JSONSerialization.data(withJSONObject: document).write(to: url)
        return url
    }

    /// The median wall time of `body` over the repetitions.
    private func median(_ body: () throws -> Void) throws -> Double {
        var times: [Double] = []
        for _ in 0..<Self.repetitions {
            let start = now()
            try body()
            times.append(Double(now() - start) / 1e9)
        }
        return times.sorted()[times.count / 2]
    }

    @discardableResult
    private func runProcess(_ executable: String, _ arguments: [String]) throws -> Int {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let sink = FileHandle(forWritingAtPath: "/dev/null")
        process.standardOutput = sink
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchError("\(executable) \(arguments.joined(separator: " ")) failed: \(String(decoding: message, as: UTF8.self))")
        }
        return Int(process.terminationStatus)
    }
}
