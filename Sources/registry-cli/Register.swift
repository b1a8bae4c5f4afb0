import ArgumentParser
import Foundation
import ModelRuntime
import Registry

extension RegistryCLI {
    struct Register: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a new version of a model from its artifact.",
            discussion: """
                The artifact is parsed in full and, with --golden, must reproduce the training library's \
                scores to 1e-6 before anything is written. Prints the new version label (v3) as its last line.
                """)

        @OptionGroup var options: GlobalOptions

        @Option(help: "Model name (letters, digits, '.', '_', '-'); created on its first version.")
        var model: String

        @Option(help: ArgumentHelp("Artifact format: \(ModelFormat.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "format"))
        var format: String

        @Option(help: ArgumentHelp("Path of the artifact file.", valueName: "path"))
        var artifact: String

        @Option(name: .customLong("metric"), help: ArgumentHelp("A metric to record, NAME=NUMBER; repeatable.", valueName: "name=value"))
        var metrics: [String] = []

        @Option(help: ArgumentHelp("A JSON object of metrics (NAME: NUMBER) to record, such as models/*/metrics.json.", valueName: "path"))
        var metricsFile: String?

        @Option(parsing: .unconditional, help: ArgumentHelp("Decision threshold: scores at or above it are 'fraud' (default 0.5).", valueName: "t"))
        var threshold: String?

        @Option(help: "A description of this version.")
        var description: String?

        @Option(help: ArgumentHelp("JSON lines of {\"features\": {...}, \"score\": p} the version must reproduce.", valueName: "path"))
        var golden: String?

        func validate() throws {
            try RecordedText.check(description, option: "--description")
        }

        func run() throws {
            let logger = options.logger()
            guard let format = ModelFormat(rawValue: self.format) else { throw RegistryError.unknownFormat(self.format) }
            // A --metric overrides the file's value of the same name; given twice, it is refused.
            var flagged: [String: Double] = [:]
            for text in metrics {
                let (name, value) = try Self.parseMetric(text)
                guard flagged.updateValue(value, forKey: name) == nil else { throw RegistryError.duplicateMetric(name) }
            }
            let metricValues = (try metricsFile.map(Self.readMetricsFile) ?? [:]).merging(flagged) { _, flag in flag }
            var thresholdValue: Double?
            if let threshold {
                guard let value = Double(threshold), value.isFinite else { throw RegistryError.invalidThreshold(threshold) }
                thresholdValue = value
            }
            let bytes = try Self.readArtifact(artifact)
            let goldenSet = try golden.map(Self.readGolden)

            let registry = try options.openRegistry(.write)
            let version = try registry.register(Registration(
                model: model, format: format, artifact: bytes, metrics: metricValues, threshold: thresholdValue,
                description: description, golden: goldenSet, createdBy: try options.recordedActor()))
            logger.info("registered", metadata: ["model.name": "\(model)", "model.version": "\(version.label)"])
            print("registered \(version.model) \(version.label): \(version.format.rawValue), \(version.featureNames.count) features, sha256 \(version.artifactSHA256)")
            print(version.label)
        }

        /// `NAME=NUMBER`: a name `Registry.isValidMetricName` accepts and a finite number.
        static func parseMetric(_ text: String) throws -> (String, Double) {
            let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, Registry.isValidMetricName(String(parts[0])),
                  let value = Double(parts[1]), value.isFinite else {
                throw RegistryError.invalidMetric(text)
            }
            return (String(parts[0]), value)
        }

        static func readMetricsFile(_ path: String) throws -> [String: Double] {
            let text = try readText(path, what: "metrics file")
            let object: [String: JSONValue]
            do throws(JSONObjectError) { object = try JSONValue.object(text.utf8) } catch {
                throw RegistryError.metricsFileInvalid(path: path, reason: error.description)
            }
            var result: [String: Double] = [:]
            for (name, value) in object {
                guard Registry.isValidMetricName(name) else {
                    throw RegistryError.metricsFileInvalid(path: path, reason: "has a metric named \(name.debugDescription) (a name is letters, digits and _ . : -)")
                }
                guard let number = value.numberValue, number.isFinite else {
                    throw RegistryError.metricsFileInvalid(path: path, reason: "gives \(name) a value that is not a finite number")
                }
                result[name] = number
            }
            return result
        }

        static func readGolden(_ path: String) throws -> GoldenSet {
            let text = try readText(path, what: "golden file")
            do {
                return try GoldenSet(jsonLines: text)
            } catch GoldenError.unreadable(let detail) {
                throw RegistryError.goldenUnreadable(reason: "\(path): \(detail)")
            } catch {
                throw RegistryError.goldenUnreadable(reason: "\(path): \(error)")
            }
        }

        static func readArtifact(_ path: String) throws -> [UInt8] {
            let bytes = try readBytes(path, what: "artifact")
            guard !bytes.isEmpty else { throw RegistryError.artifactEmpty(path: path) }
            return bytes
        }

        static func readText(_ path: String, what: String) throws -> String {
            String(decoding: try readBytes(path, what: what), as: UTF8.self)
        }

        static func readBytes(_ path: String, what: String) throws -> [UInt8] {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw RegistryError.fileUnreadable(what: what, path: path, reason: "it does not exist")
            }
            guard !isDirectory.boolValue else { throw RegistryError.fileUnreadable(what: what, path: path, reason: "it is a directory") }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw RegistryError.fileUnreadable(what: what, path: path, reason: access(path, R_OK) == 0 ? "it is not a regular file" : "permission denied")
            }
            return [UInt8](data)
        }
    }
}
