import ArgumentParser
import Foundation
import ModelRuntime
import Registry
import Serving

extension RegistryCLI {
    struct Score: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Score JSON lines of features with a version (the active one by default).",
            discussion: """
                Each input line is a JSON object of features by name (null for missing), or an object with a \
                "features" member (and optionally "request_id"; other members are ignored, except "model" and \
                "instances", which are refused). Each output line is {"line", "request_id", \
                "model", "version", "score", "decision"} or {"line", "error"}. Every scored line is written to \
                the audit log unless --no-audit is given. Exits non-zero if any line was refused.
                """)

        @OptionGroup var options: GlobalOptions

        @Option(help: ArgumentHelp("JSON-lines input file, or - for standard input.", valueName: "file"))
        var input: String

        @Option(help: "The model (may be left out when the registry holds one).")
        var model: String?

        @Option(help: "Score with this version instead of the active one.")
        var version: String?

        @Flag(help: "Do not record the predictions in the audit log.")
        var noAudit = false

        @Flag(help: "No progress line on a terminal.")
        var quiet = false

        /// Audit records are committed in groups of this many rows.
        static let auditBatchSize = 1_000

        func run() throws {
            let registry = try options.openRegistry(noAudit ? .read : .write)
            let name = try registry.resolveModel(model)
            let chosen: ModelVersion
            if let version {
                chosen = try registry.version(VersionLabel(parsing: version), model: name)
            } else {
                guard let active = try registry.activeVersion(model: name) else { throw RegistryError.noActiveVersion(model: name) }
                chosen = active
            }
            let loaded = try LoadedVersion(registry.loadable(chosen))
            var isDirectory: ObjCBool = false
            if input != "-", FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory), isDirectory.boolValue {
                throw RegistryError.fileUnreadable(what: "input file", path: input, reason: "it is a directory")
            }
            guard let reader = LineReader(path: input) else {
                throw RegistryError.fileUnreadable(what: "input file", path: input, reason: "it cannot be opened (missing, or permissions?)")
            }

            let runID = "score-" + UUID().uuidString.lowercased()
            let progress = ProgressLine(enabled: !quiet && isatty(STDERR_FILENO) == 1)
            var pending: [AuditRecord] = []
            var refused = 0
            var lineNumber = 0
            var output = ""
            while let bytes = reader.next() {
                lineNumber += 1
                let line = String(validating: bytes, as: UTF8.self)
                if let line, line.allSatisfy(\.isWhitespace) { continue }
                let started = DispatchTime.now().uptimeNanoseconds
                switch Self.score(line, with: loaded) {
                case .failure(let message):
                    refused += 1
                    output += Self.jsonLine(["line": lineNumber, "error": message]) + "\n"
                case .success(let row, let requestID, let score):
                    let decision = loaded.decision(for: score)
                    let latency = Int((DispatchTime.now().uptimeNanoseconds - started) / 1_000)
                    let id = requestID ?? runID
                    output += Self.jsonLine([
                        "line": lineNumber, "request_id": id, "model": chosen.model,
                        "version": chosen.label.description, "score": score, "decision": decision.rawValue,
                    ]) + "\n"
                    if !noAudit {
                        let features = row.withUnsafeBufferPointer { loaded.featureJSON.object(row: $0) }
                        pending.append(AuditRecord(predictedAt: Timestamp.now(), requestID: id, rowIndex: requestID == nil ? lineNumber - 1 : 0,
                                                   versionID: chosen.id, featuresJSON: features, score: score,
                                                   decision: decision, latencyMicroseconds: latency))
                    }
                }
                // Records are committed before their results are printed: no output without a record.
                if pending.count >= Self.auditBatchSize || output.utf8.count >= 1 << 16 {
                    try registry.appendAudit(pending)
                    pending.removeAll(keepingCapacity: true)
                    try writeResults(output, scoredUpTo: lineNumber)
                    output = ""
                }
                progress.update(lineNumber)
            }
            try registry.appendAudit(pending)
            try writeResults(output, scoredUpTo: lineNumber)
            progress.finish(lineNumber)
            if refused > 0 {
                throw ScoreFailure(refused: refused, total: lineNumber)
            }
        }

        /// Writes results whose records are committed. Foundation's `FileHandle.write(_:)` traps on a
        /// failed write (a full disk), so this one throws, saying which lines are recorded. (A closed
        /// pipe, `| head`, ends the process by SIGPIPE first, as it ends any filter.)
        func writeResults(_ output: String, scoredUpTo line: Int) throws(ScoreOutputError) {
            do {
                try FileHandle.standardOutput.write(contentsOf: Data(output.utf8))
            } catch {
                throw ScoreOutputError(line: line, recorded: !noAudit, reason: (error as NSError).localizedDescription)
            }
        }

        /// One input line scored, or why it could not be.
        enum Scored {
            case success(row: [Double], requestID: String?, score: Double)
            case failure(String)
        }

        /// Members that mean something in a `POST /predict` body but are not read from a line here:
        /// ignoring them would score the line with another model than asked for, or one of a batch.
        static let predictOnlyMembers: [(name: String, instead: String)] = [
            ("model", "choose the model with --model"), ("instances", "give one instance per line"),
        ]

        /// Scores one line (nil: not valid UTF-8).
        static func score(_ line: String?, with loaded: LoadedVersion) -> Scored {
            guard let line else { return .failure("the line is not valid UTF-8") }
            // C's string functions would end the line there, and JSON has no place for a raw NUL.
            guard !line.utf8.contains(0) else { return .failure("the line contains a NUL byte") }
            let object: [String: JSONValue]
            do throws(JSONObjectError) { object = try JSONValue.object(line.utf8) } catch { return .failure("the line \(error)") }
            var requestID: String?
            if let member = object["request_id"] {
                // Kept in the audit log as the service keeps it, so under the service's rule.
                guard let id = member.stringValue else { return .failure("\"request_id\" must be a string") }
                if let problem = RequestID.problem(with: id) { return .failure(problem) }
                requestID = id
            }
            if object["features"] != nil, let member = predictOnlyMembers.first(where: { object[$0.name] != nil }) {
                return .failure("\"\(member.name)\" is not read from a line here: \(member.instead)")
            }
            // Other members beside "features" are ignored, so that a golden file (with each row's
            // reference "score") scores as it is.
            let rawFeatures: [String: JSONValue]
            if let member = object["features"] {
                guard let features = member.objectValue else { return .failure("\"features\" must be an object of features by name") }
                rawFeatures = features
            } else {
                rawFeatures = object.filter { $0.key != "request_id" }
            }
            let row: [Double]
            do throws(FeatureError) {
                row = try loaded.rows.row(from: FeatureValues.read(rawFeatures))
            } catch {
                return .failure(error.description)
            }
            do throws(UnscorableRow) {
                return .success(row: row, requestID: requestID, score: try loaded.model.checkedScore(row))
            } catch {
                return .failure(error.description)
            }
        }

        static func jsonLine(_ object: [String: Any]) -> String {
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
            return String(decoding: data, as: UTF8.self)
        }
    }
}

struct ScoreFailure: Error, CustomStringConvertible {
    let refused: Int
    let total: Int
    var description: String { "\(refused) of \(total) input lines were refused (see their \"error\" output lines)" }
}

/// Standard output could not be written: the lines scored up to `line` are recorded nonetheless,
/// unless `--no-audit` said not to.
struct ScoreOutputError: Error, CustomStringConvertible {
    let line: Int
    let recorded: Bool
    let reason: String
    var description: String {
        let lines = recorded ? "the lines scored up to input line \(line) are in the audit log" : "scored up to input line \(line)"
        return "standard output cannot be written (\(reason)): \(lines), their results are not all printed"
    }
}

/// Reads a file or standard input line by line without loading it whole.
final class LineReader {
    private let file: UnsafeMutablePointer<FILE>
    private let closeOnDeinit: Bool

    init?(path: String) {
        if path == "-" {
            file = fdopen(STDIN_FILENO, "r")
            closeOnDeinit = false
        } else {
            guard let opened = fopen(path, "r") else { return nil }
            file = opened
            closeOnDeinit = true
        }
    }

    deinit { if closeOnDeinit { fclose(file) } }

    /// The next line's bytes without its newline, all of them: a NUL inside is kept, for the
    /// caller to refuse, not taken for the line's end.
    func next() -> [UInt8]? {
        var buffer: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(buffer) }
        let length = getline(&buffer, &capacity, file)
        guard length >= 0, let buffer else { return nil }
        var line = buffer.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
        if line.last == UInt8(ascii: "\n") { line.removeLast() }
        return line
    }
}

/// A one-line progress counter on stderr, for large inputs on a terminal.
struct ProgressLine {
    let enabled: Bool
    private let started = DispatchTime.now().uptimeNanoseconds

    init(enabled: Bool) { self.enabled = enabled }

    func update(_ count: Int) {
        guard enabled, count % 10_000 == 0 else { return }
        FileHandle.standardError.write(Data("\rscored \(count) lines (\(rate(count)) lines/s)".utf8))
    }

    func finish(_ count: Int) {
        guard enabled, count >= 10_000 else { return }
        FileHandle.standardError.write(Data("\rscored \(count) lines (\(rate(count)) lines/s)\n".utf8))
    }

    private func rate(_ count: Int) -> Int {
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return seconds > 0 ? Int(Double(count) / seconds) : 0
    }
}
