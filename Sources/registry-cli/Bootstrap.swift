import ArgumentParser
import Foundation
import ModelRuntime
import Registry

extension RegistryCLI {
    struct Bootstrap: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the registry if needed and register the bundled example models it does not hold yet.",
            discussion: """
                Reads DIR/bundle.txt (one example directory per line, each with meta.json, its artifact, \
                metrics.json and golden.jsonl) and registers, in that order, every example whose artifact \
                (by sha256) is not already a version of the model. Safe to run again: a second run changes \
                nothing. The container's init step; the demo uses it too.
                """)

        @OptionGroup var options: GlobalOptions

        @Option(help: ArgumentHelp("Directory holding bundle.txt and the example directories.", valueName: "dir"))
        var models: String

        @Option(help: "The model the examples become versions of.")
        var model: String = "fraud"

        func validate() throws {
            guard !models.isEmpty else { throw ValidationError("--models must name a directory") }
        }

        func run() throws {
            _ = options.logger()
            let bundle = try ExampleBundle(directory: models)
            let actor = try options.recordedActor()
            // Every example is read and verified (artifact parsed, golden rows scored) before the
            // database is touched, and the new ones are registered in one transaction: a broken
            // example anywhere in the bundle leaves the registry as it was.
            let verified = try bundle.examples.map { example in
                do {
                    return (example, try Registry.verify(example.registration(model: model, by: actor)))
                } catch RegistryError.invalidModelName(let name) {
                    // --model's fault, not the example's.
                    throw RegistryError.invalidModelName(name)
                } catch let error as RegistryError {
                    // Which of the bundle's examples: "golden row 3" alone does not say.
                    throw BundleError(path: example.directory, reason: "is refused: \(error.description)")
                }
            }
            _ = try Registry.initialise(path: options.databasePath, busyTimeoutMilliseconds: options.busyTimeout)
            let registry = try options.openRegistry(.write)
            // Which examples the registry holds already is decided in the registering transaction:
            // two bootstraps at once (two replicas starting on one file) register each example once.
            let versions = try registry.register(verified.map(\.1), skippingHeldArtifacts: true)
            for ((example, _), version) in zip(verified, versions) {
                guard let version else { continue }
                print("registered \(version.model) \(version.label) from \(example.directory)")
            }
            let added = versions.compactMap { $0 }.count
            print("\(model): \(added) example(s) registered, \(bundle.examples.count - added) already present")
        }
    }
}

/// The example models shipped beside the binary: `bundle.txt` names their directories in order.
struct ExampleBundle {
    struct Example {
        let directory: String
        let format: ModelFormat
        let artifactPath: String
        let threshold: Double?
        let description: String?

        /// Everything `register` needs, read from the example's files.
        func registration(model: String, by actor: String) throws -> Registration {
            let metricsPath = directory + "/metrics.json"
            let goldenPath = directory + "/golden.jsonl"
            let metrics = FileManager.default.fileExists(atPath: metricsPath) ? try RegistryCLI.Register.readMetricsFile(metricsPath) : [:]
            let golden = try FileManager.default.fileExists(atPath: goldenPath) ? RegistryCLI.Register.readGolden(goldenPath) : nil
            return Registration(model: model, format: format, artifact: try RegistryCLI.Register.readArtifact(artifactPath),
                                metrics: metrics, threshold: threshold, description: description, golden: golden, createdBy: actor)
        }
    }

    let examples: [Example]

    init(directory: String) throws {
        let listPath = directory + "/bundle.txt"
        let list = try RegistryCLI.Register.readText(listPath, what: "bundle list")
        examples = try list.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            .map { try Self.example(in: directory + "/" + $0) }
        guard !examples.isEmpty else { throw BundleError(path: listPath, reason: "names no example directory") }
    }

    private static func example(in directory: String) throws -> Example {
        let metaPath = directory + "/meta.json"
        let text = try RegistryCLI.Register.readText(metaPath, what: "example meta.json")
        let meta: [String: JSONValue]
        do throws(JSONObjectError) { meta = try JSONValue.object(text.utf8) } catch { throw BundleError(path: metaPath, reason: error.description) }
        guard case .string(let formatName)? = meta["format"], let format = ModelFormat(rawValue: formatName) else {
            throw BundleError(path: metaPath, reason: "needs \"format\", one of \(ModelFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard case .string(let artifact)? = meta["artifact"], !artifact.isEmpty, !artifact.contains("/") else {
            throw BundleError(path: metaPath, reason: "needs \"artifact\", a file name in the same directory")
        }
        var threshold: Double?
        if let value = meta["threshold"] {
            guard let number = value.numberValue, number.isFinite else { throw BundleError(path: metaPath, reason: "\"threshold\" is not a number") }
            threshold = number
        }
        var description: String?
        if case .string(let text)? = meta["description"] {
            // As `register --description` is checked: `show` prints it on a line of its own.
            do { try RecordedText.check(text, option: "\"description\"") } catch { throw BundleError(path: metaPath, reason: "\(error)") }
            description = text
        }
        return Example(directory: directory, format: format, artifactPath: directory + "/" + artifact,
                       threshold: threshold, description: description)
    }
}

struct BundleError: Error, CustomStringConvertible {
    let path: String
    let reason: String
    var description: String { "example bundle: \(path) \(reason)" }
}
